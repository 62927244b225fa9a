"""The bookkeeping around ``Naive``'s loop: the clock, periodic evaluation, the seeded
global generators, and the clean-up after a fault.

Kept apart from :mod:`cltutor.strategies.base` so that the loop itself reads on one
screen there.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from cltutor.callbacks import SupervisedPlugin

__all__ = ["Clock", "PeriodicEval", "seeded_global_rng", "seed_global_rng", "model_modes",
           "restore_modes", "after_fault"]


class Clock(SupervisedPlugin):
    """Counts iterations, epochs and experiences. Runs after every other plugin.

    Examples
    --------
    >>> clock = Clock()
    >>> clock.after_training_iteration(None); clock.after_training_exp(None)
    >>> clock.train_iterations, clock.train_exp_counter
    (1, 1)
    """

    def __init__(self) -> None:
        self.train_iterations = 0  # all training iterations so far
        self.train_exp_counter = 0  # finished training experiences
        self.train_exp_epochs = 0  # epochs finished in the current experience
        self.train_exp_iterations = 0  # iterations in the current experience
        self.train_epoch_iterations = 0  # iterations in the current epoch
        self.total_iterations = 0  # training and eval iterations

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        self.train_exp_epochs = 0
        self.train_exp_iterations = 0

    def before_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        self.train_epoch_iterations = 0

    def after_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        self.train_epoch_iterations += 1
        self.train_exp_iterations += 1
        self.train_iterations += 1
        self.total_iterations += 1

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        self.train_exp_epochs += 1

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        self.train_exp_counter += 1

    def after_eval_iteration(self, strategy: Any, **kwargs: Any) -> None:
        self.total_iterations += 1


class PeriodicEval(SupervisedPlugin):
    """Evaluates the strategy's ``eval_streams`` during ``train()`` as ``eval_every`` asks:
    at the start, every ``eval_every`` epochs, and at the end of each experience (0: only
    there)."""

    def __init__(self, eval_every: int) -> None:
        self.eval_every = eval_every

    def before_training(self, strategy: Any, **kwargs: Any) -> None:
        strategy._periodic_eval()

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        if self.eval_every > 0 and strategy.clock.train_exp_epochs % self.eval_every == 0:
            strategy._periodic_eval()

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        last_epoch = strategy.train_epochs - 1
        if self.eval_every == 0 or last_epoch % self.eval_every != 0:
            strategy._periodic_eval()


@contextlib.contextmanager
def seeded_global_rng(seed: int | None, device: torch.device) -> Iterator[None]:
    """Torch's global CPU generator (and ``device``'s CUDA one) seeded with ``seed`` inside
    the block and put back as they were after it; untouched when ``seed`` is None.

    Weight initialisation and dropout draw from these generators, so a strategy that
    trains inside this block is reproduced by its ``seed=`` alone, and the caller's own
    random numbers do not change.

    Examples
    --------
    >>> before = torch.random.get_rng_state()
    >>> with seeded_global_rng(0, torch.device("cpu")):
    ...     a = torch.rand(1)
    >>> with seeded_global_rng(0, torch.device("cpu")):
    ...     b = torch.rand(1)
    >>> bool(a == b), torch.equal(torch.random.get_rng_state(), before)
    (True, True)
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=_cuda_indices(device)):
        seed_global_rng(seed, device)
        yield


def seed_global_rng(seed: int | None, device: torch.device) -> None:
    """Seed torch's global CPU generator (and ``device``'s CUDA one); None: do nothing.
    Inside :func:`seeded_global_rng`, this re-seeds what the block will put back."""
    if seed is None:
        return
    torch.default_generator.manual_seed(seed)
    for index in _cuda_indices(device):
        torch.cuda.default_generators[index].manual_seed(seed)


def _cuda_indices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [torch.cuda.current_device() if device.index is None else device.index]


def model_modes(model: nn.Module) -> list[tuple[nn.Module, bool]]:
    """Every submodule with its ``training`` flag, to put back with :func:`restore_modes`."""
    return [(m, m.training) for m in model.modules()]


def restore_modes(modes: list[tuple[nn.Module, bool]]) -> None:
    """Put back the train/eval modes :func:`model_modes` saved."""
    for module, mode in modes:
        module.train(mode)


def after_fault(plugins: Sequence[SupervisedPlugin], strategy: Any, error: BaseException,
                modes: list[tuple[nn.Module, bool]]) -> None:
    """Clean up after ``error`` (an exception or KeyboardInterrupt) stopped a loop.

    Every plugin's ``on_exception`` runs (loggers close their progress bars there), then
    the model's modes are put back. A plugin that fails while cleaning up does not hide
    ``error``: its failure becomes a warning.
    """
    for plugin in plugins:
        try:
            plugin.on_exception(strategy, error)
        except Exception as cleanup_error:  # noqa: BLE001 - the first error is the one to see
            warnings.warn(
                f"{type(plugin).__name__}.on_exception failed while cleaning up after "
                f"{type(error).__name__}: {cleanup_error!r}", RuntimeWarning, stacklevel=2)
    restore_modes(modes)
