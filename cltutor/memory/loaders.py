"""Minibatch loaders that gather batches from tensors.

:class:`BatchLoader` shuffles one dataset. The balanced loaders compose each
batch from several groups (datasets, tasks, data and memory), group after group:
:class:`GroupBalancedDataLoader`, :class:`TaskBalancedDataLoader`,
:class:`ReplayDataLoader` and :class:`GroupBalancedInfiniteDataLoader`.

A loader plans a whole epoch of row positions with a few vectorised ops
(:func:`epoch_batches`). For :class:`~cltutor.data.ClassificationDataset`
inputs the groups are concatenated once, when the loader is built, so every
batch is one ``index_select`` on tensors already on the training device. Any
other torch ``Dataset`` goes through ``torch.utils.data.DataLoader`` (over a
``ConcatDataset``) with the very same batches of positions, so the batch
composition never depends on the data type.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from cltutor._checks import check_bool, check_positive_int, make_generator
from cltutor.data.dataset import ClassificationDataset
from cltutor.memory.quotas import epoch_batches, group_quotas, shuffled_passes

__all__ = [
    "BatchLoader",
    "GroupBalancedDataLoader",
    "TaskBalancedDataLoader",
    "ReplayDataLoader",
    "GroupBalancedInfiniteDataLoader",
]

Batch = tuple[Tensor, Tensor, Tensor]
#: group positions, rows per batch from each group, batches per epoch, whether each cycles
EpochPlan = tuple[list[Tensor], list[int], int, list[bool]]


def _check_batch_size(name: str, value: int) -> None:
    check_positive_int(name, value, f"Try {name}=32.")


class BatchLoader:
    """Minibatches ``(x, y, t)`` of one dataset, reshuffled every epoch.

    Parameters
    ----------
    dataset : ClassificationDataset or torch Dataset
    batch_size : int, default 32
    shuffle : bool, default True
    drop_last : bool, default False
    seed : int, optional
        Seeds the shuffling; None draws from torch's global generator.

    Examples
    --------
    >>> import torch
    >>> from cltutor.data import ClassificationDataset
    >>> ds = ClassificationDataset(torch.rand(10, 3), torch.arange(10) % 2)
    >>> [len(y) for _, y, _ in BatchLoader(ds, batch_size=4, seed=0)]
    [4, 4, 2]

    Notebook ``04_balanced_loaders.ipynb`` compares it with the balanced loaders.
    """

    def __init__(
        self,
        dataset: ClassificationDataset | Dataset,
        batch_size: int = 32,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int | None = None,
    ) -> None:
        _check_batch_size("batch_size", batch_size)
        check_bool("shuffle", shuffle)
        check_bool("drop_last", drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self._generator = make_generator(seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _index_batches(self) -> list[Tensor]:
        n = len(self.dataset)
        order = torch.randperm(n, generator=self._generator) if self.shuffle else torch.arange(n)
        if isinstance(self.dataset, ClassificationDataset):
            order = order.to(self.dataset.device)  # one copy per epoch, not per batch
        batches = list(order.split(self.batch_size))
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def __iter__(self) -> Iterator[Batch]:
        batches = self._index_batches()
        if isinstance(self.dataset, ClassificationDataset):
            return (self.dataset.get_batch(idx) for idx in batches)
        return iter(DataLoader(self.dataset, batch_sampler=[b.tolist() for b in batches]))


# -- balanced loaders ------------------------------------------------------------
AnyDataset = ClassificationDataset | Dataset


def _concat(datasets: Sequence[AnyDataset]) -> AnyDataset:
    """All the rows in one dataset, built once per loader: a batch is then one gather."""
    if not all(isinstance(d, ClassificationDataset) for d in datasets):
        return ConcatDataset(datasets)
    first = datasets[0]
    for d in datasets[1:]:
        if d.x.shape[1:] != first.x.shape[1:] or d.transform is not first.transform:
            raise ValueError(
                f"datasets must share the input shape and the transform object to be batched "
                f"together, got {tuple(first.x.shape[1:])} and {tuple(d.x.shape[1:])}."
            )
    if len(datasets) == 1:
        return first
    dev = first.device
    return ClassificationDataset(*(torch.cat([getattr(d, f).to(dev) for d in datasets])
                                   for f in ("x", "y", "t")), transform=first.transform)


def _group_positions(datasets: Sequence[AnyDataset]) -> list[Tensor]:
    """Positions of each dataset's rows in their concatenation."""
    offsets = torch.cumsum(torch.tensor([0] + [len(d) for d in datasets]), 0).tolist()
    return [torch.arange(offsets[i], offsets[i + 1]) for i in range(len(datasets))]


