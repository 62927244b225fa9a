"""Minibatch loaders that gather batches from tensors.

For a :class:`~cltutor.data.ClassificationDataset` every batch is one
``index_select`` on tensors already on the training device. Any other torch
``Dataset`` goes through ``torch.utils.data.DataLoader`` with the very same
batches of indices, so the batch composition never depends on the data type.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from cltutor.data import ClassificationDataset

__all__ = ["BatchLoader", "make_generator"]

Batch = tuple[Tensor, Tensor, Tensor]


def make_generator(seed: int | None) -> torch.Generator | None:
    """A seeded CPU generator, or None to draw from torch's global generator."""
    if seed is None:
        return None
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int or None, got {seed!r}.")
    return torch.Generator().manual_seed(seed)


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}. Try {name}=32.")


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
        _check_positive("batch_size", batch_size)
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
        if self.shuffle:
            order = torch.randperm(n, generator=self._generator)
        else:
            order = torch.arange(n)
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
        loader = DataLoader(self.dataset, batch_sampler=[b.tolist() for b in batches])
        return iter(loader)
