"""Algorithm R and the reservoir memory that online replay and DER update every minibatch."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from cltutor.memory import ReservoirMemory, algorithm_r_slots


def test_the_first_mem_size_samples_fill_the_slots_in_order():
    assert algorithm_r_slots(0, 4, mem_size=6).tolist() == [0, 1, 2, 3]
    assert algorithm_r_slots(4, 2, mem_size=6).tolist() == [4, 5]


def test_a_late_sample_replaces_a_slot_with_probability_m_over_i_plus_one():
    g = torch.Generator().manual_seed(0)
    slots = algorithm_r_slots(999, 20000, mem_size=10, generator=g)  # sample i = 999.. : ~1%
    kept = slots >= 0
    i = torch.arange(999, 999 + 20000, dtype=torch.float64)
    expected = float((10 / (i + 1)).sum())
    assert abs(int(kept.sum()) - expected) < 4 * expected ** 0.5
    assert slots[kept].min() >= 0 and slots[kept].max() <= 9


def test_each_of_n_samples_is_kept_with_probability_m_over_n_chi_square():
    n, mem, trials = 60, 15, 600
    counts = torch.zeros(n)
    for seed in range(trials):
        memory = ReservoirMemory(mem, seed=seed)
        for start in range(0, n, 7):  # uneven batches: 7, 7, ..., 4
            ids = torch.arange(start, min(start + 7, n))
            memory.update(id=ids)
        assert len(memory) == mem and memory.n_seen == n
        counts[memory.fields["id"]] += 1
    p = mem / n
    stat = float(((counts - trials * p) ** 2).sum() / (trials * p * (1 - p)))
    assert stats.chi2.sf(stat, df=n - 1) > 0.001
    assert counts.sum() == trials * mem


def test_a_batch_update_equals_the_one_at_a_time_algorithm():
    """Same draws, same memory: later samples of a batch overwrite earlier ones' slots."""
    def run(batch):
        torch.manual_seed(3)
        memory = ReservoirMemory(4)
        for start in range(0, 40, batch):
            memory.update(id=torch.arange(start, start + batch))
        return memory.fields["id"].tolist()
    assert run(8) == run(1)


def test_storage_grows_with_the_rows_kept_and_rows_stay_whole():
    memory = ReservoirMemory(10, seed=0)
    memory.update(x=torch.arange(3.0).view(3, 1), y=torch.arange(3))
    assert memory.fields["x"].shape == (3, 1)  # no preallocation of 10 rows
    for start in range(3, 50, 5):
        memory.update(x=torch.arange(start, start + 5.0).view(5, 1),
                      y=torch.arange(start, start + 5))
    assert memory.fields["x"].shape == (10, 1)
    assert torch.equal(memory.fields["x"][:, 0].long(), memory.fields["y"])
    drawn = memory.sample(6)
    assert len(set(drawn["y"].tolist())) == 6 and torch.equal(drawn["x"][:, 0].long(), drawn["y"])
    assert len(memory.sample(50)["y"]) == 10


def test_stored_rows_are_copies_detached_from_the_graph():
    w = torch.ones(2, 3, requires_grad=True)
    memory = ReservoirMemory(4, seed=0)
    memory.update(logits=w * 2)
    assert not memory.fields["logits"].requires_grad


@pytest.mark.parametrize("call, error, match", [
    (lambda: ReservoirMemory(0), ValueError, r"mem_size must be a positive int, got 0"),
    (lambda: ReservoirMemory(5).update(), ValueError, r"named tensors of one length"),
    (lambda: ReservoirMemory(5).update(x=torch.zeros(3), y=torch.zeros(2)), ValueError,
     r"got lengths \{'x': 3, 'y': 2\}"),
    (lambda: ReservoirMemory(5).sample(0), ValueError, r"k must be a positive int, got 0"),
    (lambda: algorithm_r_slots(-1, 2, 5), ValueError, r"n_seen must be an int >= 0, got -1"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_memory_keeps_its_fields():
    memory = ReservoirMemory(5)
    memory.update(x=torch.zeros(2), y=torch.zeros(2))
    with pytest.raises(ValueError, match=r"must be given the fields \['x', 'y'\], got \['x'\]"):
        memory.update(x=torch.zeros(2))