class _MultiGroupLoader:
    """Shared iteration: batches of positions -> gathered ``(x, y, t)`` batches."""

    def __init__(self, data: AnyDataset, seed: int | None, shuffle: bool) -> None:
        check_bool("shuffle", shuffle)
        self.data, self.seed, self.shuffle = data, seed, shuffle
        self._generator = make_generator(seed)

    def _plan(self) -> EpochPlan:
        """The epoch to draw: see :data:`EpochPlan`."""
        raise NotImplementedError

    def __len__(self) -> int:
        return self._plan()[2]

    def __iter__(self) -> Iterator[Batch]:
        batches = epoch_batches(*self._plan(), generator=self._generator, shuffle=self.shuffle)
        return _gather(self.data, batches)


def _gather(data: AnyDataset, batches: Sequence[Tensor]) -> Iterator[Batch]:
    """Batches of positions -> ``(x, y, t)`` batches, one gather each on the data's device."""
    if isinstance(data, ClassificationDataset):
        sizes = [len(b) for b in batches]
        flat = torch.cat(list(batches)) if batches else torch.zeros(0, dtype=torch.long)
        return (data.get_batch(idx) for idx in flat.to(data.device).split(sizes))  # one copy
    return iter(DataLoader(data, batch_sampler=[b.tolist() for b in batches]))


def _check_datasets(datasets: Sequence[AnyDataset], name: str) -> list[AnyDataset]:
    if isinstance(datasets, (ClassificationDataset, Dataset)) or not datasets:
        raise ValueError(
            f"{name} must be a non-empty list of datasets, got {datasets!r}. E.g. "
            f"[exp.dataset for exp in benchmark.train_stream]."
        )
    return list(datasets)


def _check_group_batch(batch_size: int, n_groups: int, name: str = "batch_size") -> None:
    _check_batch_size(name, batch_size)
    if batch_size < n_groups:
        raise ValueError(
            f"{name}={batch_size} is smaller than the number of groups ({n_groups}); every "
            f"group needs at least one row per batch. Use {name}>={n_groups}."
        )


class GroupBalancedDataLoader(_MultiGroupLoader):
    """Batches with the same number of rows from every group (dataset).

    Each batch takes ``batch_size // n`` rows from each of the ``n`` datasets and
    one more from each of the first ``batch_size % n``. The epoch lasts as long
    as the longest group (in batches); a shorter group drops out once used up,
    or with ``oversample_small_groups=True`` is reshuffled and cycled so that it
    gives its full share to every batch (Avalanche gives a short share at the
    end of each pass).

    Parameters
    ----------
    datasets : list of ClassificationDataset or torch Dataset
    oversample_small_groups : bool, default False
    batch_size : int, default 32
        Total rows per batch (at least the number of groups).
    seed : int, optional
        Seeds the shuffling; None uses torch's global generator.
    shuffle : bool, default True

    Examples
    --------
    >>> import torch
    >>> from cltutor.data import ClassificationDataset
    >>> a = ClassificationDataset(torch.rand(10, 2), torch.zeros(10))
    >>> b = ClassificationDataset(torch.rand(30, 2), torch.ones(30))
    >>> [int(y.sum()) for _, y, _ in GroupBalancedDataLoader([a, b], batch_size=10, seed=0)]
    [5, 5, 5, 5, 5, 5]

    Notebook ``04_balanced_loaders.ipynb`` counts the rows of each group per batch.
    """

    def __init__(self, datasets: Sequence[AnyDataset], oversample_small_groups: bool = False,
                 batch_size: int = 32, seed: int | None = None, shuffle: bool = True) -> None:
        datasets = _check_datasets(datasets, "datasets")
        _check_group_batch(batch_size, len(datasets))
        check_bool("oversample_small_groups", oversample_small_groups)
        super().__init__(_concat(datasets), seed, shuffle)
        self.datasets, self.batch_size = datasets, batch_size
        self.oversample_small_groups = oversample_small_groups
        self._groups = _group_positions(datasets)

    def _plan(self) -> EpochPlan:
        return _balanced_plan(self._groups, self.batch_size, self.oversample_small_groups)


