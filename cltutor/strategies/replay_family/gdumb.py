"""GDumb (Prabhu et al., 2020): keep a class-balanced memory, and learn from it alone.

At every experience GDumb puts the new rows in a class-balanced memory, sets the model back
to its initial weights and trains it from scratch on the memory only. It is the sobering
baseline: whatever score it reaches is explained by the memory alone, with no continual
learning at all, so a method that does not beat it has learnt nothing from the stream.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cltutor._checks import check_positive_int, check_seed
from cltutor.callbacks import SupervisedPlugin
from cltutor.memory import ClassBalancedBuffer
from cltutor.strategies.arguments import check_plugins
from cltutor.strategies.base import Naive

__all__ = ["reset_weights", "GDumbPlugin", "GDumb"]


def reset_weights(model: nn.Module, initial_state: dict[str, torch.Tensor]) -> None:
    """Put ``model`` back to ``initial_state``; modules created since (a new task's head)
    draw fresh weights with their own ``reset_parameters``."""
    model.load_state_dict(initial_state, strict=False)
    for name, module in model.named_modules():
        own = [f"{name}.{p}" if name else p for p, _ in module.named_parameters(recurse=False)]
        if own and not all(p in initial_state for p in own) and hasattr(module, "reset_parameters"):
            module.reset_parameters()


class GDumbPlugin(SupervisedPlugin):
    """GDumb as a plugin: a class-balanced memory, a model re-initialised at every experience.

    The memory is a :class:`~cltutor.memory.ClassBalancedBuffer` of ``mem_size`` rows, as in
    Avalanche's ``GDumbPlugin``: each class seen so far gets an equal share (the
    remainder to the smallest class ids), filled with a random subset of its rows; this is
    where the greedy sampler of the paper ends up once each class has enough rows. The
    optimizer's state (momentum) is cleared with the weights.

    Parameters
    ----------
    mem_size : int, default 200
    seed : int, optional
        Seeds the memory's random subsets.

    Examples
    --------
    >>> import torch
    >>> from cltutor import Naive, SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> model = SimpleMLP(num_classes=10, input_size=64)
    >>> gdumb = GDumbPlugin(mem_size=30, seed=0)
    >>> strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05), train_mb_size=32,
    ...                  plugins=[gdumb], evaluator=None, device="cpu", seed=0)
    >>> for exp in bm.train_stream[:2]:
    ...     _ = strategy.train(exp)
    >>> sorted(len(g) for g in gdumb.storage_policy.buffer_groups.values())  # 4 classes
    [7, 7, 8, 8]

    Notebook ``11_beyond_replay.ipynb`` uses it as the baseline.
    """

    def __init__(self, mem_size: int = 200, seed: int | None = None) -> None:
        check_positive_int("mem_size", mem_size, "Use mem_size=200 for a small memory.")
        check_seed(seed)
        self.mem_size = mem_size
        self.seed = seed
        self.storage_policy = ClassBalancedBuffer(mem_size, adaptive_size=True, seed=seed)
        self.initial_state: dict[str, torch.Tensor] | None = None

    def before_train_dataset_adaptation(self, strategy: Any, **kwargs: Any) -> None:
        """Back to the initial weights (recorded at the first experience), fresh momentum."""
        if self.initial_state is None:
            self.initial_state = copy.deepcopy(strategy.model.state_dict())
            return
        reset_weights(strategy.model, self.initial_state)
        strategy.optimizer.state.clear()

    def after_train_dataset_adaptation(self, strategy: Any, **kwargs: Any) -> None:
        """Add the experience to the memory; train on the memory only."""
        self.storage_policy.update(strategy)
        strategy.adapted_dataset = self.storage_policy.buffer


class GDumb(Naive):
    """``Naive`` plus a :class:`GDumbPlugin` (Avalanche's ``GDumb``).

    Examples
    --------
    >>> import torch
    >>> from cltutor import SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> model = SimpleMLP(num_classes=10, input_size=64)
    >>> strategy = GDumb(model, torch.optim.SGD(model.parameters(), lr=0.05), mem_size=100,
    ...                  train_mb_size=32, evaluator=None, device="cpu", seed=0)
    >>> for exp in bm.train_stream:
    ...     _ = strategy.train(exp)
    >>> len(strategy.gdumb_plugin.storage_policy.buffer)
    100
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, criterion: Any = None,
                 mem_size: int = 200, plugins: Sequence[SupervisedPlugin] | None = None,
                 seed: int | None = None, **naive_kwargs: Any) -> None:
        check_seed(seed)
        plugins = check_plugins(plugins)
        plugin_seed = None if seed is None else (seed + 1) % 2**64
        self.gdumb_plugin = GDumbPlugin(mem_size, seed=plugin_seed)
        super().__init__(model, optimizer, criterion, plugins=[*plugins, self.gdumb_plugin],
                         seed=seed, **naive_kwargs)
