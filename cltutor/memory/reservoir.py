"""Algorithm R: the reservoir that online replay updates one minibatch at a time.

The classic reservoir (Vitter's Algorithm R) keeps a uniform sample of ``M`` rows from a
stream whose length nobody knows in advance. Sample number ``i`` (counting from 0) goes to
slot ``i`` while the memory is filling; afterwards it draws ``r`` uniformly from
``0..i`` and replaces slot ``r`` when ``r < M``, so it is kept with probability
``M / (i + 1)``. By induction every one of the ``n`` samples seen so far is in the memory
with probability ``M / n``: the newest by its draw, an older one because it was kept
with ``M / (n - 1)`` and survives the newcomer with ``1 - 1 / n``.

:class:`~cltutor.memory.ReservoirSamplingBuffer` (notebook 03) reaches the same uniform
sample another way: a random key per row, the ``M`` largest keys kept. Both are uniform;
the random keys need every row at once (one experience), Algorithm R one row at a time.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cltutor._checks import check_int_range, check_positive_int, make_generator

__all__ = ["algorithm_r_slots", "ReservoirMemory"]


def algorithm_r_slots(n_seen: int, batch_size: int, mem_size: int,
                      generator: torch.Generator | None = None) -> Tensor:
    """The slot each of the next ``batch_size`` samples is written to, or -1 (dropped).

    ``n_seen`` samples came before them. Within a batch, a later sample that draws the
    slot an earlier one was written to overwrites it, as in the one-at-a-time algorithm.

    Examples
    --------
    >>> algorithm_r_slots(0, 3, mem_size=5).tolist()  # filling: slots 0, 1, 2
    [0, 1, 2]
    >>> slots = algorithm_r_slots(1000, 4, mem_size=5, generator=torch.Generator().manual_seed(0))
    >>> bool(((slots == -1) | ((slots >= 0) & (slots < 5))).all())
    True
    """
    check_int_range("n_seen", n_seen, 0, None, "It counts the samples seen so far.")
    check_int_range("batch_size", batch_size, 0, None, "It is the number of new samples.")
    check_positive_int("mem_size", mem_size, "Use mem_size=200 for a small memory.")
    i = torch.arange(n_seen, n_seen + batch_size)  # (B,) each sample's number in the stream
    u = torch.rand(batch_size, generator=generator, dtype=torch.float64)
    r = (u * (i + 1)).long().clamp_(max=i)  # (B,) uniform on 0..i (clamp: u*(i+1) == i+1)
    slot = torch.where(i < mem_size, i, r)
    return torch.where(slot < mem_size, slot, -1)


def _last_writers(slots: Tensor) -> tuple[Tensor, Tensor]:
    """``(slot, row)`` pairs: each slot written once, by the last row of the batch drawing it.

    Costs ``O(B log B)`` for a batch of ``B``, whatever the memory's size."""
    rows = (slots >= 0).nonzero().flatten()  # (K,) the rows kept, ascending
    order = torch.argsort(slots[rows], stable=True)  # by slot; rows stay ascending within one
    slot, row = slots[rows][order], rows[order]
    last = torch.ones_like(slot, dtype=torch.bool)
    last[:-1] = slot[1:] != slot[:-1]  # the last row of each run of equal slots
    return slot[last], row[last]


class ReservoirMemory:
    """``mem_size`` slots of named tensors, updated a minibatch at a time by Algorithm R.

    ``update(x=..., y=..., ...)`` offers a batch of rows (every field the same length);
    ``sample(k)`` draws ``k`` distinct stored rows. The storage grows with the rows kept
    and never exceeds ``mem_size``; ``n_seen`` counts every row offered.

    Parameters
    ----------
    mem_size : int
    seed : int, optional
        Seeds the reservoir's draws and the samples; None uses torch's global generator.

    Examples
    --------
    >>> import torch
    >>> memory = ReservoirMemory(mem_size=4, seed=0)
    >>> for start in range(0, 12, 3):
    ...     _ = memory.update(x=torch.arange(start, start + 3.0).view(3, 1),
    ...                       y=torch.arange(start, start + 3))
    >>> len(memory), memory.n_seen, sorted(memory.fields)
    (4, 12, ['x', 'y'])
    >>> batch = memory.sample(2)
    >>> bool((batch["x"].flatten().long() == batch["y"]).all())  # rows stay whole
    True

    Notebook ``11_beyond_replay.ipynb`` checks that each row stays with probability M/n.
    """

    def __init__(self, mem_size: int, seed: int | None = None) -> None:
        check_positive_int("mem_size", mem_size, "Use mem_size=200 for a small memory.")
        self.mem_size = mem_size
        self.seed = seed
        self.n_seen = 0
        self.fields: dict[str, Tensor] = {}  # name -> (len(self), ...) tensor
        self._generator = make_generator(seed)

    def __len__(self) -> int:
        return min(self.n_seen, self.mem_size)

    def __repr__(self) -> str:
        return f"ReservoirMemory(mem_size={self.mem_size}, stored={len(self)}, seen={self.n_seen})"

    def update(self, **rows: Tensor) -> Tensor:
        """Offer a batch of rows; return the slots written (each once)."""
        sizes = {name: len(v) for name, v in rows.items()}
        if not rows or len(set(sizes.values())) != 1:
            raise ValueError(f"update() takes named tensors of one length, e.g. update(x=x, y=y); "
                             f"got lengths {sizes}.")
        if self.fields and set(rows) != set(self.fields):
            raise ValueError(f"update() must be given the fields {sorted(self.fields)}, got "
                             f"{sorted(rows)}; a memory keeps the same fields throughout.")
        slots = algorithm_r_slots(self.n_seen, next(iter(sizes.values())), self.mem_size,
                                  self._generator)
        written, row = _last_writers(slots)
        self.n_seen += len(slots)
        for name, value in rows.items():
            stored = self.fields.get(name, value[:0].detach())
            if len(stored) < len(self):  # filling: the new slots are the next positions
                grow = value.new_empty((len(self) - len(stored), *value.shape[1:]))
                stored = torch.cat([stored, grow])
            stored[written.to(stored.device)] = value.detach()[row.to(value.device)]
            self.fields[name] = stored
        return written

    def sample(self, k: int) -> dict[str, Tensor]:
        """``min(k, len(self))`` distinct stored rows, drawn uniformly, field by field."""
        check_positive_int("k", k, "It is the number of memory rows to draw.")
        pick = torch.randperm(len(self), generator=self._generator)[:k]
        return {name: v[pick.to(v.device)] for name, v in self.fields.items()}
