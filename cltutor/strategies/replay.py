"""Experience replay: train on the new data plus rows replayed from a memory.

The whole method is two callbacks. ``after_training_exp`` stores exemplars of
the experience just learnt in a buffer (a storage policy from
:mod:`cltutor.memory.buffers`); ``before_training_exp`` swaps the strategy's loader
for a :class:`~cltutor.memory.loaders.ReplayDataLoader`, so that every minibatch is
``batch_size`` new rows followed by ``batch_size_mem`` memory rows (both default
to ``train_mb_size``: the minibatch doubles, as in Avalanche). The epoch is one
pass over the new data; the memory is reshuffled and cycled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cltutor._checks import (
    check_bool,
    check_positive_int,
    check_seed,
    make_generator,
    next_seed,
)
from cltutor.callbacks import SupervisedPlugin
from cltutor.memory import ExemplarsBuffer, ExperienceBalancedBuffer, ReplayDataLoader
from cltutor.strategies.arguments import check_plugins
from cltutor.strategies.base import Naive

__all__ = ["ReplayPlugin", "Replay"]


class ReplayPlugin(SupervisedPlugin):
    """Experience replay as a plugin: a memory of past rows mixed into every minibatch.

    Parameters
    ----------
    mem_size : int, default 200
        Rows kept in memory.
    batch_size : int, optional
        New rows per minibatch; None uses the strategy's ``train_mb_size``.
    batch_size_mem : int, optional
        Memory rows per minibatch; None uses the strategy's ``train_mb_size``.
    task_balanced_dataloader : bool, default False
        Split the memory rows of a batch evenly over the memory's task labels.
    storage_policy : ExemplarsBuffer, optional
        Which rows to keep; default ``ExperienceBalancedBuffer(mem_size)``. Its
        ``max_size`` must equal ``mem_size``.
    seed : int, optional
        Seeds the default buffer and the replay shuffling; None uses torch's
        global generator.

    Examples
    --------
    >>> import torch
    >>> from cltutor import Naive, SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> model = SimpleMLP(num_classes=10, input_size=64)
    >>> replay = ReplayPlugin(mem_size=100, seed=0)
    >>> strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05), train_mb_size=32,
    ...                  plugins=[replay], evaluator=None, device="cpu", seed=0)
    >>> for exp in bm.train_stream[:2]:
    ...     _ = strategy.train(exp)
    >>> {k: len(g) for k, g in replay.storage_policy.buffer_groups.items()}
    {0: 50, 1: 50}

    Notebook ``05_replay.ipynb`` builds this plugin step by step.
    """

    def __init__(
        self,
        mem_size: int = 200,
        batch_size: int | None = None,
        batch_size_mem: int | None = None,
        task_balanced_dataloader: bool = False,
        storage_policy: ExemplarsBuffer | None = None,
        seed: int | None = None,
    ) -> None:
        check_positive_int("mem_size", mem_size, "Use mem_size=200 for a small memory.")
        same_as_strategy = "None uses the strategy's train_mb_size."
        check_positive_int("batch_size", batch_size, same_as_strategy, allow_none=True)
        check_positive_int("batch_size_mem", batch_size_mem, same_as_strategy, allow_none=True)
        check_bool("task_balanced_dataloader", task_balanced_dataloader)
        if storage_policy is None:
            storage_policy = ExperienceBalancedBuffer(mem_size, seed=seed)
        elif not isinstance(storage_policy, ExemplarsBuffer):
            raise TypeError(
                f"storage_policy must be an ExemplarsBuffer, got "
                f"{type(storage_policy).__name__}. E.g. ClassBalancedBuffer(mem_size)."
            )
        elif storage_policy.max_size != mem_size:
            raise ValueError(
                f"storage_policy.max_size ({storage_policy.max_size}) must equal mem_size "
                f"({mem_size}); build the buffer with max_size={mem_size}."
            )
        self.mem_size = mem_size
        self.batch_size = batch_size
        self.batch_size_mem = batch_size_mem
        self.task_balanced_dataloader = task_balanced_dataloader
        self.storage_policy = storage_policy
        self.seed = seed
        self._generator = make_generator(seed)

    @property
    def ext_mem(self) -> dict:
        """The memory by group (balanced buffers), or ``{0: buffer}``: the view of
        Avalanche's older ``ext_mem`` API."""
        return getattr(self.storage_policy, "ext_mem", {0: self.storage_policy.buffer})

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        """Replace the strategy's loader: new rows then memory rows in every minibatch."""
        memory = self.storage_policy.buffer
        if len(memory) == 0:  # first experience: nothing to replay yet
            return
        seed = None
        if self._generator is not None:  # a fresh seed per experience
            seed = next_seed(self._generator)
        strategy.dataloader = ReplayDataLoader(
            strategy.adapted_dataset,
            memory,
            oversample_small_tasks=True,
            batch_size=self.batch_size or strategy.train_mb_size,
            batch_size_mem=self.batch_size_mem or strategy.train_mb_size,
            task_balanced_dataloader=self.task_balanced_dataloader,
            seed=seed,
        )

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        """Store exemplars of the experience just learnt."""
        self.storage_policy.update(strategy)


class Replay(Naive):
    """``Naive`` plus a :class:`ReplayPlugin`: fine-tuning with a replay memory.

    Parameters
    ----------
    model, optimizer, criterion
        As :class:`~cltutor.strategies.base.Naive`.
    mem_size : int, default 200
    storage_policy : ExemplarsBuffer, optional
        Default ``ExperienceBalancedBuffer(mem_size)``.
    batch_size_mem : int, optional
        Memory rows per minibatch; None uses ``train_mb_size``.
    task_balanced_dataloader : bool, default False
    **naive_kwargs
        Any other argument of ``Naive`` (``train_mb_size``, ``plugins``, ``seed``...).
        The replay plugin runs after the user's plugins; ``seed`` seeds it too.

    Examples
    --------
    >>> import torch
    >>> from cltutor import SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> model = SimpleMLP(num_classes=10, input_size=64)
    >>> strategy = Replay(model, torch.optim.SGD(model.parameters(), lr=0.05), mem_size=100,
    ...                   train_mb_size=32, evaluator=None, device="cpu", seed=0)
    >>> for exp in bm.train_stream:
    ...     _ = strategy.train(exp)
    >>> len(strategy.replay_plugin.storage_policy.buffer)
    100

    Notebook ``05_replay.ipynb`` compares it with Naive on SplitDigits.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        criterion: Any = None,
        mem_size: int = 200,
        storage_policy: ExemplarsBuffer | None = None,
        batch_size_mem: int | None = None,
        task_balanced_dataloader: bool = False,
        plugins: Sequence[SupervisedPlugin] | None = None,
        seed: int | None = None,
        **naive_kwargs: Any,
    ) -> None:
        check_seed(seed)
        plugins = check_plugins(plugins)  # before the list is extended: plugins=P() is refused
        plugin_seed = None if seed is None else (seed + 1) % 2**64  # not the strategy's stream
        self.replay_plugin = ReplayPlugin(
            mem_size,
            batch_size_mem=batch_size_mem,
            task_balanced_dataloader=task_balanced_dataloader,
            storage_policy=storage_policy,
            seed=plugin_seed,
        )
        plugins = [*plugins, self.replay_plugin]
        super().__init__(model, optimizer, criterion, plugins=plugins, seed=seed, **naive_kwargs)
