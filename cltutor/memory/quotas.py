"""The index maths under the buffers and the loaders: pure functions of tensors.

Both split a budget evenly over groups, :func:`group_quotas`: a buffer's
``max_size`` over experiences or classes, a loader's ``batch_size`` over
datasets or tasks. A buffer keeps in each group the rows of highest priority,
:func:`keep_top_per_group`. A loader plans a whole epoch of batches of row
positions with a few vectorised operations, :func:`epoch_batches`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from cltutor._checks import check_int_range

__all__ = ["group_quotas", "keep_top_per_group", "epoch_batches", "shuffled_passes"]


def group_quotas(max_size: int, n_groups: int, total_groups: int | None = None) -> list[int]:
    """Slots (or batch rows) per group, groups in order.

    Adaptive (``total_groups=None``): ``max_size // n_groups`` each, plus one to each
    of the first ``max_size % n_groups`` groups. Fixed: ``max_size // total_groups``
    each, whatever the number of groups seen so far (the remainder stays unused).

    >>> group_quotas(10, 3), group_quotas(10, 2, total_groups=3)
    ([4, 3, 3], [3, 3])
    """
    check_int_range("max_size", max_size, 0, None, "Use max_size=200 for a small memory.")
    check_int_range("n_groups", n_groups, 0, None, "It counts the groups seen so far.")
    if n_groups == 0:
        return []
    if total_groups is not None:
        return [max_size // total_groups] * n_groups
    base, extra = divmod(max_size, n_groups)
    return [base + (i < extra) for i in range(n_groups)]


def keep_top_per_group(group_pos: Tensor, priority: Tensor, quotas: Tensor) -> Tensor:
    """Mask of the rows to keep: in each group, the ``quotas[g]`` highest priorities.

    Parameters
    ----------
    group_pos : Tensor, shape ``(n,)``, long
        Group of each row, as a position ``0..G-1``.
    priority : Tensor, shape ``(n,)``
        Higher survives; ties keep the earlier row.
    quotas : Tensor, shape ``(G,)``, long

    Returns
    -------
    Tensor, shape ``(n,)``, bool.

    >>> keep_top_per_group(torch.tensor([0, 0, 1, 0]), torch.tensor([.1, .9, .5, .7]),
    ...                    torch.tensor([2, 0])).tolist()
    [False, True, False, True]
    """
    order = torch.argsort(priority, descending=True, stable=True)  # best first
    if len(quotas) > 1:
        by_group = torch.argsort(group_pos.index_select(0, order), stable=True)
        order = order.index_select(0, by_group)  # grouped, best first within a group
    sorted_groups = group_pos.index_select(0, order)
    counts = torch.bincount(sorted_groups, minlength=len(quotas))  # (G,)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(order), device=order.device) - starts.index_select(0, sorted_groups)
    kept = rank < quotas.index_select(0, sorted_groups)
    keep = torch.zeros_like(group_pos, dtype=torch.bool)
    keep.scatter_(0, order, kept)
    return keep


def _rows_per_batch(n: int, b: int, steps: int, cycle: bool) -> Tensor:
    """Rows a group of ``n`` gives to each of ``steps`` batches, shape ``(steps,)``.

    A cycling group always gives ``b`` (its passes run end to end, reshuffled);
    another gives ``b, ..., b, n % b`` over one pass and then nothing.
    """
    if n == 0:
        return torch.zeros(steps, dtype=torch.long)
    if cycle:
        return torch.full((steps,), b, dtype=torch.long)
    one_pass = torch.tensor([b] * (n // b) + ([n % b] if n % b else []))[:steps]
    return torch.cat([one_pass, torch.zeros(steps - len(one_pass), dtype=torch.long)])


def shuffled_passes(n: int, passes: int, generator: torch.Generator | None = None,
                    shuffle: bool = True) -> Tensor:
    """``passes`` orders of ``range(n)`` end to end, shape ``(passes * n,)``; shuffled each."""
    if not shuffle:
        return torch.arange(n).repeat(passes)
    if passes == 1:
        return torch.randperm(n, generator=generator)
    return torch.argsort(torch.rand(passes, n, generator=generator), dim=1).flatten()


def epoch_batches(
    groups: Sequence[Tensor],
    sizes: Sequence[int],
    steps: int,
    cycle: Sequence[bool],
    generator: torch.Generator | None = None,
    shuffle: bool = True,
) -> list[Tensor]:
    """One epoch of batches of positions: each batch is group 0's rows, then group 1's, ...

    Parameters
    ----------
    groups : list of Tensor
        Positions of each group's rows (in the dataset the batches index).
    sizes : list of int
        Rows per batch from each group.
    steps : int
        Batches in the epoch.
    cycle : list of bool
        Whether each group restarts (reshuffled) when exhausted, or drops out.

    Returns
    -------
    list of ``steps`` long tensors, built with a handful of vectorised ops.
    """
    chunks = torch.stack([_rows_per_batch(len(g), b, steps, c)
                          for g, b, c in zip(groups, sizes, cycle, strict=True)], 1)  # (S, G)
    batch_sizes = chunks.sum(1)  # (S,)
    batch_start = torch.cumsum(batch_sizes, 0) - batch_sizes  # (S,)
    group_start = torch.cumsum(chunks, 1) - chunks  # (S, G) offset of a group in its batch
    flat = torch.empty(int(batch_sizes.sum()), dtype=torch.long)
    for g, rows in enumerate(groups):
        used = int(chunks[:, g].sum())
        if used == 0:
            continue
        order = shuffled_passes(len(rows), -(-used // len(rows)), generator, shuffle)  # (>= used,)
        step = torch.repeat_interleave(torch.arange(steps), chunks[:, g])  # (used,)
        first = torch.cumsum(chunks[:, g], 0) - chunks[:, g]  # first element of each chunk
        within = torch.arange(used) - first.index_select(0, step)
        where = batch_start.index_select(0, step) + group_start[:, g].index_select(0, step)
        flat.index_copy_(0, where + within, rows.index_select(0, order[:used]))
    return list(flat.split(batch_sizes.tolist()))
