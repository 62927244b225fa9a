"""Datasets, experiences and benchmarks as plain tensors.

A :class:`ClassificationDataset` is three aligned tensors: inputs ``x``, class
labels ``y`` and task labels ``t``. Indexing with a tensor of indices gathers a
whole batch at once, which is what loaders, buffers and strategies do; there is
no per-sample ``__getitem__`` plus collate on the hot path.

An :class:`Experience` is one chunk of a stream; streams and benchmarks are in
:mod:`cltutor.data.benchmark`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cltutor._checks import check_int_range, is_int

__all__ = ["ClassificationDataset", "Experience", "as_index_tensor"]

BatchTransform = Callable[[Tensor], Tensor]


def as_index_tensor(idx: Any, n: int | None = None, name: str = "idx") -> Tensor:
    """Turn a list, range, NumPy array or tensor of positions into a long tensor.

    Boolean masks are converted to the positions where they are true.
    """
    if isinstance(idx, range):
        idx = torch.arange(idx.start, idx.stop, idx.step)
    out = idx if isinstance(idx, Tensor) else torch.as_tensor(np.asarray(idx))
    if out.dtype == torch.bool:
        out = out.nonzero().flatten()
    if out.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=out.device)
    if out.dtype.is_floating_point:
        raise TypeError(f"{name} must hold integer positions, got dtype {out.dtype}.")
    out = out.long().flatten()
    if n is not None:
        bad = (out >= n) | (out < -n)  # (K,)
        if bool(bad.any()):  # report the first bad position, not the largest
            k = int(bad.nonzero()[0])
            raise IndexError(f"{name} must hold positions in [-{n}, {n}) for a dataset of {n} "
                             f"rows, got {int(out[k])} at {name}[{k}]. Drop it, or check how "
                             f"the positions were made.")
    return out


# -- construction checks (once per dataset, never per batch) --------------------------
def _preview(values: Tensor | np.ndarray) -> str:
    shown = values.flatten()[:4].tolist()
    return str(shown) if len(values.flatten()) <= 4 else str(shown)[:-1] + ", ...]"


def _as_labels(name: str, values: Any, x: Tensor, kind: str, fix: str) -> Tensor:
    """One label >= 0 per row of ``x``, as a long tensor; whole floats are converted exactly."""
    if not isinstance(values, Tensor):  # strings and objects fail here, before torch
        try:
            arr = np.asarray(values)
        except ValueError:  # nested lists of different lengths
            arr = np.asarray(values, dtype=object)
        if arr.dtype.kind not in "biuf":
            how = (f"; number the names: names = sorted(set({name})); {name} = "
                   f"[names.index(v) for v in {name}]") if arr.dtype.kind in "US" else ""
            raise TypeError(f"{name} must hold integer {kind} labels, got {_preview(arr)} (dtype "
                            f"{arr.dtype}). Pass one int per row of x{how}.")
        values = torch.as_tensor(arr)
    labels = values.to(x.device)
    if labels.shape != (len(x),):
        either = "an int or " if name == "t" else ""
        raise ValueError(f"{name} must be {either}a tensor of shape ({len(x)},), one {kind} "
                         f"label per row of x, got shape {tuple(labels.shape)}.")
    if labels.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer {kind} labels, got dtype torch.bool: "
                        f"{_preview(labels)}. Pass ints, e.g. {name}.long() for a 0/1 mask.")
    if labels.is_floating_point():
        bad = labels.long().double() != labels.double()  # a fraction, NaN, inf or overflow
        if bool(bad.any()):
            i = int(bad.nonzero()[0])
            raise ValueError(f"{name} must hold whole-number {kind} labels, got "
                             f"{float(labels[i]):g} at row {i} (dtype {labels.dtype}). Labels "
                             f"are never rounded: pass ints, and drop rows whose label is NaN.")
    labels = labels.long()
    if bool((labels < 0).any()):
        i = int((labels < 0).nonzero()[0])
        raise ValueError(f"{name} must hold {kind} labels >= 0, got {int(labels[i])} at row "
                         f"{i}. {fix}")
    return labels


def _check_x(x: Any) -> None:
    """A tensor of shape (N, ...), finite where it is floating point."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (N, ...), got {type(x).__name__}.")
    if x.ndim == 0 or (x.ndim == 1 and len(x) > 0):  # (0,): an empty placeholder, no rows
        fix = f"x.unsqueeze(1) gives ({len(x)}, 1)" if x.ndim else "x.reshape(1, 1) gives (1, 1)"
        raise ValueError(f"x must be a tensor of shape (N, ...) with one row per sample, got "
                         f"shape {tuple(x.shape)}. For one number per sample, {fix}.")
    if (x.is_floating_point() or x.is_complex()) and not bool(torch.isfinite(x).all()):
        rows = (~torch.isfinite(x)).flatten(1).any(1).nonzero().flatten()  # (K,)
        raise ValueError(f"x must hold finite values, got NaN or inf in {len(rows)} of {len(x)} "
                         f"rows (first: row {int(rows[0])}). Drop them: keep = torch.isfinite(x)"
                         f".flatten(1).all(1); x, y = x[keep], y[keep]; or fix their source.")


