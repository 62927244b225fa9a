"""Replay buffers (storage policies): which past samples a learner keeps.

A buffer is a set of *groups* (one for a reservoir; one per experience, class or
task for the balanced buffers), each with a quota of slots. Every stored row
carries its group and a *priority*; an update keeps, in each group, the rows of
highest priority among the stored rows and the new ones (see
:mod:`cltutor.memory.selection`). Reservoir sampling draws a random priority once
per sample; a :class:`~cltutor.memory.parametric.ParametricBuffer` asks its selection
strategy for a ranking.

The stored rows are one :class:`~cltutor.memory.storage.StoredRows` record on the
data's device (the strategy's device inside a strategy). An update concatenates the
stored and the new groups and priorities, keeps each group's top rows
(:func:`~cltutor.memory.quotas.keep_top_per_group`) and gathers them into a new
record: storage grows with the rows kept, and a dataset read from ``.buffer`` is never
changed afterwards. Quotas are deterministic: groups in ascending key order, which is
arrival order for experiences and ascending ids for classes and tasks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from cltutor._checks import check_bool, check_positive_int, make_generator
from cltutor.data.dataset import ClassificationDataset
from cltutor.memory.quotas import group_quotas, keep_top_per_group
from cltutor.memory.storage import StoredRows

__all__ = [
    "ExemplarsBuffer",
    "ReservoirSamplingBuffer",
    "BufferGroup",
    "BalancedExemplarsBuffer",
    "ExperienceBalancedBuffer",
    "ClassBalancedBuffer",
]


def _experience_data(strategy: Any) -> ClassificationDataset:
    """``strategy.experience.dataset``, moved to ``strategy.device`` when it has one."""
    experience = getattr(strategy, "experience", None)
    if not hasattr(experience, "dataset"):
        raise TypeError(
            "update(strategy) reads strategy.experience.dataset; pass a strategy or "
            "SimpleNamespace(experience=exp)."
        )
    data = experience.dataset
    if not isinstance(data, ClassificationDataset):
        raise TypeError(
            f"buffers store ClassificationDataset rows, got {type(data).__name__}. Wrap the "
            f"tensors: ClassificationDataset(x, y, t)."
        )
    device = getattr(strategy, "device", None)
    return data.to(device) if device is not None else data


class ExemplarsBuffer:
    """Base class of the buffers: ``max_size``, ``buffer``, ``update``, ``resize``.

    Every new row gets a group (:meth:`_group_keys`; one group here) and a
    priority (:meth:`_new_priorities`); each group keeps its quota of highest
    priorities. ``buf(strategy)`` is ``buf.update(strategy)`` (the form of Avalanche's
    older ``ext_mem`` API).

    Parameters
    ----------
    max_size : int
        Most rows the buffer ever holds.
    seed : int, optional
        Seeds the random choices; None uses torch's global generator.
    """

    def __init__(self, max_size: int, seed: int | None = None) -> None:
        check_positive_int("max_size", max_size, "Use max_size=200 for a small memory.")
        self.max_size = max_size
        self.seed = seed
        self._generator = make_generator(seed)
        self._stored: StoredRows | None = None  # None until the first rows arrive
        self._seen_groups: list[int] = []  # every group seen, ascending
        self._n_updates = 0  # update calls so far

    @property
    def buffer(self) -> ClassificationDataset:
        """The stored rows as one dataset (a snapshot: an update builds a new one)."""
        if self._stored is None:
            return ClassificationDataset(torch.zeros(0), torch.zeros(0, dtype=torch.long))
        return self._stored.data

    def __len__(self) -> int:
        return 0 if self._stored is None else len(self._stored)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_size={self.max_size}, stored={len(self)})"

    def update(self, strategy: Any, **kwargs: Any) -> None:
        """Add the rows of ``strategy.experience.dataset`` (the only state it reads)."""
        data = _experience_data(strategy)
        if self._stored is not None:
            self._stored.check_format(data)
            data = data.to(self._stored.data.device)  # rows stay where the first ones went
        group = self._group_keys(data)  # (N,)
        self._add_groups(group)
        dev = data.device
        self._keep(strategy, StoredRows(data, group.to(dev), self._new_priorities(data).to(dev)))
        self._n_updates += 1

    __call__ = update

    def resize(self, strategy: Any, new_size: int) -> None:
        """Change ``max_size``; groups shrink to their new quotas, keeping their best rows."""
        check_positive_int("new_size", new_size, "Use new_size=200 for a small memory.")
        self.max_size = new_size
        if self._stored is not None:
            self._keep(strategy, StoredRows.empty_like(self._stored.data))

    def get_group_lengths(self, num_groups: int) -> list[int]:
        """Quota of each of ``num_groups`` groups, in order."""
        return group_quotas(self.max_size, num_groups)

    # -- hooks -------------------------------------------------------------------
    def _group_keys(self, data: ClassificationDataset) -> Tensor:
        return torch.zeros(len(data), dtype=torch.long)

    def _add_groups(self, group: Tensor) -> None:
        # keys are >= 0 (class ids, task labels, update counts), so bincount finds them
        present = torch.bincount(group).nonzero().flatten() if len(group) else group
        self._seen_groups = sorted(set(self._seen_groups) | set(present.tolist()))

    def _new_priorities(self, data: ClassificationDataset) -> Tensor:
        """Uniform random keys ``(N,)`` (reservoir sampling), drawn on the CPU."""
        return torch.rand(len(data), generator=self._generator, dtype=torch.float64)

    def _rank(self, strategy: Any, old: StoredRows,
              new: StoredRows) -> tuple[StoredRows, StoredRows]:
        return old, new  # ParametricBuffer re-ranks its groups here

    def _keep(self, strategy: Any, new: StoredRows) -> None:
        """Keep each group's top rows among the stored rows and ``new``."""
        if self._stored is None:
            if len(new) == 0:
                return
            self._stored = StoredRows.empty_like(new.data)
        old, new = self._rank(strategy, self._stored, new)
        group = torch.cat([old.group, new.group])  # (n + N,), stored rows first
        priority = torch.cat([old.priority, new.priority])
        present, position = torch.unique(group, return_inverse=True)  # (G,), (n + N,) in 0..G-1
        seen = self._seen_groups
        quota = dict(zip(seen, self.get_group_lengths(len(seen)), strict=True))
        quotas = torch.tensor([quota[key] for key in present.tolist()], device=group.device)
        keep = keep_top_per_group(position, priority, quotas)  # (n + N,)
        n = len(old)  # gather only the rows that stay, not all n + N
        self._stored = old.subset(keep[:n]).concat(new.subset(keep[n:]))


