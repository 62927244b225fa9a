"""Synaptic Intelligence (Zenke et al., 2017): importance from the path each parameter took.

One implementation, used by the ``SynapticIntelligence`` strategy and by AR1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from cltutor._checks import check_number
from cltutor.callbacks import SupervisedPlugin
from cltutor.strategies.arguments import check_plugins
from cltutor.strategies.base import Naive

__all__ = ["SynapticIntelligencePlugin", "SynapticIntelligence"]


class SynapticIntelligencePlugin(SupervisedPlugin):
    """Synaptic Intelligence (Zenke et al., 2017): a penalty weighted by path importance.

    During an experience each trainable parameter accumulates the path integral
    ``trajectory += grad * (theta_new - theta_old)`` over the optimizer's steps. At its end,
    ``cum += trajectory / ((theta_end - theta_start)^2 + eps)`` and the importance becomes
    ``Omega = max(-cum, 0)`` (capped at ``clip_to`` when given); later losses get

        si_lambda * sum_i Omega_i (theta_i - theta*_i)^2,

    the paper's ``c`` being ``si_lambda`` and ``theta*`` the parameters at the end of the
    last experience. A loss that went down along the path gives ``trajectory < 0``, so an
    importance is never negative (Avalanche clamps only from above, which lets one turn
    into a reward for moving).

    Parameters
    ----------
    si_lambda : float
        Penalty strength ``c``, >= 0.
    eps : float, default 0.1
        The damping ``xi`` added to the squared total change. Zenke et al. used 0.1;
        Avalanche's default, 1e-7, lets a parameter that ends where it started (an
        oscillation under momentum) get an importance near ``1e7 * omega``, and on the
        bundled digits at lr 0.05 with momentum 0.9 every ``si_lambda`` from 0.01 to 1
        then diverged (accuracy 0.10), while 0.1 gives 0.73 on PermutedDigits.
    excluded_parameters : sequence of str, default ()
        Name prefixes left out (AR1 leaves out "output", which CWR* handles).
    clip_to : float, optional
        Upper bound of the importance (AR1 uses 0.001); None: no bound.

    Examples
    --------
    >>> plugin = SynapticIntelligencePlugin(si_lambda=1.0)
    >>> plugin.si_lambda, plugin.eps, plugin.clip_to
    (1.0, 0.1, None)

    AR1 uses it with ``ewc_lambda``: notebook ``07_ar1_latent_replay.ipynb`` turns it on.
    """

    def __init__(
        self,
        si_lambda: float,
        eps: float = 0.1,
        excluded_parameters: Sequence[str] = (),
        clip_to: float | None = None,
    ) -> None:
        check_number("si_lambda", si_lambda, "Try si_lambda=1.0, or 0 for no penalty.", low=0)
        check_number("eps", eps, "Try eps=0.1.", low=0, low_open=True)
        if clip_to is not None:
            check_number("clip_to", clip_to, "Try clip_to=0.001, or None.", low=0, low_open=True)
        if isinstance(excluded_parameters, str) or not all(
            isinstance(e, str) for e in excluded_parameters
        ):  # a str would be read letter by letter
            raise TypeError(
                f"excluded_parameters must be a sequence of parameter-name prefixes (str), got "
                f"{excluded_parameters!r}. Write excluded_parameters=('output',)."
            )
        self.si_lambda, self.eps, self.clip_to = si_lambda, eps, clip_to
        self.excluded_parameters = tuple(excluded_parameters)
        self.importance: dict[str, Tensor] = {}
        self.anchor: dict[str, Tensor] = {}  # parameters at the end of their last experience
        self.cum_trajectory: dict[str, Tensor] = {}
        self.params: dict[str, nn.Parameter] = {}

    def _excluded(self, name: str) -> bool:
        return any(name == e or name.startswith(e + ".") for e in self.excluded_parameters)

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        named = strategy.model.named_parameters()
        self.params = {n: p for n, p in named if p.requires_grad and not self._excluded(n)}
        for n, p in self.params.items():
            if n not in self.importance:
                self.importance[n] = torch.zeros_like(p.detach())
                self.cum_trajectory[n] = torch.zeros_like(p.detach())
                self.anchor[n] = p.detach().clone()
        self.exp_start = {n: p.detach().clone() for n, p in self.params.items()}
        self.trajectory = {n: torch.zeros_like(p.detach()) for n, p in self.params.items()}

    def before_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        self.step_start = {n: p.detach().clone() for n, p in self.params.items()}

    def penalty(self) -> Tensor | float:
        """``sum(importance * (theta - anchor)^2)`` over the trainable parameters."""
        return sum(
            (self.importance[n] * (p - self.anchor[n]) ** 2).sum() for n, p in self.params.items()
        )

    def before_backward(self, strategy: Any, **kwargs: Any) -> None:
        if self.si_lambda > 0:
            strategy.loss = strategy.loss + self.si_lambda * self.penalty()

    @torch.no_grad()
    def after_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        for n, p in self.params.items():
            if p.grad is not None:
                self.trajectory[n] += p.grad * (p - self.step_start[n])

    @torch.no_grad()
    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        for n, p in self.params.items():
            moved = (p - self.exp_start[n]) ** 2
            self.cum_trajectory[n] += self.trajectory[n] / (moved + self.eps)
            # the loss went down along the path -> trajectory < 0 -> importance > 0
            self.importance[n] = (-self.cum_trajectory[n]).clamp(0.0, self.clip_to)  # None: none
            self.anchor[n] = p.detach().clone()


class SynapticIntelligence(Naive):
    """Naive with a :class:`SynapticIntelligencePlugin`.

    Examples
    --------
    >>> from cltutor import SimpleMLP
    >>> model = SimpleMLP(input_size=64)
    >>> strategy = SynapticIntelligence(model, torch.optim.SGD(model.parameters(), lr=0.05),
    ...                                 si_lambda=1.0, evaluator=None, device="cpu")
    >>> type(strategy.plugins[-1]).__name__
    'SynapticIntelligencePlugin'
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, criterion: Any = None,
                 si_lambda: float = 1.0, eps: float = 0.1,
                 plugins: Sequence[SupervisedPlugin] | None = None, **naive_kwargs: Any) -> None:
        self.si_plugin = SynapticIntelligencePlugin(si_lambda, eps)
        plugins = [*check_plugins(plugins), self.si_plugin]
        super().__init__(model, optimizer, criterion, plugins=plugins, **naive_kwargs)
