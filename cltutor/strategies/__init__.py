"""Continual-learning strategies: ``Naive`` (the training loop) plus plugins, one short file each.

- :mod:`~cltutor.strategies.base`: ``Naive``, its ``Clock`` and periodic evaluation.
- :mod:`~cltutor.strategies.arguments`: the checks of what a strategy is given (device,
  experiences, plugins, evaluator).
- :mod:`~cltutor.strategies.replay`: ``ReplayPlugin`` / ``Replay``.
- :mod:`~cltutor.strategies.agem`: ``project_gradient``, ``AGEMPlugin`` / ``AGEM``.
- :mod:`~cltutor.strategies.regularization`: ``EWC``, ``SynapticIntelligence``, ``LwF`` and
  their plugins and pure functions.
- :mod:`~cltutor.strategies.replay_family`: ``OnlineReplay``, ``GDumb``, ``DER`` (DER++),
  ``ICaRL`` and their plugins.
- :mod:`~cltutor.strategies.bounds`: the upper bounds ``Cumulative`` and ``JointTraining``.
- :mod:`~cltutor.strategies.ar1` and :mod:`~cltutor.strategies.ar1_plugins`: ``AR1`` latent
  replay with CWR* and Synaptic Intelligence.
"""

from cltutor.strategies.agem import AGEM, AGEMPlugin, project_gradient
from cltutor.strategies.ar1 import AR1, ar1_minibatch_sizes
from cltutor.strategies.ar1_plugins import (
    CWRStarPlugin,
    SynapticIntelligencePlugin,
    cwr_consolidate,
)
from cltutor.strategies.base import Clock, Naive
from cltutor.strategies.bounds import Cumulative, JointTraining
from cltutor.strategies.regularization import (
    EWC,
    EWCPlugin,
    LwF,
    LwFPlugin,
    SynapticIntelligence,
    distillation_loss,
    ewc_penalty,
    fisher_diagonal,
    merge_penalty_terms,
)
from cltutor.strategies.replay import Replay, ReplayPlugin
from cltutor.strategies.replay_family import (
    DER,
    DERPlugin,
    GDumb,
    GDumbPlugin,
    ICaRL,
    OnlineReplay,
    OnlineReplayPlugin,
    der_loss,
    icarl_loss,
    reset_weights,
)

__all__ = [
    "Clock",
    "Naive",
    "Replay",
    "ReplayPlugin",
    "AGEM",
    "AGEMPlugin",
    "project_gradient",
    "AR1",
    "ar1_minibatch_sizes",
    "CWRStarPlugin",
    "SynapticIntelligencePlugin",
    "cwr_consolidate",
    "EWC",
    "EWCPlugin",
    "ewc_penalty",
    "fisher_diagonal",
    "merge_penalty_terms",
    "SynapticIntelligence",
    "LwF",
    "LwFPlugin",
    "distillation_loss",
    "Cumulative",
    "JointTraining",
    "OnlineReplay",
    "OnlineReplayPlugin",
    "GDumb",
    "GDumbPlugin",
    "reset_weights",
    "DER",
    "DERPlugin",
    "der_loss",
    "ICaRL",
    "icarl_loss",
]
