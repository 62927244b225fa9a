"""What a buffer stores: its rows as one dataset, plus each row's group key and priority.

A :class:`StoredRows` record is never written in place. An update builds a new one,
``stored.concat(new).subset(keep)`` in effect, so a dataset handed out by
``buffer.buffer`` stays a valid snapshot and the storage holds only the rows kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from cltutor.data.dataset import ClassificationDataset

__all__ = ["StoredRows"]


@dataclass(frozen=True)
class StoredRows:
    """Rows of a buffer and, aligned with them, their groups and priorities.

    Attributes
    ----------
    data : ClassificationDataset
        The raw rows (a batch transform applies when they are read).
    group : Tensor, shape ``(n,)``, long
        Group key of each row (its experience, class or task).
    priority : Tensor, shape ``(n,)``, float64
        Higher survives the next update.
    """

    data: ClassificationDataset
    group: Tensor
    priority: Tensor

    @classmethod
    def empty_like(cls, data: ClassificationDataset) -> StoredRows:
        """No rows, in the input format, device and transform of ``data``."""
        none = torch.zeros(0, dtype=torch.long, device=data.device)
        return cls(ClassificationDataset.empty_like(data), none, none.double())

    def __len__(self) -> int:
        return len(self.group)

    def subset(self, keep: Tensor) -> StoredRows:
        """The rows where the mask ``keep`` (n,) is true, in their order."""
        rows = keep.nonzero().flatten()  # (k,)
        return StoredRows(self.data.subset(rows), self.group.index_select(0, rows),
                          self.priority.index_select(0, rows))

    def concat(self, other: StoredRows) -> StoredRows:
        """These rows, then ``other``'s (moved to this device)."""
        dev = self.group.device
        return StoredRows(self.data.concat(other.data),
                          torch.cat([self.group, other.group.to(dev)]),
                          torch.cat([self.priority, other.priority.to(dev)]))

    def check_format(self, data: ClassificationDataset) -> None:
        """Refuse rows that could not be batched with the stored ones."""
        x = self.data.x
        if data.x.shape[1:] != x.shape[1:] or data.x.dtype != x.dtype:
            raise ValueError(
                f"the buffer stores inputs of shape {tuple(x.shape[1:])} {x.dtype} but the "
                f"experience has {tuple(data.x.shape[1:])} {data.x.dtype}; use one buffer "
                f"per input format."
            )
        if data.transform is not self.data.transform:
            raise ValueError(
                "the experience has a different transform from the rows already stored; a "
                "buffer applies one batch transform to all its rows. Give every experience "
                "the same transform object."
            )
