"""Reservoir, experience- and class-balanced buffers: quotas against hand-computed values,
reservoir uniformity, snapshots and storage size, and every error message."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest
import torch
from memory_helpers import feed, group_sizes, make_exp, sized_exp
from scipy import stats

from cltutor.data import SplitDigits
from cltutor.memory import ParametricBuffer
from cltutor.memory.buffers import (
    BufferGroup,
    ClassBalancedBuffer,
    ExperienceBalancedBuffer,
    ReservoirSamplingBuffer,
)
from cltutor.memory.quotas import group_quotas


# -- experience-balanced -----------------------------------------------------
@pytest.mark.parametrize(("max_size", "exp_sizes", "expected"), [
    (10, [20, 20, 20], [{0: 10}, {0: 5, 1: 5}, {0: 4, 1: 3, 2: 3}]),
    (7, [20, 20, 20, 20], [{0: 7}, {0: 4, 1: 3}, {0: 3, 1: 2, 2: 2},
                           {0: 2, 1: 2, 2: 2, 3: 1}]),
    # an experience smaller than its quota leaves its slack unused
    (10, [3, 20, 20], [{0: 3}, {0: 3, 1: 5}, {0: 3, 1: 3, 2: 3}]),
    (10, [20, 2, 20], [{0: 10}, {0: 5, 1: 2}, {0: 4, 1: 2, 2: 3}]),
])
def test_experience_balanced_quotas_by_hand(max_size, exp_sizes, expected):
    buf = ExperienceBalancedBuffer(max_size, seed=0)
    start = 0
    for i, (n, want) in enumerate(zip(exp_sizes, expected, strict=True)):
        feed(buf, sized_exp({i: n}, i, start))
        start += n
        assert group_sizes(buf) == want
        assert len(buf.buffer) == sum(want.values()) <= max_size
        # each group holds rows of its own experience only
        for k, g in buf.buffer_groups.items():
            assert set(g.buffer.targets.tolist()) <= {k}


def test_experience_balanced_fixed_size_divides_by_the_fixed_count():
    buf = ExperienceBalancedBuffer(10, adaptive_size=False, num_experiences=3, seed=0)
    expected = [{0: 3}, {0: 3, 1: 3}, {0: 3, 1: 3, 2: 3}]
    for i, want in enumerate(expected):
        feed(buf, sized_exp({i: 20}, i, 20 * i))
        assert group_sizes(buf) == want
        assert buf.buffer_groups[i].max_size == 3
    with pytest.raises(ValueError, match=r"num_experiences=3 but the data brings group 4"):
        feed(buf, sized_exp({3: 20}, 3, 60))
    assert group_sizes(buf) == expected[-1]  # unchanged by the failed update


def test_experience_balanced_old_groups_only_shrink_to_a_subset():
    buf = ExperienceBalancedBuffer(12, seed=1)
    feed(buf, sized_exp({0: 30}, 0, 0))
    before = set(buf.buffer.x[:, 0].tolist())
    feed(buf, sized_exp({1: 30}, 1, 30))
    after0 = set(buf.buffer_groups[0].buffer.x[:, 0].tolist())
    assert len(after0) == 6 and after0 <= before


# -- class-balanced ------------------------------------------------------------
def test_class_balanced_quotas_by_hand():
    buf = ClassBalancedBuffer(10, seed=0)
    feed(buf, make_exp([0, 1], 20, 0, 0))
    assert group_sizes(buf) == {0: 5, 1: 5}
    feed(buf, make_exp([2, 3], 20, 1, 100))
    assert group_sizes(buf) == {0: 3, 1: 3, 2: 2, 3: 2}
    feed(buf, make_exp([4, 5], 20, 2, 200))
    assert group_sizes(buf) == {0: 2, 1: 2, 2: 2, 3: 2, 4: 1, 5: 1}


def test_class_balanced_order_is_ascending_ids_not_set_order():
    assert list({50, 3, 17}) == [17, 50, 3]  # what Avalanche's set order would give
    buf = ClassBalancedBuffer(10, seed=0)
    feed(buf, make_exp([50, 3, 17], 20))
    assert list(buf.buffer_groups) == [3, 17, 50]
    assert group_sizes(buf) == {3: 4, 17: 3, 50: 3}


def test_sparse_class_ids_get_their_quotas_in_ascending_order():
    buf = ClassBalancedBuffer(11, seed=0)
    feed(buf, make_exp([50, 3, 17], 20))
    feed(buf, make_exp([8], 20, start=60))
    assert group_sizes(buf) == {3: 3, 8: 3, 17: 3, 50: 2}  # 11 = 2 * 4 + 3, ascending ids
    labels = buf.buffer.targets
    for c, size in group_sizes(buf).items():
        assert int((labels == c).sum()) == size  # each group holds its own class only


def test_class_balanced_small_class_and_recurring_class():
    buf = ClassBalancedBuffer(9, seed=0)
    feed(buf, sized_exp({0: 1, 1: 30, 2: 30}, 0, 0))
    assert group_sizes(buf) == {0: 1, 1: 3, 2: 3}  # class 0's slack is unused
    feed(buf, sized_exp({0: 10, 1: 10}, 1, 100))  # classes seen again
    assert group_sizes(buf) == {0: 3, 1: 3, 2: 3}
    ids = buf.buffer_groups[1].buffer.x[:, 0]
    assert ((ids < 61) | (ids >= 100)).all()  # class 1 rows from both experiences


def test_class_balanced_fixed_size():
    buf = ClassBalancedBuffer(10, adaptive_size=False, total_num_classes=4, seed=0)
    feed(buf, make_exp([0, 1], 20))
    assert group_sizes(buf) == {0: 2, 1: 2}
    with pytest.raises(ValueError, match=r"total_num_classes=4 but the data brings group 6"):
        feed(buf, make_exp([2, 3, 4, 5], 5, 1, 100))


@pytest.mark.filterwarnings("ignore:.*has no slot for:UserWarning")  # starving on purpose
def test_group_sizes_follow_the_quota_recursion_on_random_streams():
    """size_g = min(quota_g, previous size_g + new rows of g), never above max_size."""
    gen = torch.Generator().manual_seed(3)
    for trial in range(15):
        max_size = int(torch.randint(1, 40, (1,), generator=gen))
        buf = ClassBalancedBuffer(max_size, seed=trial)
        sizes: dict[int, int] = {}
        for i in range(5):
            classes = torch.randperm(12, generator=gen)[:3].tolist()
            counts = {c: int(torch.randint(0, 15, (1,), generator=gen)) for c in classes}
            feed(buf, sized_exp(counts, i, 1000 * i))
            keys = sorted(set(sizes) | {c for c, n in counts.items() if n})
            quotas = dict(zip(keys, group_quotas(max_size, len(keys)), strict=True))
            sizes = {c: min(quotas[c], sizes.get(c, 0) + counts.get(c, 0)) for c in keys}
            assert group_sizes(buf) == sizes
            assert len(buf.buffer) <= max_size


# -- reservoir -----------------------------------------------------------------
def test_reservoir_is_uniform_chi_square():
    sizes, max_size, trials = [10, 20, 30], 15, 600
    n = sum(sizes)
    counts = torch.zeros(n)
    for seed in range(trials):
        buf = ReservoirSamplingBuffer(max_size, seed=seed)
        start = 0
        for i, size in enumerate(sizes):
            feed(buf, sized_exp({i: size}, i, start))
            start += size
        counts[buf.buffer.x[:, 0].long()] += 1
    p = max_size / n
    # inclusion counts: binomial(trials, p) each, summing to trials * max_size
    stat = float(((counts - trials * p) ** 2).sum() / (trials * p * (1 - p)))
    assert stats.chi2.sf(stat, df=n - 1) > 0.001
    assert counts.sum() == trials * max_size


def test_reservoir_keeps_max_size_and_a_seed_reproduces_it():
    def run(seed):
        buf = ReservoirSamplingBuffer(30, seed=seed)
        for i in range(4):
            feed(buf, make_exp([i], 25, i, 25 * i))
        return buf.buffer.x[:, 0].tolist()
    assert len(run(0)) == 30
    assert sorted(run(0)) == sorted(run(0))
    assert sorted(run(0)) != sorted(run(1))


def test_global_seed_reproduces_an_unseeded_buffer():
    exps = [make_exp([i], 25, i, 25 * i) for i in range(3)]
    out = []
    for _ in range(2):
        torch.manual_seed(7)
        buf = ExperienceBalancedBuffer(20)
        for e in exps:
            feed(buf, e)
        out.append(sorted(buf.buffer.x[:, 0].tolist()))
    assert out[0] == out[1]


def test_buffer_is_a_snapshot_and_call_is_update():
    buf = ReservoirSamplingBuffer(10, seed=0)
    buf(SimpleNamespace(experience=make_exp([0], 20, 0, 0)))  # the older ext_mem API's form
    before = buf.buffer
    ids = before.x[:, 0].clone()
    assert buf.buffer is before  # cached
    feed(buf, make_exp([1], 200, 1, 100))
    assert torch.equal(before.x[:, 0], ids)  # the old view did not change
    assert buf.buffer is not before and len(buf.buffer) == 10


def test_resize_keeps_the_highest_priority_rows():
    buf = ReservoirSamplingBuffer(20, seed=0)
    feed(buf, make_exp([0], 50))
    keys = buf._stored.priority
    best = set(buf.buffer.x[keys.argsort(descending=True)[:8], 0].tolist())
    buf.resize(None, 8)
    assert buf.max_size == 8 and set(buf.buffer.x[:, 0].tolist()) == best
    buf.resize(None, 30)  # grows the storage; the next experience fills it
    feed(buf, make_exp([1], 50, 1, 100))
    assert len(buf.buffer) == 30


def test_balanced_resize_recomputes_quotas():
    buf = ExperienceBalancedBuffer(12, seed=0)
    for i in range(3):
        feed(buf, sized_exp({i: 20}, i, 20 * i))
    buf.resize(None, 7)
    assert group_sizes(buf) == {0: 3, 1: 2, 2: 2}


def test_empty_buffer_and_ext_mem_view():
    buf = ClassBalancedBuffer(6, seed=0)
    assert len(buf.buffer) == 0 and buf.buffer_groups == {} and buf.ext_mem == {}
    feed(buf, make_exp([0, 1], 5))
    assert {k: len(v) for k, v in buf.ext_mem.items()} == {0: 3, 1: 3}
    assert isinstance(buf.buffer_groups[0], BufferGroup)
    assert buf.ext_mem[1].targets.tolist() == [1, 1, 1]
    groups = buf.buffer_groups
    rows = {k: g.buffer.x.tolist() for k, g in groups.items()}
    assert {k: g.buffer.x.tolist() for k, g in buf.buffer_groups.items()} == rows  # same rows
    feed(buf, make_exp([2], 5, 1, 100))
    assert list(buf.buffer_groups) == [0, 1, 2]
    assert {k: g.buffer.x.tolist() for k, g in groups.items()} == rows  # a read is a snapshot


@pytest.mark.bad_input("U4", "U5")
@pytest.mark.parametrize("make", [  # no buffer preallocates max_size rows
    lambda: ReservoirSamplingBuffer(10**7, seed=0),
    lambda: ReservoirSamplingBuffer(10**12, seed=0),
    lambda: ExperienceBalancedBuffer(10**7, seed=0),
    lambda: ClassBalancedBuffer(10**7, seed=0),
    lambda: ParametricBuffer(10**7, groupby="class", seed=0),
    lambda: ParametricBuffer(10**7, seed=0),
])
def test_storage_holds_only_the_rows_kept_never_max_size(make):
    exp = SplitDigits(n_experiences=5, seed=0).train_stream[0]
    buf = make()
    feed(buf, exp)
    data, stored = exp.dataset, buf._stored
    assert buf.buffer.x.shape[0] == len(buf) == len(data)
    tensors = (stored.data.x, stored.data.y, stored.data.t, stored.group, stored.priority)
    stored_bytes = sum(t.numel() * t.element_size() for t in tensors)
    data_bytes = sum(t.numel() * t.element_size() for t in (data.x, data.y, data.t))
    assert data_bytes <= stored_bytes <= data_bytes + 16 * len(data)  # + group, priority


def test_buffer_moves_data_to_the_strategy_device_and_keeps_transform():
    def double(x):
        return 2 * x
    exp = make_exp([0, 1], 5)
    exp.dataset = exp.dataset.with_transform(double)
    buf = ReservoirSamplingBuffer(4, seed=0)
    buf.update(SimpleNamespace(experience=exp, device=torch.device("cpu")))
    x, _, _ = buf.buffer[torch.arange(4)]
    assert torch.equal(x, 2 * buf.buffer.x)  # raw rows stored, transform applied on reads




# -- errors --------------------------------------------------------------------
@pytest.mark.parametrize(("build", "match"), [
    (lambda: ReservoirSamplingBuffer(-3), r"max_size must be a positive int, got -3\. Use"),
    (lambda: ClassBalancedBuffer(10, total_num_classes=5),
     r"total_num_classes=5 only applies with adaptive_size=False"),
    (lambda: ExperienceBalancedBuffer(10, adaptive_size=False),
     r"num_experiences must be a positive int, got None\. adaptive_size=False divides"),
])
def test_constructor_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_type_errors():
    with pytest.raises(TypeError, match=r"adaptive_size must be True or False, got 'yes'"):
        ClassBalancedBuffer(10, adaptive_size="yes")
    with pytest.raises(TypeError, match=r"reads strategy.experience.dataset"):
        ReservoirSamplingBuffer(5).update(SimpleNamespace(dataset=None))
    with pytest.raises(TypeError, match=r"buffers store ClassificationDataset rows, got list"):
        ReservoirSamplingBuffer(5).update(
            SimpleNamespace(experience=SimpleNamespace(dataset=[1, 2])))


def test_update_errors():
    buf = ReservoirSamplingBuffer(5, seed=0)
    feed(buf, make_exp([0], 5, dim=3))
    with pytest.raises(ValueError, match=r"stores inputs of shape \(3,\) .* has \(4,\)"):
        feed(buf, make_exp([0], 5, dim=4))
    exp = make_exp([0], 5)
    exp.dataset = exp.dataset.with_transform(lambda x: x)
    with pytest.raises(ValueError, match=r"different transform from the rows already stored"):
        feed(buf, exp)
    with pytest.raises(ValueError, match=r"new_size must be a positive int, got 0"):
        buf.resize(None, 0)


def test_u19_classes_without_a_slot_warn_at_the_update_that_starves_them():
    buf = ClassBalancedBuffer(5, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feed(buf, make_exp([0, 1, 2, 3, 4], 3))  # 5 classes, 5 slots: no warning
    with pytest.warns(UserWarning, match=r"ClassBalancedBuffer\(max_size=5\) has no slot for "
                      r"classes \[5, 6, 7, 8, 9\]: 10 classes share 5 slots.*"
                      r"Use max_size >= 10"):
        feed(buf, make_exp([5, 6, 7, 8, 9], 3, 1, 100))
    assert group_sizes(buf) == {0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feed(buf, make_exp([9], 3, 2, 200))  # nothing newly starved: said once


def test_u19_fixed_size_below_the_class_count_warns_too():
    buf = ClassBalancedBuffer(3, adaptive_size=False, total_num_classes=5)
    with pytest.warns(UserWarning, match=r"no slot for classes \[0, 1\]: 5 classes share 3 "
                      r"slots.*max_size >= 5 \(at least one slot per class\)"):
        feed(buf, make_exp([0, 1], 3))


def test_u19_experiences_without_a_slot_warn():
    buf = ExperienceBalancedBuffer(2, seed=0)
    feed(buf, make_exp([0], 3))
    feed(buf, make_exp([1], 3, 1, 10))
    with pytest.warns(UserWarning, match=r"no slot for experiences \[2\].*max_size >= 3"):
        feed(buf, make_exp([2], 3, 2, 20))


@pytest.mark.parametrize("value", [True, 2.0, "5"])  # U20
def test_u20_total_num_classes_is_a_strict_int(value):
    with pytest.raises(ValueError, match=r"total_num_classes must be a positive int, got "):
        ClassBalancedBuffer(10, adaptive_size=False, total_num_classes=value)
    with pytest.raises(ValueError, match=r"num_experiences must be a positive int, got "):
        ExperienceBalancedBuffer(10, adaptive_size=False, num_experiences=value)


@pytest.mark.parametrize("value", [True, 2.5, "200", 0])
def test_max_size_is_a_strict_positive_int(value):
    for make in (ReservoirSamplingBuffer, ClassBalancedBuffer, ExperienceBalancedBuffer,
                 ParametricBuffer):
        with pytest.raises(ValueError, match=r"max_size must be a positive int, got "):
            make(value)


@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), ("0", TypeError),
                                             (True, TypeError)])
def test_buffer_seeds_are_checked(seed, error):
    with pytest.raises(error, match=r"seed must be an int"):
        ClassBalancedBuffer(10, seed=seed)
