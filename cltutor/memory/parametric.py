"""The buffer ranked by a selection strategy, and every buffer built by name.

:class:`ParametricBuffer` groups its rows by class, task, experience or not at all
(``groupby``) and lets an :class:`~cltutor.memory.selection.ExemplarsSelectionStrategy`
rank each group; :func:`make_storage_policy` builds any buffer from the names the
command line and the notebook widgets use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn

from cltutor._checks import check_positive_int
from cltutor.data.dataset import ClassificationDataset
from cltutor.memory.buffers import (
    BalancedExemplarsBuffer,
    ClassBalancedBuffer,
    ExemplarsBuffer,
    ExperienceBalancedBuffer,
    ReservoirSamplingBuffer,
)
from cltutor.memory.selection import (
    ExemplarsSelectionStrategy,
    RandomExemplarsSelectionStrategy,
    make_selection_strategy,
)
from cltutor.memory.storage import StoredRows

__all__ = ["ParametricBuffer", "make_storage_policy", "STORAGE_POLICIES"]


class ParametricBuffer(BalancedExemplarsBuffer):
    """Groups by ``groupby``, each ranked by a selection strategy (random by default).

    Parameters
    ----------
    max_size : int
    groupby : {None, "class", "task", "experience"}
        None: one group. "experience": one group per ``update`` call, keyed 0, 1,
        2, ... (a counter of its own, so the buffer works standalone; Avalanche
        reads ``strategy.clock`` and starts at 1).
    selection_strategy : ExemplarsSelectionStrategy, optional
        Default ``RandomExemplarsSelectionStrategy(seed)``.
    seed : int, optional

    Notes
    -----
    When a group gains rows or must shrink, the strategy ranks the group's
    stored rows then its new rows, once, and only up to the quota (so herding
    stops there). Groups that neither gain nor shrink are left alone.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cltutor import SplitDigits
    >>> buf = ParametricBuffer(max_size=30, groupby="class", seed=0)
    >>> for exp in SplitDigits(n_experiences=5, seed=0).train_stream:
    ...     buf.update(SimpleNamespace(experience=exp))
    >>> [len(g) for g in buf.buffer_groups.values()]
    [3, 3, 3, 3, 3, 3, 3, 3, 3, 3]

    Notebook ``03_buffers.ipynb`` switches ``groupby`` and the selection with widgets.
    """

    def __init__(self, max_size: int, groupby: str | None = None,
                 selection_strategy: ExemplarsSelectionStrategy | None = None,
                 seed: int | None = None) -> None:
        super().__init__(max_size, seed=seed)
        if groupby not in _GROUP_KEYS:
            raise ValueError(
                f"groupby must be None, 'class', 'task' or 'experience', got {groupby!r}."
            )
        if selection_strategy is None:
            selection_strategy = RandomExemplarsSelectionStrategy(seed=seed)
        if not isinstance(selection_strategy, ExemplarsSelectionStrategy):
            raise TypeError(
                f"selection_strategy must be an ExemplarsSelectionStrategy, got "
                f"{type(selection_strategy).__name__}. E.g. HerdingSelectionStrategy(model, "
                f"'features')."
            )
        self.groupby = groupby
        self.selection_strategy = selection_strategy

    @property
    def _group_noun(self) -> tuple[str, str]:
        """How the warning about groups without a slot names them."""
        return (self.groupby, f"{self.groupby}es" if self.groupby == "class" else
                f"{self.groupby}s") if self.groupby else ("group", "groups")

    def _group_keys(self, data: ClassificationDataset) -> Tensor:
        return _GROUP_KEYS[self.groupby](self, data)

    def _add_groups(self, group: Tensor) -> None:
        if self.groupby == "experience":  # a group even if empty, as ExperienceBalanced
            group = torch.tensor([self._n_updates])
        super()._add_groups(group)

    def _new_priorities(self, data: ClassificationDataset) -> Tensor:
        return torch.zeros(len(data), dtype=torch.float64)  # _rank sets them

    def _rank(self, strategy: Any, old: StoredRows,
              new: StoredRows) -> tuple[StoredRows, StoredRows]:
        """Rank the candidates of every group that gains rows or must shrink."""
        old_priority, new_priority = old.priority.clone(), new.priority.clone()
        dev = old_priority.device
        quotas = self.get_group_lengths(len(self._seen_groups))
        for key, quota in zip(self._seen_groups, quotas, strict=True):
            in_old = (old.group == key).nonzero().flatten()  # (a,) its stored rows
            in_new = (new.group == key).nonzero().flatten()  # (b,) its new rows
            if len(in_new) == 0 and len(in_old) <= quota:
                continue
            its_new = new.data if len(in_new) == len(new) else new.data.subset(in_new)
            candidates = old.data.subset(in_old).concat(its_new)  # (a + b) rows, stored first
            order = self.selection_strategy.make_sorted_indices(strategy, candidates, k=quota)
            rank = torch.full((len(candidates),), float("-inf"), dtype=torch.float64, device=dev)
            best_first = -torch.arange(len(order), dtype=torch.float64, device=dev)
            rank.index_copy_(0, order.to(dev), best_first)  # best 0, -1, ...; dropped -inf
            old_priority.index_copy_(0, in_old, rank[: len(in_old)])
            new_priority.index_copy_(0, in_new, rank[len(in_old) :])
        return replace(old, priority=old_priority), replace(new, priority=new_priority)


#: groupby -> the group key of each new row, shape (N,)
_GROUP_KEYS: dict[str | None, Callable[[ParametricBuffer, ClassificationDataset], Tensor]] = {
    None: lambda buf, data: torch.zeros(len(data), dtype=torch.long),
    "class": lambda buf, data: data.targets,
    "task": lambda buf, data: data.targets_task_labels,
    "experience": lambda buf, data: torch.full((len(data),), buf._n_updates),  # arrival order
}

_RANDOM_POLICIES = {
    "experience": ExperienceBalancedBuffer,
    "class": ClassBalancedBuffer,
    "reservoir": ReservoirSamplingBuffer,
}
STORAGE_POLICIES = (*_RANDOM_POLICIES, "parametric")


def make_storage_policy(
    kind: str,
    mem_size: int,
    *,
    groupby: str | None = None,
    selection: str = "random",
    model: nn.Module | None = None,
    layer_name: str | None = None,
    seed: int | None = None,
) -> ExemplarsBuffer:
    """Build a buffer by name, as the command line and the notebook widgets do.

    ``kind`` is one of "experience", "class", "reservoir", "parametric";
    ``groupby`` (None, "class", "task", "experience") and ``selection`` ("random",
    "herding", "closest-to-center") only apply to "parametric". Herding and
    closest-to-center need ``model``; ``layer_name`` defaults to "features".

    >>> make_storage_policy("parametric", 200, groupby="class")
    ParametricBuffer(max_size=200, stored=0)
    """
    if kind not in STORAGE_POLICIES:
        raise ValueError(f"kind must be one of {list(STORAGE_POLICIES)}, got {kind!r}.")
    check_positive_int("mem_size", mem_size, "Use mem_size=200 for a small memory.")
    if kind != "parametric" and (groupby is not None or selection != "random"):
        raise ValueError(
            f"groupby and selection only apply to kind='parametric', got kind={kind!r} with "
            f"groupby={groupby!r}, selection={selection!r}. Use kind='parametric'."
        )
    if kind in _RANDOM_POLICIES:
        return _RANDOM_POLICIES[kind](mem_size, seed=seed)
    chooser = make_selection_strategy(selection, model, layer_name, seed=seed)
    return ParametricBuffer(mem_size, groupby=groupby, selection_strategy=chooser, seed=seed)
