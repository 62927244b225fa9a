"""Learning without Forgetting (Li and Hoiem, 2016): distil the previous model's outputs.

After each experience a frozen copy of the model is kept. On the next experiences every
minibatch also goes through that copy, and the new model is pulled towards its softened
outputs on the *old* units only: the classes of earlier experiences or, with a multi-head
model, every head of an earlier task, applied to the new data (summed over those heads):

    loss += alpha * KL( softmax(old / T) || softmax(new / T) ),   averaged over the rows,

``distillation_loss`` below, without the ``T^2`` factor of Hinton et al. (as Avalanche).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cltutor._checks import check_number
from cltutor.callbacks import SupervisedPlugin
from cltutor.models import MultiTaskModule, model_output
from cltutor.strategies.arguments import check_plugins
from cltutor.strategies.base import Naive
from cltutor.strategies.regularization.ewc import check_lambda

__all__ = ["distillation_loss", "LwFPlugin", "LwF"]


def distillation_loss(new_logits: Tensor, old_logits: Tensor, temperature: float) -> Tensor:
    """``KL(softmax(old / T) || softmax(new / T))``, the mean over rows of
    ``sum_c q_c (log q_c - log p_c)`` with ``q = softmax(old / T)``, ``p = softmax(new / T)``.

    Examples
    --------
    >>> logits = torch.tensor([[2.0, 0.0]])
    >>> float(distillation_loss(logits, logits, temperature=2.0))
    0.0
    """
    log_p = F.log_softmax(new_logits / temperature, dim=1)
    log_q = F.log_softmax(old_logits / temperature, dim=1)  # as logs: exactly 0 when equal
    return F.kl_div(log_p, log_q, reduction="batchmean", log_target=True)


class LwFPlugin(SupervisedPlugin):
    """Adds LwF's distillation term to every training loss after the first experience.

    Parameters
    ----------
    alpha : float, default 1
        Weight of the distillation term, >= 0.
    temperature : float, default 2
        Softening of both distributions, > 0.

    Attributes
    ----------
    prev_model : nn.Module or None
        The frozen copy from the end of the last experience.
    old_classes : list of int
        The output units distilled (single-head models).

    Examples
    --------
    >>> plugin = LwFPlugin(alpha=1, temperature=2)
    >>> plugin.prev_model is None
    True
    """

    def __init__(self, alpha: float = 1.0, temperature: float = 2.0) -> None:
        check_lambda("alpha", alpha)
        check_number("temperature", temperature, "Try temperature=2.", low=0, low_open=True)
        self.alpha, self.temperature = alpha, temperature
        self.prev_model: nn.Module | None = None
        self.old_classes: list[int] = []
        self._units = torch.zeros(0, dtype=torch.long)  # old_classes as an index tensor

    def penalty(self, strategy: Any) -> Tensor | float:
        """``alpha * distillation_loss`` on the old units of the current minibatch."""
        x, new = strategy.mb_x, strategy.mb_output
        if isinstance(self.prev_model, MultiTaskModule):  # each old head, on the new data
            penalty = 0.0
            for task in sorted(self.prev_model.known_train_tasks_labels):
                with torch.no_grad():
                    old = self.prev_model(x, task)
                penalty = penalty + distillation_loss(strategy.model(x, task), old,
                                                      self.temperature)
            return self.alpha * penalty
        units = self._units.to(x.device)  # no copy once it is there
        with torch.no_grad():
            old = model_output(self.prev_model, x, strategy.mb_task_id)
        return self.alpha * distillation_loss(new.index_select(1, units),
                                              old.index_select(1, units), self.temperature)

    def before_backward(self, strategy: Any, **kwargs: Any) -> None:
        if self.prev_model is not None and self.alpha > 0:
            strategy.loss = strategy.loss + self.penalty(strategy)

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        self.prev_model = copy.deepcopy(strategy.model).eval()
        for p in self.prev_model.parameters():
            p.requires_grad_(False)
        seen = set(self.old_classes) | set(strategy.experience.classes_in_this_experience)
        self.old_classes = sorted(seen)
        self._units = torch.tensor(self.old_classes, device=strategy.device)


class LwF(Naive):
    """Naive with an :class:`LwFPlugin`.

    Examples
    --------
    >>> from cltutor import SimpleMLP
    >>> model = SimpleMLP(input_size=64)
    >>> strategy = LwF(model, torch.optim.SGD(model.parameters(), lr=0.05), alpha=1,
    ...                temperature=2, evaluator=None, device="cpu")
    >>> type(strategy.plugins[-1]).__name__
    'LwFPlugin'
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, criterion: Any = None,
                 alpha: float = 1.0, temperature: float = 2.0,
                 plugins: Sequence[SupervisedPlugin] | None = None, **naive_kwargs: Any) -> None:
        self.lwf_plugin = LwFPlugin(alpha, temperature)
        plugins = [*check_plugins(plugins), self.lwf_plugin]
        super().__init__(model, optimizer, criterion, plugins=plugins, **naive_kwargs)