class ReservoirSamplingBuffer(ExemplarsBuffer):
    """A uniform random subset of everything seen so far (reservoir sampling).

    Each sample gets a random key once, when it arrives; the buffer keeps the
    ``max_size`` largest keys: a uniform random subset of all the data seen.

    Parameters
    ----------
    max_size : int
    seed : int, optional
        Seeds the keys; None uses torch's global generator.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cltutor import SplitDigits
    >>> buf = ReservoirSamplingBuffer(max_size=30, seed=0)
    >>> for exp in SplitDigits(n_experiences=5, seed=0).train_stream:
    ...     buf.update(SimpleNamespace(experience=exp))
    >>> len(buf.buffer), len(buf.buffer.classes) > 5
    (30, True)

    Notebook ``03_buffers.ipynb`` fills one experience by experience.
    """

    def get_group_lengths(self, num_groups: int) -> list[int]:
        return [self.max_size] * num_groups  # one group


@dataclass(frozen=True)
class BufferGroup:
    """One group of a balanced buffer: its quota and a copy of its rows."""

    max_size: int
    buffer: ClassificationDataset

    def __len__(self) -> int:
        return len(self.buffer)


class BalancedExemplarsBuffer(ExemplarsBuffer):
    """A buffer split into groups with equal quotas.

    Parameters
    ----------
    max_size : int
    adaptive_size : bool, default True
        True: divide ``max_size`` over the groups seen so far, the remainder one
        slot each to the first groups. False: ``max_size // total_num_groups`` per
        group from the start (the remainder stays unused, as in Avalanche).
    total_num_groups : int, optional
        Required when ``adaptive_size=False``.
    seed : int, optional

    Attributes
    ----------
    buffer_groups : dict[int, BufferGroup]
        Group key -> its quota and rows, keys ascending.
    ext_mem : dict[int, ClassificationDataset]
        Group key -> its rows (the view of Avalanche's older ``ext_mem`` API).
    """

    _total_name = "total_num_groups"
    _group_noun = ("group", "groups")

    def __init__(self, max_size: int, adaptive_size: bool = True,
                 total_num_groups: int | None = None, seed: int | None = None) -> None:
        super().__init__(max_size, seed=seed)
        name = self._total_name
        check_bool("adaptive_size", adaptive_size)
        if adaptive_size and total_num_groups is not None:
            raise ValueError(
                f"{name}={total_num_groups!r} only applies with adaptive_size=False; drop "
                f"{name} or set adaptive_size=False."
            )
        if not adaptive_size:
            check_positive_int(name, total_num_groups, f"adaptive_size=False divides max_size "
                               f"by it: e.g. {name}=5, or use adaptive_size=True.")
        self.adaptive_size = adaptive_size
        self.total_num_groups = total_num_groups

    def get_group_lengths(self, num_groups: int) -> list[int]:
        total = None if self.adaptive_size else self.total_num_groups
        return group_quotas(self.max_size, num_groups, total)

    def _add_groups(self, group: Tensor) -> None:
        before, starved_before = self._seen_groups, self._starved()
        super()._add_groups(group)
        if not self.adaptive_size and len(self._seen_groups) > self.total_num_groups:
            seen, self._seen_groups = len(self._seen_groups), before
            raise ValueError(
                f"{type(self).__name__} has {self._total_name}={self.total_num_groups} but "
                f"the data brings group {seen}; raise {self._total_name} or use "
                f"adaptive_size=True."
            )
        starved = [key for key in self._starved() if key not in starved_before]
        if starved:  # silent otherwise: those groups would just never be replayed
            n = len(self._seen_groups) if self.adaptive_size else self.total_num_groups
            one, many = self._group_noun
            warnings.warn(
                f"{type(self).__name__}(max_size={self.max_size}) has no slot for {many} "
                f"{starved}: {n} {many} share {self.max_size} slots, so these are never "
                f"replayed. Use max_size >= {n} (at least one slot per {one}).",
                UserWarning, stacklevel=3,
            )

    def _starved(self) -> list[int]:
        """Groups seen so far whose quota is 0."""
        quotas = self.get_group_lengths(len(self._seen_groups))
        return [key for key, quota in zip(self._seen_groups, quotas, strict=True) if quota == 0]

    @property
    def buffer_groups(self) -> dict[int, BufferGroup]:
        """Group key -> :class:`BufferGroup` (its quota and rows), keys ascending."""
        data = self.buffer
        group = self._stored.group if self._stored is not None else torch.zeros(0)  # (n,)
        quotas = self.get_group_lengths(len(self._seen_groups))
        return {key: BufferGroup(quota, data.subset(group == key))
                for key, quota in zip(self._seen_groups, quotas, strict=True)}

    @property
    def ext_mem(self) -> dict[int, ClassificationDataset]:
        """Group key -> its rows, the ``ext_mem`` dict of Avalanche's older storage-policy API."""
        return {key: group.buffer for key, group in self.buffer_groups.items()}


