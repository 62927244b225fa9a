"""Loaders: batch composition counted per group against hand-computed sequences, the
same batches through torch's DataLoader for other datasets, and every error message."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.utils.data import Dataset

from cltutor._checks import make_generator
from cltutor.data import ClassificationDataset
from cltutor.memory.loaders import (
    BatchLoader,
    GroupBalancedDataLoader,
    GroupBalancedInfiniteDataLoader,
    ReplayDataLoader,
    TaskBalancedDataLoader,
)
from cltutor.memory.quotas import epoch_batches, group_quotas


def labelled(n: int, label: int, start: int = 0, t: int | torch.Tensor = 0,
             dim: int = 2) -> ClassificationDataset:
    """``n`` rows of class ``label``; x[:, 0] is a unique row id."""
    x = torch.rand(n, dim)
    x[:, 0] = torch.arange(start, start + n, dtype=torch.float32)
    return ClassificationDataset(x, torch.full((n,), label), t)


def counts(loader, n_groups: int, key: int = 1) -> list[tuple[int, ...]]:
    """Rows of each group (by label, or task with key=2) in every batch."""
    return [tuple(int((b[key] == g).sum()) for g in range(n_groups)) for b in loader]


class PlainDataset(Dataset):
    """A torch Dataset that is not a ClassificationDataset."""

    def __init__(self, ds: ClassificationDataset) -> None:
        self.ds = ds
        self.targets_task_labels = ds.t

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i):
        return self.ds.x[i], self.ds.y[i], self.ds.t[i]


def test_batch_split_over_groups():
    assert group_quotas(10, 3) == [4, 3, 3]
    assert group_quotas(5, 5) == [1] * 5
    assert group_quotas(32, 1) == [32]


def test_epoch_batches_by_hand_without_shuffling():
    groups = [torch.arange(0, 3), torch.arange(3, 8)]
    batches = epoch_batches(groups, [2, 2], steps=3, cycle=[True, False], shuffle=False)
    # group 0 cycles (0 1 2 0 1 2) and always gives 2; group 1 gives 2, 2, 1 then stops
    assert [b.tolist() for b in batches] == [[0, 1, 3, 4], [2, 0, 5, 6], [1, 2, 7]]


def test_empty_data_gives_an_empty_epoch():
    empty = labelled(0, 0)
    assert list(ReplayDataLoader(empty, labelled(3, 1), batch_size=4)) == []
    assert list(TaskBalancedDataLoader(empty, batch_size=4)) == []
    assert len(GroupBalancedDataLoader([empty, empty], batch_size=4)) == 0


def test_batch_loader_and_generator():
    ds = labelled(10, 0)
    assert [len(y) for _, y, _ in BatchLoader(ds, batch_size=4, seed=0)] == [4, 4, 2]
    assert len(BatchLoader(ds, batch_size=4, drop_last=True)) == 2
    seen = torch.cat([x[:, 0] for x, _, _ in BatchLoader(ds, 3, seed=1)])
    assert sorted(seen.tolist()) == list(range(10))
    assert make_generator(None) is None
    with pytest.raises(TypeError, match=r"seed must be an int or None, got 1.5"):
        make_generator(1.5)


# -- GroupBalanced -------------------------------------------------------------
GROUPS = (10, 20, 30)


def three_groups():
    return [labelled(n, g, start=100 * g) for g, n in enumerate(GROUPS)]


def test_group_balanced_without_oversampling_small_groups_drop_out():
    loader = GroupBalancedDataLoader(three_groups(), batch_size=10, seed=0)
    expected = [(4, 3, 3), (4, 3, 3), (2, 3, 3), (0, 3, 3), (0, 3, 3), (0, 3, 3),
                (0, 2, 3), (0, 0, 3), (0, 0, 3), (0, 0, 3)]
    assert len(loader) == 10
    assert counts(loader, 3) == expected
    ids = torch.cat([x[:, 0] for x, _, _ in loader])  # every row exactly once
    assert sorted(ids.tolist()) == sorted(
        [100 * g + i for g, n in enumerate(GROUPS) for i in range(n)])


def test_group_balanced_with_oversampling_small_groups_cycle():
    loader = GroupBalancedDataLoader(three_groups(), oversample_small_groups=True,
                                     batch_size=10, seed=0)
    assert counts(loader, 3) == [(4, 3, 3)] * 10
    batches = list(loader)
    ids0 = torch.cat([x[y == 0, 0] for x, y, _ in batches])
    # group 0 (10 rows) runs 4 reshuffled passes back to back: each pass is a permutation
    for p in range(4):
        assert sorted(ids0[10 * p : 10 * p + 10].tolist()) == list(range(10))
    # the longest group is seen exactly once, data rows come group after group
    assert sorted(torch.cat([x[y == 2, 0] for x, y, _ in batches]).tolist()) == list(
        range(200, 230))
    for _, y, _ in batches:
        assert torch.equal(y, y.sort().values)


def test_group_balanced_epochs_reshuffle_and_seed_reproduces():
    a = [x[:, 0].tolist() for x, _, _ in GroupBalancedDataLoader(three_groups(), seed=4)]
    loader = GroupBalancedDataLoader(three_groups(), seed=4)
    first, second = ([x[:, 0].tolist() for x, _, _ in loader] for _ in range(2))
    assert first == a and second != first


def test_group_balanced_torch_dataset_gets_the_same_batches():
    groups = three_groups()
    fast = GroupBalancedDataLoader(groups, batch_size=7, seed=2)
    slow = GroupBalancedDataLoader([PlainDataset(g) for g in groups], batch_size=7, seed=2)
    pairs = list(zip(fast, slow, strict=True))
    assert len(pairs) == len(fast)
    for (x1, y1, t1), (x2, y2, t2) in pairs:
        assert torch.equal(x1, x2) and torch.equal(y1, y2) and torch.equal(t1, t2)


def test_group_balanced_gathers_from_one_concatenated_dataset():
    loader = GroupBalancedDataLoader(three_groups(), batch_size=6)
    assert isinstance(loader.data, ClassificationDataset) and len(loader.data) == sum(GROUPS)


# -- TaskBalanced -------------------------------------------------------------
def test_task_balanced_groups_by_task_ascending():
    t = torch.tensor([2] * 12 + [0] * 4 + [1] * 8)
    ds = ClassificationDataset(torch.rand(24, 2), torch.zeros(24), t)
    loader = TaskBalancedDataLoader(ds, batch_size=6, seed=0)
    assert counts(loader, 3, key=2) == [(2, 2, 2), (2, 2, 2), (0, 2, 2), (0, 2, 2),
                                         (0, 0, 2), (0, 0, 2)]
    for _, _, tb in loader:
        assert torch.equal(tb, tb.sort().values)  # task 0 rows first
    loader = TaskBalancedDataLoader(ds, batch_size=6, oversample_small_groups=True, seed=0)
    assert counts(loader, 3, key=2) == [(2, 2, 2)] * 6
    same = TaskBalancedDataLoader(PlainDataset(ds), batch_size=6, seed=5)
    for (x1, _, _), (x2, _, _) in zip(TaskBalancedDataLoader(ds, 6, seed=5), same,
                                      strict=True):
        assert torch.equal(x1, x2)


# -- Replay ------------------------------------------------------------------------
def test_replay_loader_data_rows_first_then_memory_cycled():
    data, memory = labelled(40, 0), labelled(12, 1, start=1000)
    loader = ReplayDataLoader(data, memory, oversample_small_tasks=True, batch_size=8,
                              batch_size_mem=8, seed=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 5  # ceil(40 / 8): the data sets the epoch
    for _, y, _ in batches:
        assert y.tolist() == [0] * 8 + [1] * 8
    data_ids = torch.cat([x[:8, 0] for x, _, _ in batches])
    assert sorted(data_ids.tolist()) == list(range(40))
    mem_ids = torch.cat([x[8:, 0] for x, _, _ in batches])  # 40 rows = 3 passes + 4
    for p in range(3):
        assert sorted(mem_ids[12 * p : 12 * p + 12].tolist()) == list(range(1000, 1012))


def test_replay_loader_short_last_data_batch_and_no_oversampling():
    data, memory = labelled(35, 0), labelled(12, 1, start=1000)
    loader = ReplayDataLoader(data, memory, oversample_small_tasks=True, batch_size=10,
                              batch_size_mem=5, seed=0)
    assert counts(loader, 2) == [(10, 5), (10, 5), (10, 5), (5, 5)]
    loader = ReplayDataLoader(data, memory, batch_size=10, batch_size_mem=5, seed=0)
    assert counts(loader, 2) == [(10, 5), (10, 5), (10, 2), (5, 0)]  # memory runs out


def test_replay_loader_task_balanced_memory():
    data = labelled(30, 0, t=5)
    t = torch.tensor([0] * 6 + [1] * 20 + [2] * 9)
    memory = ClassificationDataset(torch.rand(35, 2), torch.ones(35), t)
    loader = ReplayDataLoader(data, memory, oversample_small_tasks=True, batch_size=10,
                              batch_size_mem=10, task_balanced_dataloader=True, seed=0)
    per_task = [tuple(int((tb[10:] == k).sum()) for k in range(3)) for _, _, tb in loader]
    assert per_task == [(4, 3, 3)] * 3
    for _, _, tb in loader:
        assert (tb[:10] == 5).all() and torch.equal(tb[10:], tb[10:].sort().values)


def test_replay_loader_torch_dataset_gets_the_same_batches():
    data, memory = labelled(20, 0), labelled(7, 1, start=500)
    fast = ReplayDataLoader(data, memory, True, batch_size=6, batch_size_mem=4, seed=3)
    slow = ReplayDataLoader(PlainDataset(data), PlainDataset(memory), True, batch_size=6,
                            batch_size_mem=4, seed=3)
    for (x1, y1, _), (x2, y2, _) in zip(fast, slow, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


# -- Infinite -------------------------------------------------------------------
def test_infinite_loader_batch_size_is_per_group_and_groups_cycle():
    loader = GroupBalancedInfiniteDataLoader([labelled(5, 0), labelled(12, 1, 100),
                                              labelled(0, 2)], batch_size=4, seed=0)
    batches = list(itertools.islice(loader, 15))
    assert counts(batches, 3) == [(4, 4, 0)] * 15  # the empty group is skipped
    ids0 = torch.cat([x[y == 0, 0] for x, y, _ in batches])  # 60 rows = 12 passes of 5
    for p in range(12):
        assert sorted(ids0[5 * p : 5 * p + 5].tolist()) == list(range(5))
    ids1 = torch.cat([x[y == 1, 0] for x, y, _ in batches])
    for p in range(5):
        assert sorted(ids1[12 * p : 12 * p + 12].tolist()) == list(range(100, 112))


def test_infinite_loader_torch_dataset():
    groups = [labelled(5, 0), labelled(9, 1)]
    fast = GroupBalancedInfiniteDataLoader(groups, batch_size=3, seed=1)
    slow = GroupBalancedInfiniteDataLoader([PlainDataset(g) for g in groups], 3, seed=1)
    for (x1, _, _), (x2, _, _) in itertools.islice(zip(fast, slow, strict=False), 7):
        assert torch.equal(x1, x2)


# -- errors --------------------------------------------------------------------
@pytest.mark.bad_input("L18", "R6")
@pytest.mark.parametrize(("build", "error", "match"), [
    (lambda: GroupBalancedDataLoader(three_groups(), batch_size=2), ValueError,
     r"batch_size=2 is smaller than the number of groups \(3\).*Use batch_size>=3"),
    (lambda: GroupBalancedDataLoader(three_groups(), batch_size=-4), ValueError,
     r"batch_size must be a positive int, got -4"),
    (lambda: GroupBalancedDataLoader([], batch_size=4), ValueError,
     r"datasets must be a non-empty list of datasets"),
    (lambda: GroupBalancedDataLoader(labelled(4, 0)), ValueError,
     r"datasets must be a non-empty list of datasets"),
    (lambda: GroupBalancedDataLoader([labelled(4, 0), labelled(4, 0, dim=3)]), ValueError,
     r"datasets must share the input shape and the transform"),
    (lambda: ReplayDataLoader(labelled(4, 0), labelled(0, 1)), ValueError,
     r"memory is empty; a replay batch needs stored rows"),
    (lambda: ReplayDataLoader(labelled(4, 0), labelled(4, 1), batch_size_mem=0), ValueError,
     r"batch_size_mem must be a positive int, got 0"),
    (lambda: ReplayDataLoader(labelled(4, 0), labelled(4, 1), batch_size=-1), ValueError,
     r"batch_size must be a positive int, got -1"),
    (lambda: ReplayDataLoader(labelled(4, 0), ClassificationDataset(
        torch.rand(6, 2), torch.ones(6), torch.arange(6) % 3), batch_size_mem=2,
        task_balanced_dataloader=True), ValueError,
     r"batch_size_mem=2 is smaller than the number of groups \(3\)"),
    (lambda: GroupBalancedInfiniteDataLoader([labelled(0, 0)]), ValueError,
     r"datasets are all empty"),
    (lambda: GroupBalancedInfiniteDataLoader([labelled(3, 0)], batch_size=0), ValueError,
     r"batch_size must be a positive int, got 0"),
    (lambda: TaskBalancedDataLoader([1, 2, 3]), TypeError,
     r"data needs task labels: a ClassificationDataset"),
    (lambda: BatchLoader(labelled(4, 0), shuffle="no"), TypeError,  # L18
     r"shuffle must be True or False, got 'no'\. Write shuffle=False"),
    (lambda: BatchLoader(labelled(4, 0), drop_last=1), TypeError,
     r"drop_last must be True or False, got 1"),
    (lambda: GroupBalancedDataLoader(three_groups(), oversample_small_groups="yes"), TypeError,
     r"oversample_small_groups must be True or False, got 'yes'"),
    (lambda: TaskBalancedDataLoader(labelled(4, 0), shuffle=None), TypeError,
     r"shuffle must be True or False, got None"),
    (lambda: ReplayDataLoader(labelled(4, 0), labelled(4, 1), oversample_small_tasks=0),
     TypeError, r"oversample_small_tasks must be True or False, got 0"),
    (lambda: ReplayDataLoader(labelled(4, 0), labelled(4, 1), task_balanced_dataloader="y"),
     TypeError, r"task_balanced_dataloader must be True or False, got 'y'"),
    (lambda: ReplayDataLoader(labelled(4, 0), labelled(4, 1), task_balanced_dataloader="yes"),
     TypeError, r"task_balanced_dataloader must be True or False, got 'yes'"),  # R6
])
def test_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()
