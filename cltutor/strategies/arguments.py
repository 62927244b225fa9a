"""What a strategy is given, checked and normalised before the loop uses it.

The device name (``"auto"`` included), the experiences to train or evaluate on,
the plugins and the evaluator. Each function raises an error that names the
parameter and says how to fix it, so a learner's mistake fails at construction
or at the start of ``train()`` rather than deep inside torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from cltutor.callbacks import SupervisedPlugin
from cltutor.data import Experience
from cltutor.evaluation import EvaluationPlugin, default_evaluator

__all__ = ["resolve_device", "as_experiences", "check_plugins", "make_evaluator"]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when present, else CPU; other names are checked."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a string or torch.device, got {device!r}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}. "
            "Use device='auto' to pick the GPU when there is one."
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} asks for a GPU but torch sees none. Use device='auto' or 'cpu'."
        )
    return resolved


def as_experiences(experiences: Experience | Iterable[Experience], name: str) -> list:
    """``experiences`` as a list of Experience objects (one Experience becomes a list)."""
    if isinstance(experiences, Experience):
        return [experiences]
    if not isinstance(experiences, Iterable):
        raise TypeError(
            f"{name} must be an Experience or a list of them, got {type(experiences).__name__}."
        )
    out = list(experiences)
    if not out:
        raise ValueError(
            f"{name} is empty; pass an Experience or a non-empty stream, e.g. "
            "benchmark.test_stream."
        )
    for exp in out:
        if not isinstance(exp, Experience):
            raise TypeError(f"{name} must hold Experience objects, got {type(exp).__name__}.")
    return out


def check_plugins(plugins: Sequence[SupervisedPlugin] | None) -> list[SupervisedPlugin]:
    """``plugins`` as a list (None: empty), each a :class:`SupervisedPlugin`."""
    plugins = list(plugins) if plugins is not None else []
    for p in plugins:
        if not isinstance(p, SupervisedPlugin):
            raise TypeError(
                f"plugins must be SupervisedPlugin instances, got {type(p).__name__}. "
                "Subclass cltutor.SupervisedPlugin and override the callbacks you need."
            )
    return plugins


def make_evaluator(evaluator: EvaluationPlugin | str | None) -> EvaluationPlugin:
    """The evaluator itself, ``default_evaluator()`` for "default", an empty one for None.

    The empty one still records the accuracy matrix and costs nothing per iteration.
    """
    if evaluator is None:
        return EvaluationPlugin()
    if isinstance(evaluator, str) and evaluator == "default":
        return default_evaluator()
    if not isinstance(evaluator, EvaluationPlugin):
        raise TypeError(
            f"evaluator must be an EvaluationPlugin, 'default' or None, got {evaluator!r}."
        )
    return evaluator