class ExperienceBalancedBuffer(BalancedExemplarsBuffer):
    """Equal room for every experience; each experience keeps a random subset.

    Groups are keyed 0, 1, 2, ... in the order the buffer receives experiences,
    and the oldest get the remainder: 10 slots over 3 experiences is 4, 3, 3.
    An experience smaller than its quota leaves its spare slots empty.

    Parameters
    ----------
    max_size : int
    adaptive_size : bool, default True
        True: divide over the experiences seen so far (the first one may fill
        the whole buffer). False: divide by ``num_experiences`` from the start.
    num_experiences : int, optional
        Required when ``adaptive_size=False``.
    seed : int, optional

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cltutor import SplitDigits
    >>> buf = ExperienceBalancedBuffer(max_size=10, seed=0)
    >>> for exp in SplitDigits(n_experiences=5, seed=0).train_stream[:3]:
    ...     buf.update(SimpleNamespace(experience=exp))
    >>> {k: len(g) for k, g in buf.buffer_groups.items()}
    {0: 4, 1: 3, 2: 3}

    Notebook ``03_buffers.ipynb`` plots its class composition after each experience.
    """

    _total_name = "num_experiences"
    _group_noun = ("experience", "experiences")

    def __init__(self, max_size: int, adaptive_size: bool = True,
                 num_experiences: int | None = None, seed: int | None = None) -> None:
        super().__init__(max_size, adaptive_size, num_experiences, seed=seed)
        self.num_experiences = num_experiences

    def _group_keys(self, data: ClassificationDataset) -> Tensor:
        return torch.full((len(data),), self._n_updates, dtype=torch.long)

    def _add_groups(self, group: Tensor) -> None:
        super()._add_groups(torch.tensor([self._n_updates]))  # a group even if empty


class ClassBalancedBuffer(BalancedExemplarsBuffer):
    """Equal room for every class; each class keeps a random subset of its samples.

    The remainder goes to the smallest class ids. A class seen again keeps a
    uniform random subset of all its samples so far.

    Parameters
    ----------
    max_size : int
    adaptive_size : bool, default True
        True: divide over the classes seen so far. False: by ``total_num_classes``.
    total_num_classes : int, optional
        Required when ``adaptive_size=False``.
    seed : int, optional

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cltutor import SplitDigits
    >>> buf = ClassBalancedBuffer(max_size=10, seed=0)
    >>> buf.update(SimpleNamespace(experience=SplitDigits(n_experiences=5).train_stream[0]))
    >>> [len(g) for g in buf.buffer_groups.values()]
    [5, 5]

    Notebook ``03_buffers.ipynb`` compares it with ExperienceBalancedBuffer.
    """

    _total_name = "total_num_classes"
    _group_noun = ("class", "classes")

    def __init__(self, max_size: int, adaptive_size: bool = True,
                 total_num_classes: int | None = None, seed: int | None = None) -> None:
        super().__init__(max_size, adaptive_size, total_num_classes, seed=seed)
        self.total_num_classes = total_num_classes

    def _group_keys(self, data: ClassificationDataset) -> Tensor:
        return data.targets
