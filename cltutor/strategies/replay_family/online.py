"""Online experience replay: a reservoir updated after every minibatch (Algorithm R).

In online continual learning each sample is seen once, in small batches, so there is no
"end of the experience" at which to choose exemplars. Experience replay then becomes: for
every incoming minibatch, draw ``batch_size_mem`` rows from the memory, train on both,
and offer the new rows to the reservoir (:func:`~cltutor.memory.algorithm_r_slots`), which
keeps each of the ``n`` rows seen so far with probability ``M / n``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cltutor._checks import check_positive_int, check_seed
from cltutor.callbacks import SupervisedPlugin
from cltutor.memory import ReservoirMemory
from cltutor.strategies.arguments import check_plugins
from cltutor.strategies.base import Naive

__all__ = ["OnlineReplayPlugin", "OnlineReplay"]


class OnlineReplayPlugin(SupervisedPlugin):
    """Replay from a reservoir that every minibatch updates.

    Each training minibatch gets ``batch_size_mem`` memory rows appended (once the memory
    holds any), and after the update its own new rows are offered to the reservoir.

    Parameters
    ----------
    mem_size : int, default 200
    batch_size_mem : int, optional
        Memory rows per minibatch; None uses the strategy's ``train_mb_size``.
    seed : int, optional
        Seeds the reservoir and the memory draws; None uses torch's global generator.

    Examples
    --------
    >>> import torch
    >>> from cltutor import Naive, SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> model = SimpleMLP(num_classes=10, input_size=64)
    >>> er = OnlineReplayPlugin(mem_size=50, seed=0)
    >>> strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05), train_mb_size=10,
    ...                  plugins=[er], evaluator=None, device="cpu", seed=0)
    >>> _ = strategy.train(bm.train_stream[0])
    >>> len(er.memory), er.memory.n_seen == len(bm.train_stream[0].dataset)
    (50, True)

    Notebook ``11_beyond_replay.ipynb`` trains it on a stream seen once.
    """

    def __init__(self, mem_size: int = 200, batch_size_mem: int | None = None,
                 seed: int | None = None) -> None:
        check_positive_int("mem_size", mem_size, "Use mem_size=200 for a small memory.")
        check_positive_int("batch_size_mem", batch_size_mem,
                           "None uses the strategy's train_mb_size.", allow_none=True)
        check_seed(seed)
        self.mem_size = mem_size
        self.batch_size_mem = batch_size_mem
        self.seed = seed
        self.memory = ReservoirMemory(mem_size, seed=seed)
        self._new: list[torch.Tensor] | None = None  # this minibatch's own rows

    def before_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        """Append memory rows to the minibatch; keep the new rows for the reservoir."""
        self._new = list(strategy.mbatch)  # [x, y, t]
        if len(self.memory) == 0:
            return
        drawn = self.memory.sample(self.batch_size_mem or strategy.train_mb_size)
        strategy.mbatch = [torch.cat([new, drawn[name]])
                           for new, name in zip(self._new, ("x", "y", "t"), strict=True)]

    def after_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        """Offer the minibatch's new rows to the reservoir (Algorithm R)."""
        x, y, t = self._new
        self.memory.update(x=x, y=y, t=t)
        self._new = None


class OnlineReplay(Naive):
    """``Naive`` plus an :class:`OnlineReplayPlugin`: experience replay for online streams.

    Train it with ``train_epochs=1`` and a small ``train_mb_size`` (10), on a stream or on
    :func:`~cltutor.data.split_online_stream` pieces: each sample is then seen once.

    Examples
    --------
    >>> import torch
    >>> from cltutor import SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> model = SimpleMLP(num_classes=10, input_size=64)
    >>> strategy = OnlineReplay(model, torch.optim.SGD(model.parameters(), lr=0.05),
    ...                         mem_size=100, train_mb_size=10, evaluator=None, device="cpu",
    ...                         seed=0)
    >>> for exp in bm.train_stream:
    ...     _ = strategy.train(exp)
    >>> len(strategy.replay_plugin.memory)
    100
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, criterion: Any = None,
                 mem_size: int = 200, batch_size_mem: int | None = None,
                 plugins: Sequence[SupervisedPlugin] | None = None, seed: int | None = None,
                 **naive_kwargs: Any) -> None:
        check_seed(seed)
        plugins = check_plugins(plugins)
        plugin_seed = None if seed is None else (seed + 1) % 2**64  # not the strategy's stream
        self.replay_plugin = OnlineReplayPlugin(mem_size, batch_size_mem, seed=plugin_seed)
        super().__init__(model, optimizer, criterion, plugins=[*plugins, self.replay_plugin],
                         seed=seed, **naive_kwargs)
