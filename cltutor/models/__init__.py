"""Small models for the tutorials, each split into ``features`` and a ``classifier`` head.

The split matters for continual learning: feature-based exemplar selection reads
the ``features`` output, and latent replay freezes the lower layers.

- :mod:`~cltutor.models.simple`: ``SimpleMLP``, ``SimpleCNN``.
- :mod:`~cltutor.models.multitask`: ``MultiTaskModule``, ``MultiHeadClassifier``,
  ``MTSimpleMLP`` (task-incremental learning: one head per task).
- :mod:`~cltutor.models.batch_renorm`: ``BatchRenorm2D``.
- :mod:`~cltutor.models.latent`: ``LatentReplayNet``, AR1's network.
- :mod:`~cltutor.models.ncm`: ``NCMClassifier`` (iCaRL's nearest mean of exemplars),
  ``TrainEvalModel``, ``class_means``.
"""

from cltutor.models.batch_renorm import BatchRenorm2D
from cltutor.models.latent import LatentReplayNet
from cltutor.models.multitask import (
    MTSimpleMLP,
    MultiHeadClassifier,
    MultiTaskModule,
    adapt_model,
    add_new_parameters,
    model_output,
)
from cltutor.models.ncm import NCMClassifier, TrainEvalModel, class_means
from cltutor.models.simple import SimpleCNN, SimpleMLP, count_parameters

__all__ = [
    "SimpleMLP",
    "SimpleCNN",
    "count_parameters",
    "MultiTaskModule",
    "MultiHeadClassifier",
    "MTSimpleMLP",
    "model_output",
    "adapt_model",
    "add_new_parameters",
    "BatchRenorm2D",
    "LatentReplayNet",
    "NCMClassifier",
    "TrainEvalModel",
    "class_means",
]
