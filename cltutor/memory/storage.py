"""Where a buffer keeps its rows: one block of tensors, rows ``[0, n)`` in use.

:class:`SlotStorage` holds the stored inputs, labels, task labels, group keys and
priorities of a buffer side by side, so that an update replaces rows with a few
``index_copy_`` calls instead of building new datasets.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cltutor.data.dataset import ClassificationDataset

__all__ = ["SlotStorage", "FIELDS"]

FIELDS = ("x", "y", "t", "group", "priority")  # what every slot holds


class SlotStorage:
    """``capacity`` preallocated rows; rows ``[0, n)`` hold the buffer.

    Allocated at the first insert, on that data's device. A view handed out by
    :meth:`view` stays a valid snapshot: the next write copies the tensors first.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity, self.n, self.transform = capacity, 0, None
        self.x: Tensor | None = None  # (capacity, ...) raw inputs
        self.y = self.t = self.group = self.priority = torch.zeros(0)  # (capacity,) each
        self._shared = False

    def allocate(self, like: ClassificationDataset) -> None:
        cap, dev = self.capacity, like.device
        self.x = like.x.new_empty((cap, *like.x.shape[1:]))
        self.y, self.t, self.group = (torch.empty(cap, dtype=torch.long, device=dev)
                                      for _ in range(3))
        self.priority = torch.empty(cap, dtype=torch.float64, device=dev)
        self.transform = like.transform

    def check(self, data: ClassificationDataset) -> None:
        if self.x is None:
            return
        if data.x.shape[1:] != self.x.shape[1:] or data.x.dtype != self.x.dtype:
            raise ValueError(
                f"the buffer stores inputs of shape {tuple(self.x.shape[1:])} {self.x.dtype} "
                f"but the experience has {tuple(data.x.shape[1:])} {data.x.dtype}; use one "
                f"buffer per input format."
            )
        if data.transform is not self.transform:
            raise ValueError(
                "the experience has a different transform from the rows already stored; a "
                "buffer applies one batch transform to all its rows. Give every experience "
                "the same transform object."
            )

    def resize(self, capacity: int) -> None:
        """New tensors of ``capacity`` rows holding rows ``[0, n)`` (needs n <= capacity)."""
        self.capacity = capacity
        for name in FIELDS if self.x is not None else ():
            old = getattr(self, name)
            setattr(self, name, torch.cat([old[: self.n], old.new_empty(capacity - self.n,
                                                                          *old.shape[1:])]))
        self._shared = False

    def view(self, share: bool = True) -> ClassificationDataset:
        """Rows ``[0, n)`` as a dataset; ``share=False`` for a read done before any write."""
        if self.x is None:
            return ClassificationDataset(torch.zeros(0), torch.zeros(0, dtype=torch.long))
        self._shared = self._shared or share
        return ClassificationDataset(self.x[: self.n], self.y[: self.n], self.t[: self.n],
                                     self.transform)

    def rewrite(self, keep_old: Tensor, new: dict[str, Tensor]) -> None:
        """Keep the stored rows where ``keep_old`` (n,) is true and add the rows of ``new``.

        Kept rows stay in their slots, except those past the new end, which move
        down; new rows fill the freed slots. A full reservoir writes only the
        rows that enter.
        """
        if self._shared:  # a view is out: copy, so the view keeps its rows
            for name in FIELDS:
                setattr(self, name, getattr(self, name).clone())
            self._shared = False
        kept = keep_old.nonzero().flatten()  # (k,) slots that stay, ascending
        end = len(kept) + len(new["y"])
        split = int((kept < end).sum())
        occupied = torch.zeros(end, dtype=torch.bool, device=kept.device)
        occupied.index_fill_(0, kept[:split], True)
        free = (~occupied).nonzero().flatten()  # slots in [0, end) to fill
        movers = kept[split:]  # kept rows past the end
        for name in FIELDS:
            store = getattr(self, name)
            store.index_copy_(0, free[: len(movers)], store.index_select(0, movers))
            store.index_copy_(0, free[len(movers) :], new[name].to(store.device))
        self.n = end
