"""Dark Experience Replay (Buzzega et al., 2020): replay the logits, not only the labels.

A reservoir (Algorithm R, updated every minibatch) keeps ``(x, y, t, logits)``, where
``logits`` are what the model output for ``x`` when it trained on it. The loss of a
minibatch is then::

    CE(new rows)  +  alpha * MSE(f(x_m), logits_m)  +  beta * CE(f(x_m'), y_m')

with ``(x_m, logits_m)`` and ``(x_m', y_m')`` two independent draws from the memory.
The MSE term (DER) asks the network to keep *answering* the old inputs as it did, a
distillation towards its own past; the second term (DER++, ``beta > 0``) adds plain
replay of the labels, which corrects logits stored before a class was well learnt.

The defaults are Avalanche's, ``alpha=0.1`` and ``beta=0.5`` (DER++). The MSE is the
mean over rows *and* classes, so a small ``alpha`` weighs it lightly: on class-incremental
SplitDigits (the settings of ``benchmarks/README.md``) DER alone needs ``alpha`` near 1,
while DER++ does well at 0.1, where its label term carries the replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from cltutor._checks import check_number, check_positive_int, check_seed
from cltutor.callbacks import SupervisedPlugin
from cltutor.memory import ReservoirMemory
from cltutor.models import model_output
from cltutor.strategies.arguments import check_plugins
from cltutor.strategies.base import Naive

__all__ = ["der_loss", "DERPlugin", "DER"]


def der_loss(logits_out: Tensor, logits_stored: Tensor, labels_out: Tensor | None = None,
             labels: Tensor | None = None, alpha: float = 0.1, beta: float = 0.0) -> Tensor:
    """The memory terms: ``alpha * MSE(logits_out, logits_stored) + beta * CE(labels_out, labels)``.

    The MSE is the mean over every entry (rows and classes), as ``F.mse_loss``. The CE term
    is skipped when ``beta == 0`` (DER).

    Examples
    --------
    >>> out, stored = torch.zeros(2, 3), torch.ones(2, 3)
    >>> float(der_loss(out, stored, alpha=0.5))
    0.5
    """
    loss = alpha * F.mse_loss(logits_out, logits_stored)
    if beta:
        loss = loss + beta * F.cross_entropy(labels_out, labels)
    return loss


class DERPlugin(SupervisedPlugin):
    """DER (``beta=0``) or DER++ (``beta > 0``) as a plugin.

    Parameters
    ----------
    mem_size : int, default 200
    batch_size_mem : int, optional
        Rows per memory draw; None uses the strategy's ``train_mb_size``.
    alpha : float, default 0.1
        Weight of the logit-matching term (with ``beta=0``, try ``alpha=1``).
    beta : float, default 0.5
        Weight of the label-replay term; 0 gives DER.
    seed : int, optional
        Seeds the reservoir and the draws.

    Examples
    --------
    >>> import torch
    >>> from cltutor import Naive, SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> model = SimpleMLP(num_classes=10, input_size=64)
    >>> der = DERPlugin(mem_size=50, seed=0)
    >>> strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05), train_mb_size=32,
    ...                  plugins=[der], evaluator=None, device="cpu", seed=0)
    >>> _ = strategy.train(bm.train_stream[0])
    >>> der.memory.fields["logits"].shape
    torch.Size([50, 10])

    Notebook ``11_beyond_replay.ipynb`` compares DER++ with replay.
    """

    def __init__(self, mem_size: int = 200, batch_size_mem: int | None = None,
                 alpha: float = 0.1, beta: float = 0.5, seed: int | None = None) -> None:
        check_positive_int("mem_size", mem_size, "Use mem_size=200 for a small memory.")
        check_positive_int("batch_size_mem", batch_size_mem,
                           "None uses the strategy's train_mb_size.", allow_none=True)
        check_number("alpha", alpha, "Use alpha=0.1.", low=0.0)
        check_number("beta", beta, "Use beta=0.5 for DER++, 0 for DER.", low=0.0)
        check_seed(seed)
        self.mem_size = mem_size
        self.batch_size_mem = batch_size_mem
        self.alpha = alpha
        self.beta = beta
        self.seed = seed
        self.memory = ReservoirMemory(mem_size, seed=seed)
        self._new: list[Tensor] | None = None

    def before_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        self._new = list(strategy.mbatch)  # [x, y, t], before any plugin adds rows

    def after_forward(self, strategy: Any, **kwargs: Any) -> None:
        """The logits to store: the model's output on the new rows, before this update."""
        self._new.append(strategy.mb_output[: len(self._new[0])].detach())

    def before_backward(self, strategy: Any, **kwargs: Any) -> None:
        """Add the memory terms to the loss (one forward pass over both draws)."""
        if len(self.memory) == 0:
            return
        k = self.batch_size_mem or strategy.train_mb_size
        first = self.memory.sample(k)
        draws = [first, self.memory.sample(k)] if self.beta else [first]
        x = torch.cat([d["x"] for d in draws])
        t = torch.cat([d["t"] for d in draws])
        out = model_output(strategy.model, x, t)  # (k or 2k, n_classes)
        n = len(first["x"])
        width = first["logits"].shape[1]
        second = draws[-1]
        strategy.loss = strategy.loss + der_loss(out[:n, :width], first["logits"],
                                                 out[n:], second["y"], self.alpha, self.beta)

    def after_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        """Offer the new rows and their logits to the reservoir."""
        x, y, t, logits = self._new
        self.memory.update(x=x, y=y, t=t, logits=logits)
        self._new = None


class DER(Naive):
    """``Naive`` plus a :class:`DERPlugin` (Avalanche's ``DER``; DER++ when ``beta > 0``).

    Examples
    --------
    >>> import torch
    >>> from cltutor import SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> model = SimpleMLP(num_classes=10, input_size=64)
    >>> strategy = DER(model, torch.optim.SGD(model.parameters(), lr=0.05), mem_size=100,
    ...                alpha=0.1, beta=0.5, train_mb_size=32, evaluator=None, device="cpu",
    ...                seed=0)
    >>> for exp in bm.train_stream[:2]:
    ...     _ = strategy.train(exp)
    >>> len(strategy.der_plugin.memory)
    100
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, criterion: Any = None,
                 mem_size: int = 200, batch_size_mem: int | None = None, alpha: float = 0.1,
                 beta: float = 0.5, plugins: Sequence[SupervisedPlugin] | None = None,
                 seed: int | None = None, **naive_kwargs: Any) -> None:
        check_seed(seed)
        plugins = check_plugins(plugins)
        plugin_seed = None if seed is None else (seed + 1) % 2**64
        self.der_plugin = DERPlugin(mem_size, batch_size_mem, alpha, beta, seed=plugin_seed)
        super().__init__(model, optimizer, criterion, plugins=[*plugins, self.der_plugin],
                         seed=seed, **naive_kwargs)