class ClassificationDataset:
    """Inputs, class labels and task labels held as aligned tensors.

    Parameters
    ----------
    x : Tensor
        Inputs, shape ``(N, ...)``, one row per sample; any dtype (uint8 images are fine when
        ``transform`` converts them). Floating point inputs must be finite (checked once, here).
    y : Tensor or sequence of int
        Class labels >= 0, shape ``(N,)``. Floats are taken only when whole, converted exactly.
    t : int or Tensor, default 0
        Task label (>= 0) of every sample, or one per sample; whole floats as for ``y``.
    transform : callable, optional
        Applied to whole batches of ``x`` (shape ``(B, ...)``) when they are
        gathered, e.g. normalisation or augmentation.

    Examples
    --------
    >>> import torch
    >>> ds = ClassificationDataset(torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2]))
    >>> x, y, t = ds[torch.tensor([0, 3])]   # one gather, a batch of 2
    >>> x.shape, y.tolist(), t.tolist()
    (torch.Size([2, 1, 8, 8]), [0, 0], [0, 0])
    >>> len(ds.subset(ds.targets == 1))
    2

    Notebook ``01_quickstart.ipynb`` shows datasets inside a benchmark.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor | Sequence[int],
        t: int | Tensor | Sequence[int] = 0,
        transform: BatchTransform | None = None,
    ) -> None:
        _check_x(x)
        y = _as_labels("y", y, x, "class", "Classes index the model's outputs, so number them "
                       "from 0, e.g. y = torch.unique(y, return_inverse=True)[1].")
        if is_int(t):
            t = torch.full((len(x),), t, dtype=torch.long, device=x.device)
        t = _as_labels("t", t, x, "task", "Tasks are numbered from 0; use t=0 for one task.")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable on a batch, got {transform!r}.")
        self.x, self.y, self.t = x, y, t
        self.transform = transform

    # -- size and access -------------------------------------------------
    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (
            f"ClassificationDataset(n={len(self)}, x={tuple(self.x.shape[1:])} {self.x.dtype}, "
            f"classes={self.classes}, device={self.device})"
        )

    def __getitem__(self, idx: Any) -> tuple[Tensor, Tensor, Tensor]:
        """``ds[i]`` gives one ``(x, y, t)``; a tensor or list of positions a batch."""
        if is_int(idx):
            n = len(self)
            if not -n <= idx < n:
                raise IndexError(f"index must be in [-{n}, {n}) for a dataset of {n} rows, got "
                                 f"{idx}. len(ds) gives the number of rows.")
            i = int(idx) % n
            x = self.x[i : i + 1]  # (1, ...): the transform takes batches
            x = self.transform(x)[0] if self.transform is not None else x[0]
            return x, self.y[i], self.t[i]
        return self.get_batch(idx)

    def get_batch(self, idx: Any) -> tuple[Tensor, Tensor, Tensor]:
        """Gather a batch ``(x, y, t)`` with one ``index_select`` per tensor."""
        if not isinstance(idx, Tensor) or idx.dtype != torch.long:
            idx = as_index_tensor(idx, len(self))
        idx = idx.to(self.x.device)
        x = self.x.index_select(0, idx)
        if self.transform is not None:
            x = self.transform(x)
        return x, self.y.index_select(0, idx), self.t.index_select(0, idx)

    # -- views of the labels ------------------------------------------------
    @property
    def targets(self) -> Tensor:
        """Class label of every sample, shape ``(N,)``."""
        return self.y

    @property
    def targets_task_labels(self) -> Tensor:
        """Task label of every sample, shape ``(N,)``."""
        return self.t

    @property
    def classes(self) -> list[int]:
        """The distinct class labels, ascending."""
        return torch.unique(self.y).tolist()

    @property
    def task_labels(self) -> list[int]:
        """The distinct task labels, ascending."""
        return torch.unique(self.t).tolist()

    @property
    def device(self) -> torch.device:
        return self.x.device

    # -- new datasets ----------------------------------------------------------
    def subset(self, idx: Any) -> ClassificationDataset:
        """A new dataset holding the rows at ``idx`` (positions or a boolean mask)."""
        idx = as_index_tensor(idx, len(self)).to(self.device)
        rows = (v.index_select(0, idx) for v in (self.x, self.y, self.t))
        return ClassificationDataset._checked(*rows, self.transform)

    def concat(self, other: ClassificationDataset) -> ClassificationDataset:
        """Rows of ``self`` followed by rows of ``other`` (same transform, shape, device)."""
        if not isinstance(other, ClassificationDataset):
            raise TypeError(f"other must be a ClassificationDataset, got {type(other).__name__}.")
        if len(other) == 0:
            return self
        if len(self) == 0:
            return other
        if other.x.shape[1:] != self.x.shape[1:]:
            raise ValueError(
                f"cannot concat inputs of shape {tuple(other.x.shape[1:])} to "
                f"{tuple(self.x.shape[1:])}; both datasets must hold the same input shape."
            )
        if other.transform is not self.transform:
            raise ValueError(
                "cannot concat datasets with different transforms; apply the same "
                "transform object to both (or transform=None to both)."
            )
        both = (torch.cat([a, b.to(self.device)]) for a, b in
                ((self.x, other.x), (self.y, other.y), (self.t, other.t)))
        return ClassificationDataset._checked(*both, self.transform)

    def to(self, device: str | torch.device) -> ClassificationDataset:
        """The same dataset on ``device`` (``self`` when it is already there)."""
        device = torch.device(device)
        if device == self.device or (device.type == self.device.type and device.index is None):
            return self
        moved = (v.to(device) for v in (self.x, self.y, self.t))
        return ClassificationDataset._checked(*moved, self.transform)

    def with_transform(self, transform: BatchTransform | None) -> ClassificationDataset:
        """The same tensors with another batch transform (no copy)."""
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable on a batch, got {transform!r}.")
        return ClassificationDataset._checked(self.x, self.y, self.t, transform)

    @classmethod
    def empty_like(cls, other: ClassificationDataset) -> ClassificationDataset:
        """An empty dataset with the input shape, dtype, device and transform of ``other``."""
        return cls._checked(other.x[:0], other.y[:0], other.t[:0], other.transform)

    @classmethod
    def _checked(cls, x: Tensor, y: Tensor, t: Tensor, transform) -> ClassificationDataset:
        """Rows of datasets already checked (gathered, joined or moved): no second check."""
        ds = cls.__new__(cls)
        ds.x, ds.y, ds.t, ds.transform = x, y, t, transform
        return ds


class Experience:
    """One chunk of a stream: a dataset plus what the learner may know about it.

    Attributes
    ----------
    dataset : ClassificationDataset
    current_experience : int
        Position of the experience in its stream.
    classes_in_this_experience : list of int
    origin_stream : Stream or None
        The stream this experience belongs to.
    stream_name : str or None
        The name of that stream (``"train"``, ``"test"``), None outside a stream.

    Examples
    --------
    >>> from cltutor import SplitDigits
    >>> exp = SplitDigits(n_experiences=5, seed=0).train_stream[0]
    >>> exp.current_experience, len(exp.classes_in_this_experience), exp.task_label
    (0, 2, 0)
    """

    def __init__(
        self,
        dataset: ClassificationDataset,
        current_experience: int,
        classes_in_this_experience: Iterable[int] | None = None,
        origin_stream: Any = None,
    ) -> None:
        check_int_range("current_experience", current_experience, 0, None,
                        "It is the experience's position in its stream, from 0.")
        self.dataset = dataset
        self.current_experience = int(current_experience)
        if classes_in_this_experience is None:
            classes_in_this_experience = dataset.classes
        self.classes_in_this_experience = [int(c) for c in classes_in_this_experience]
        self.origin_stream = origin_stream

    @property
    def stream_name(self) -> str | None:
        """``origin_stream.name``, or None for an experience outside a stream."""
        return None if self.origin_stream is None else self.origin_stream.name

    @property
    def task_labels(self) -> list[int]:
        """The distinct task labels of this experience, ascending."""
        return self.dataset.task_labels

    @property
    def task_label(self) -> int:
        """The task label, for an experience that has exactly one."""
        labels = self.task_labels
        if len(labels) != 1:
            raise ValueError(
                f"experience {self.current_experience} has task labels {labels}; use "
                f"task_labels for experiences with several."
            )
        return labels[0]

    def __repr__(self) -> str:
        return (f"Experience({self.stream_name or '?'}[{self.current_experience}], "
                f"n={len(self.dataset)}, classes={self.classes_in_this_experience}, "
                f"task_labels={self.task_labels})")
