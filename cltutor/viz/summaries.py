"""The numbers the pictures show, as plain functions a notebook or a test can call.

Class counts of a dataset or a buffer, the group counts of each minibatch of a
loader, a 2-D PCA of features, and what a storage policy keeps as it sees a
stream. :mod:`cltutor.viz.plots` draws them; the panels of
:mod:`cltutor.viz.panels` call them at every click.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import reduce
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from cltutor._checks import check_bool, check_int_range, check_positive_int
from cltutor.data import Benchmark, ClassificationDataset, Experience
from cltutor.memory import (
    BatchLoader,
    ClassBalancedBuffer,
    ExemplarsBuffer,
    ExperienceBalancedBuffer,
    GroupBalancedDataLoader,
    GroupBalancedInfiniteDataLoader,
    ReplayDataLoader,
    TaskBalancedDataLoader,
    make_storage_policy,
)
from cltutor.viz.controls import check_two_experiences

__all__ = [
    "pixel_model",
    "seen_data",
    "labels_of",
    "class_counts",
    "batch_composition",
    "pca_2d",
    "buffer_history",
    "buffer_summary",
    "exemplar_positions",
    "selected_rows",
    "LOADERS",
    "loader_data",
    "make_loader",
    "loader_summary",
]


# -- counting ----------------------------------------------------------------------
def labels_of(data: Any, name: str = "data") -> Tensor:
    """The class labels of a dataset, a buffer (its ``.buffer``) or a sequence of labels.

    Returns a 1-D int tensor; ``name`` is the parameter named in the error.
    """
    if hasattr(data, "buffer") and hasattr(data.buffer, "targets"):
        data = data.buffer
    if hasattr(data, "targets"):
        data = data.targets
    labels = torch.as_tensor(data) if not isinstance(data, Tensor) else data
    if labels.numel() == 0:
        return labels.long().flatten()
    if labels.ndim != 1 or labels.dtype.is_floating_point:
        raise TypeError(
            f"{name} must be a dataset, a buffer or a 1-D tensor of int labels, got "
            f"{type(data).__name__} of shape {tuple(labels.shape)}."
        )
    return labels


def class_counts(dataset: Any) -> dict[int, int]:
    """Number of samples of each class, ascending by class id.

    ``dataset`` may be a :class:`~cltutor.data.ClassificationDataset`, a buffer
    (its ``.buffer`` is counted) or a 1-D tensor of labels.

    >>> class_counts(torch.tensor([2, 0, 2, 2]))
    {0: 1, 2: 3}
    """
    ids, counts = torch.unique(labels_of(dataset, "dataset"), return_counts=True)
    return dict(zip(ids.tolist(), counts.tolist(), strict=True))


def batch_composition(
    loader: Iterable[Sequence[Tensor]],
    groupby: str | Callable[[Sequence[Tensor]], Tensor] = "class",
    max_batches: int | None = None,
) -> list[dict[int, int]]:
    """Per batch of ``loader``, the number of rows of each group.

    ``groupby="class"`` counts the labels ``y`` of each ``(x, y, t)`` batch,
    ``"task"`` the task labels ``t``; a function ``batch -> (B,) int tensor``
    gives any other grouping.
    """
    if callable(groupby):
        key_of = groupby
    elif groupby in ("class", "task"):
        position = 1 if groupby == "class" else 2
        key_of = lambda batch: batch[position]  # noqa: E731
    else:
        raise ValueError(
            f"groupby must be 'class', 'task' or a function of the batch, got {groupby!r}. "
            "Use groupby='task' to count the rows of each task label."
        )
    check_positive_int("max_batches", max_batches, "Use max_batches=20, or None for the whole "
                       "loader (not for an endless one).", allow_none=True)
    out = []
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        out.append(class_counts(key_of(batch)))
    return out


def pixel_model() -> nn.Module:
    """A "network" whose ``features`` are the raw pixels: feature-based selection on inputs."""
    return nn.Sequential(OrderedDict(features=nn.Flatten()))


def seen_data(experiences: Sequence[Experience]) -> ClassificationDataset:
    """The datasets of ``experiences`` concatenated, in stream order."""
    return reduce(ClassificationDataset.concat, (exp.dataset for exp in experiences))


def pca_2d(features: Tensor) -> Tensor:
    """Project ``(N, D)`` features on their two leading principal components: ``(N, 2)``.

    Signs are fixed (largest loading of each component positive), so the picture
    is the same on every machine. Fewer than two components are padded with 0.
    """
    f = torch.as_tensor(features).detach()
    if f.ndim < 2 or len(f) == 0:
        raise ValueError(f"features must be a non-empty (N, D) tensor, got {tuple(f.shape)}.")
    f = f.flatten(1).cpu().double()  # (N, D)
    f = f - f.mean(0)
    _, vecs = torch.linalg.eigh(f.T @ f)  # (D, D), eigenvalues ascending
    comps = vecs[:, -2:].flip(1).T[: min(2, len(f))]  # (<=2, D), largest first
    signs = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True)))
    z = f @ (comps * signs).T  # (N, <=2)
    if z.shape[1] < 2:
        z = torch.cat([z, z.new_zeros(len(z), 2 - z.shape[1])], dim=1)
    return z.float()


# -- what a buffer keeps -----------------------------------------------------------
def buffer_history(policy: ExemplarsBuffer, experiences: Sequence[Experience]
                   ) -> list[dict[int, int]]:
    """Update ``policy`` with each experience in turn; its class counts after each one."""
    counts = []
    for exp in experiences:
        policy.update(SimpleNamespace(experience=exp))
        counts.append(class_counts(policy.buffer))
    return counts


_GROUP_LABEL_OF_POLICY = {ExperienceBalancedBuffer: "exp", ClassBalancedBuffer: "class"}


def buffer_summary(policy: ExemplarsBuffer) -> str:
    """A short text: the policy, how full it is, and each group's size against its quota."""
    lines = [f"{policy!r}: {len(policy)} of {policy.max_size} slots used"]
    groups = getattr(policy, "buffer_groups", None)
    if groups is None:  # a reservoir: one group, the whole buffer
        lines.append(f"all: {len(policy)}/{policy.max_size}")
    else:
        word = _GROUP_LABEL_OF_POLICY.get(type(policy)) or getattr(policy, "groupby", None) or "all"
        lines.append("  ".join(f"{word} {k}: {len(g)}/{g.max_size}" for k, g in groups.items()))
    return "\n".join(lines)


