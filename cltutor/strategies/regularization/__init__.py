"""Regularisation and distillation: penalties that protect what earlier experiences taught.

- :mod:`~cltutor.strategies.regularization.ewc`: ``fisher_diagonal``, ``ewc_penalty``,
  ``merge_penalty_terms``,
  ``EWCPlugin`` / ``EWC`` (separate and online).
- :mod:`~cltutor.strategies.regularization.si`: ``SynapticIntelligencePlugin`` /
  ``SynapticIntelligence`` (AR1 uses the same plugin).
- :mod:`~cltutor.strategies.regularization.lwf`: ``distillation_loss``, ``LwFPlugin`` / ``LwF``.
"""

from cltutor.strategies.regularization.ewc import (
    EWC,
    EWCPlugin,
    ewc_penalty,
    fisher_diagonal,
    merge_penalty_terms,
)
from cltutor.strategies.regularization.lwf import LwF, LwFPlugin, distillation_loss
from cltutor.strategies.regularization.si import SynapticIntelligence, SynapticIntelligencePlugin

__all__ = ["EWC", "EWCPlugin", "ewc_penalty", "fisher_diagonal", "merge_penalty_terms", "LwF",
           "LwFPlugin", "distillation_loss", "SynapticIntelligence", "SynapticIntelligencePlugin"]
