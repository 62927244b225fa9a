"""The evaluation layer: one accuracy matrix per stream, the metrics and the loggers.

- :mod:`~cltutor.evaluation.metrics`: pure functions of the accuracy matrix (average
  accuracy, forgetting, BWT, FWT).
- :mod:`~cltutor.evaluation.metric_names`: the ``*_metrics`` pickers, metric names and
  ``results_to_dataframe``.
- :mod:`~cltutor.evaluation.tally`: ``Tally``, the device-side sums of hits and losses.
- :mod:`~cltutor.evaluation.plugin`: ``EvaluationPlugin``, which fills the matrix.
- :mod:`~cltutor.evaluation.loggers`: ``InteractiveLogger`` (progress bars), ``TextLogger``,
  ``CSVLogger``, ``TensorboardLogger`` (needs ``tensorboard``).
- :mod:`~cltutor.evaluation.probe`: ``linear_probe``: is the forgetting in the features or
  in the head?
"""

from cltutor.evaluation.loggers import (
    BaseLogger,
    CSVLogger,
    InteractiveLogger,
    TensorboardLogger,
    TextLogger,
)
from cltutor.evaluation.metric_names import (
    Metric,
    accuracy_metrics,
    bwt_metrics,
    forgetting_metrics,
    forward_transfer_metrics,
    loss_metrics,
    results_to_dataframe,
)
from cltutor.evaluation.metrics import (
    average_accuracy,
    average_forgetting,
    average_forward_transfer,
    backward_transfer,
    forgetting,
    forward_transfer,
    seen_average_accuracy,
)
from cltutor.evaluation.plugin import EvaluationPlugin, default_evaluator
from cltutor.evaluation.probe import ProbeResult, linear_probe

__all__ = [
    "BaseLogger",
    "InteractiveLogger",
    "TextLogger",
    "CSVLogger",
    "TensorboardLogger",
    "Metric",
    "accuracy_metrics",
    "loss_metrics",
    "forgetting_metrics",
    "bwt_metrics",
    "forward_transfer_metrics",
    "average_accuracy",
    "seen_average_accuracy",
    "forgetting",
    "average_forgetting",
    "backward_transfer",
    "forward_transfer",
    "average_forward_transfer",
    "results_to_dataframe",
    "EvaluationPlugin",
    "default_evaluator",
    "ProbeResult",
    "linear_probe",
]