def exemplar_positions(buffer: ClassificationDataset, data: ClassificationDataset) -> Tensor:
    """For each buffer row, the position of the identical row of ``data``, shape ``(M,)``."""
    if len(buffer) == 0:
        return torch.zeros(0, dtype=torch.long)
    stored = buffer.x.flatten(1).float().cpu()  # (M, D)
    seen = data.x.flatten(1).float().cpu()  # (N, D)
    return torch.cdist(stored, seen).argmin(1)  # the buffer stores copies: distance 0


def selected_rows(selected: Tensor | Sequence[int], n: int) -> np.ndarray:
    """Positions ``(k,)`` of the exemplars among ``n`` rows, from positions or a mask."""
    sel = torch.as_tensor(selected).cpu().flatten()
    if sel.numel() == 0:  # [] is a float tensor: no exemplars
        return np.zeros(0, dtype=np.int64)
    if sel.dtype == torch.bool:
        if len(sel) != n:
            raise ValueError(f"selected as a boolean mask must have one entry per row of "
                             f"features ({n}), got {len(sel)}. Or pass positions.")
        return sel.nonzero().flatten().numpy()
    if sel.is_floating_point() or sel.is_complex():
        raise TypeError(f"selected must hold int positions or a boolean mask, got "
                        f"{sel.dtype}. Pass e.g. buffer indices as a list of ints.")
    bad = sel[(sel < 0) | (sel >= n)]
    if len(bad):
        raise ValueError(f"selected must hold positions in [0, {n}) (one per row of features), "
                         f"got {int(bad[0])}. Pass positions among the rows of features.")
    return sel.long().numpy()


# -- the loaders LoaderInspector shows -------------------------------------------------
LOADERS = ("batch", "group-balanced", "task-balanced", "replay", "group-balanced-infinite")


def loader_data(benchmark: Benchmark, step: int, mem_size: int, seed: int | None = None
                ) -> tuple[ClassificationDataset, ClassificationDataset]:
    """Experience ``step``'s data, and a memory of ``mem_size`` rows of the experiences before.

    The memory is an ``ExperienceBalancedBuffer``: equal room for each past experience.
    """
    check_two_experiences(benchmark, "loader_data")
    check_int_range("step", step, 1, benchmark.n_experiences - 1,
                    "The memory holds the experiences before step: try step=2.")
    memory = make_storage_policy("experience", mem_size, seed=seed)
    buffer_history(memory, benchmark.train_stream[:step])
    return benchmark.train_stream[step].dataset, memory.buffer


def make_loader(kind: str, data: ClassificationDataset, memory: ClassificationDataset,
                batch_size: int = 32, batch_size_mem: int = 32, oversample: bool = False,
                seed: int | None = None) -> Any:
    """The loader ``kind`` over current ``data`` and replay ``memory``.

    "batch": plain minibatches of data and memory concatenated; "group-balanced":
    data and memory as two groups; "task-balanced": one group per task label;
    "replay": ``batch_size`` data rows then ``batch_size_mem`` memory rows;
    "group-balanced-infinite": endless random batches, ``batch_size`` per group.
    ``oversample`` cycles the small groups (the memory) where the loader can.
    """
    check_bool("oversample", oversample)
    both = data.concat(memory)
    builders = {
        "batch": lambda: BatchLoader(both, batch_size, seed=seed),
        "group-balanced": lambda: GroupBalancedDataLoader(
            [data, memory], oversample, batch_size, seed=seed),
        "task-balanced": lambda: TaskBalancedDataLoader(both, batch_size, oversample, seed=seed),
        "replay": lambda: ReplayDataLoader(data, memory, oversample, batch_size, batch_size_mem,
                                           seed=seed),
        "group-balanced-infinite": lambda: GroupBalancedInfiniteDataLoader(
            [data, memory], batch_size, seed=seed),
    }
    if kind not in builders:
        raise ValueError(f"kind must be one of {list(builders)}, got {kind!r}. "
                         "Try kind=\"replay\".")
    return builders[kind]()


def loader_summary(loader: Any, data: ClassificationDataset, memory: ClassificationDataset,
                   composition: Sequence[Mapping[Any, int]]) -> str:
    """One line on a loader: its kind, its batches per epoch, the rows it draws from and the
    sizes of the ``composition`` batches shown."""
    endless = isinstance(loader, GroupBalancedInfiniteDataLoader)
    epoch = "endless" if endless else f"{len(loader)} batches"
    sizes = [sum(c.values()) for c in composition]
    return (f"{type(loader).__name__}: {epoch} per epoch; data {len(data)} rows, memory "
            f"{len(memory)} rows; batch sizes shown {min(sizes)}-{max(sizes)}")
