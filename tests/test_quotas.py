"""Quota and top-k maths of the buffers against hand-computed values and a Python loop."""

from __future__ import annotations

import pytest
import torch

from cltutor.memory.quotas import group_quotas, keep_top_per_group


@pytest.mark.parametrize(("args", "expected"), [
    ((10, 3), [4, 3, 3]),
    ((10, 4), [3, 3, 2, 2]),
    ((10, 6), [2, 2, 2, 2, 1, 1]),
    ((7, 7), [1] * 7),
    ((3, 5), [1, 1, 1, 0, 0]),
    ((10, 0), []),
    ((10, 2, 3), [3, 3]),
    ((10, 3, 3), [3, 3, 3]),
])
def test_group_quotas_by_hand(args, expected):
    assert group_quotas(*args) == expected


def test_keep_top_per_group_matches_a_python_loop():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        n, n_groups = 50, 4
        groups = torch.randint(0, n_groups, (n,), generator=gen)
        priority = torch.rand(n, generator=gen, dtype=torch.float64)
        quotas = torch.randint(0, 15, (n_groups,), generator=gen)
        expected = set()
        for g in range(n_groups):
            rows = sorted((i for i in range(n) if groups[i] == g), key=lambda i: -priority[i])
            expected |= set(rows[: int(quotas[g])])
        keep = keep_top_per_group(groups, priority, quotas)
        assert set(keep.nonzero().flatten().tolist()) == expected


@pytest.mark.parametrize(("args", "match"), [
    ((-1, 2), r"max_size must be an int >= 0, got -1"),
    ((10, -2), r"n_groups must be an int >= 0, got -2"),
    ((10, True), r"n_groups must be an int >= 0, got True"),
])
def test_group_quotas_refuses_negative_counts(args, match):
    with pytest.raises(ValueError, match=match):
        group_quotas(*args)