def _balanced_plan(groups: list[Tensor], batch_size: int, oversample: bool) -> EpochPlan:
    """The epoch follows the longest group (in batches); the others drop out or cycle."""
    sizes = group_quotas(batch_size, len(groups))
    lengths = [-(-len(g) // b) for g, b in zip(groups, sizes, strict=True)]
    longest = lengths.index(max(lengths))  # the first longest ends the epoch, as Avalanche
    cycle = [oversample and i != longest for i in range(len(sizes))]
    return groups, sizes, lengths[longest], cycle


def _task_groups(data: AnyDataset, name: str) -> list[Tensor]:
    """Positions of each task's rows, tasks ascending."""
    labels = getattr(data, "targets_task_labels", None)
    if labels is None:
        raise TypeError(
            f"{name} needs task labels: a ClassificationDataset, or a Dataset with a "
            f"targets_task_labels attribute; got {type(data).__name__}."
        )
    labels = torch.as_tensor(labels).cpu()
    tasks = torch.unique(labels).tolist() or [0]  # an empty dataset: one empty group
    return [(labels == t).nonzero().flatten() for t in tasks]


class TaskBalancedDataLoader(_MultiGroupLoader):
    """A :class:`GroupBalancedDataLoader` over the tasks of one dataset (tasks ascending).

    Parameters
    ----------
    data : ClassificationDataset or torch Dataset with ``targets_task_labels``
    batch_size : int, default 32
    oversample_small_groups : bool, default False
    seed : int, optional
    shuffle : bool, default True

    Examples
    --------
    >>> import torch
    >>> from cltutor.data import ClassificationDataset
    >>> ds = ClassificationDataset(torch.rand(20, 2), torch.zeros(20), t=torch.arange(20) % 2)
    >>> [t.tolist() for _, _, t in TaskBalancedDataLoader(ds, batch_size=4, seed=0)][0]
    [0, 0, 1, 1]

    Notebook ``04_balanced_loaders.ipynb`` uses it on a multi-task stream.
    """

    def __init__(self, data: AnyDataset, batch_size: int = 32,
                 oversample_small_groups: bool = False, seed: int | None = None,
                 shuffle: bool = True) -> None:
        groups = _task_groups(data, "data")
        _check_group_batch(batch_size, len(groups))
        check_bool("oversample_small_groups", oversample_small_groups)
        super().__init__(data, seed, shuffle)
        self.oversample_small_groups = oversample_small_groups
        self.batch_size, self._groups = batch_size, groups

    def _plan(self) -> EpochPlan:
        return _balanced_plan(self._groups, self.batch_size, self.oversample_small_groups)


class ReplayDataLoader(_MultiGroupLoader):
    """Batches of ``batch_size`` data rows followed by ``batch_size_mem`` memory rows.

    The epoch is one pass over ``data``: ``ceil(len(data) / batch_size)`` batches.
    With ``oversample_small_tasks`` (as :class:`~cltutor.strategies.replay.ReplayPlugin`
    asks) the memory is reshuffled and cycled, and every batch gets exactly
    ``batch_size_mem`` memory rows (Avalanche gives a short memory share at the end
    of each pass over the memory); otherwise the memory drops out once used up.
    With ``task_balanced_dataloader`` the memory rows of each batch are split over
    the memory's task labels (ascending) as in a GroupBalancedDataLoader.

    Parameters
    ----------
    data, memory : ClassificationDataset or torch Dataset
    oversample_small_tasks : bool, default False
    batch_size, batch_size_mem : int, default 32
    task_balanced_dataloader : bool, default False
    seed : int, optional
    shuffle : bool, default True

    Examples
    --------
    >>> import torch
    >>> from cltutor.data import ClassificationDataset
    >>> data = ClassificationDataset(torch.rand(40, 2), torch.zeros(40))
    >>> memory = ClassificationDataset(torch.rand(12, 2), torch.ones(12))
    >>> loader = ReplayDataLoader(data, memory, oversample_small_tasks=True, batch_size=8,
    ...                           batch_size_mem=8, seed=0)
    >>> [(int((y == 0).sum()), int(y.sum())) for _, y, _ in loader]
    [(8, 8), (8, 8), (8, 8), (8, 8), (8, 8)]

    Notebook ``05_replay.ipynb`` builds replay on top of it.
    """

    def __init__(self, data: AnyDataset, memory: AnyDataset,
                 oversample_small_tasks: bool = False, batch_size: int = 32,
                 batch_size_mem: int = 32, task_balanced_dataloader: bool = False,
                 seed: int | None = None, shuffle: bool = True) -> None:
        _check_batch_size("batch_size", batch_size)
        _check_batch_size("batch_size_mem", batch_size_mem)
        check_bool("oversample_small_tasks", oversample_small_tasks)
        check_bool("task_balanced_dataloader", task_balanced_dataloader)
        if memory is None or len(memory) == 0:
            raise ValueError(
                "memory is empty; a replay batch needs stored rows. Use BatchLoader(data) "
                "until the buffer holds data (ReplayPlugin does)."
            )
        mem_groups = _task_groups(memory, "memory") if task_balanced_dataloader else \
            [torch.arange(len(memory))]
        if task_balanced_dataloader:
            _check_group_batch(batch_size_mem, len(mem_groups), "batch_size_mem")
        super().__init__(_concat([data, memory]), seed, shuffle)
        self.oversample_small_tasks = oversample_small_tasks
        self.batch_size, self.batch_size_mem = batch_size, batch_size_mem
        self.task_balanced_dataloader = task_balanced_dataloader
        self._groups = [torch.arange(len(data))] + [g + len(data) for g in mem_groups]

    def _plan(self) -> EpochPlan:
        n_mem = len(self._groups) - 1
        sizes = [self.batch_size] + group_quotas(self.batch_size_mem, n_mem)
        steps = -(-len(self._groups[0]) // self.batch_size)  # one pass over the data
        return self._groups, sizes, steps, [False] + [self.oversample_small_tasks] * n_mem


class GroupBalancedInfiniteDataLoader:
    """Endless batches of ``batch_size`` rows from *each* group, drawn at random.

    Unlike :class:`GroupBalancedDataLoader`, ``batch_size`` is per group (as in
    Avalanche), so a batch has ``n_groups * batch_size`` rows. Each group is
    reshuffled and cycled, so every row comes back once per pass over its group.

    Examples
    --------
    >>> import itertools, torch
    >>> from cltutor.data import ClassificationDataset
    >>> a = ClassificationDataset(torch.rand(5, 2), torch.zeros(5))
    >>> b = ClassificationDataset(torch.rand(50, 2), torch.ones(50))
    >>> loader = GroupBalancedInfiniteDataLoader([a, b], batch_size=3, seed=0)
    >>> [y.tolist() for _, y, _ in itertools.islice(loader, 2)]
    [[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1]]

    Notebook ``04_balanced_loaders.ipynb`` compares it with the GroupBalancedDataLoader.
    """

    def __init__(self, datasets: Sequence[AnyDataset], batch_size: int = 32,
                 seed: int | None = None) -> None:
        datasets = _check_datasets(datasets, "datasets")
        _check_batch_size("batch_size", batch_size)
        if all(len(d) == 0 for d in datasets):
            raise ValueError("datasets are all empty; there is nothing to sample from.")
        self.datasets, self.batch_size, self.seed = datasets, batch_size, seed
        self.data = _concat(datasets)
        self._groups = [g for g in _group_positions(datasets) if len(g)]
        self._generator = make_generator(seed)

    def _next_positions(self, pending: list[Tensor], steps: int) -> Tensor:
        """Positions of the next ``steps`` batches, shape ``(steps, G * batch_size)``."""
        need, out = steps * self.batch_size, []
        for g, rows in enumerate(self._groups):
            while len(pending[g]) < need:  # append reshuffled passes
                passes = -(-(need - len(pending[g])) // len(rows))
                order = shuffled_passes(len(rows), passes, self._generator)
                pending[g] = torch.cat([pending[g], rows.index_select(0, order)])
            out.append(pending[g][:need].view(steps, self.batch_size))
            pending[g] = pending[g][need:]
        return torch.cat(out, 1)  # (steps, G * batch_size), group 0's rows first

    def __iter__(self) -> Iterator[Batch]:
        pending = [torch.zeros(0, dtype=torch.long) for _ in self._groups]
        steps = max(1, max(len(g) for g in self._groups) // self.batch_size)
        while True:
            yield from _gather(self.data, list(self._next_positions(pending, steps)))
