"""ParametricBuffer: groupby keys, herding and closest-to-center exemplars through the
buffer against brute-force references; make_storage_policy; every error message."""

from __future__ import annotations

import pytest
import torch
from memory_helpers import FlatFeatures, brute_herding, feed, group_sizes, make_exp, sized_exp

from cltutor.memory import (
    ClassBalancedBuffer,
    ClosestToCenterSelectionStrategy,
    ExperienceBalancedBuffer,
    HerdingSelectionStrategy,
    ParametricBuffer,
    ReservoirSamplingBuffer,
    make_storage_policy,
)
from cltutor.memory.selection import closest_to_center_order


def test_parametric_groupby_experience_works_standalone():
    buf = ParametricBuffer(9, groupby="experience", seed=0)
    for i in range(3):
        feed(buf, sized_exp({i: 10}, 7, 10 * i))  # same current_experience on purpose
    assert group_sizes(buf) == {0: 3, 1: 3, 2: 3}


def test_parametric_groupby_task_and_none():
    buf = ParametricBuffer(10, groupby="task", seed=0)
    feed(buf, make_exp([0], 10, t=4))
    feed(buf, make_exp([1], 10, t=2))
    assert group_sizes(buf) == {2: 5, 4: 5}
    buf = ParametricBuffer(10, seed=0)
    feed(buf, make_exp([0, 1], 10))
    assert group_sizes(buf) == {0: 10}


def test_parametric_herding_picks_the_brute_force_exemplars_per_class():
    torch.manual_seed(0)
    exp = make_exp([0, 1], 30, dim=5)
    model = FlatFeatures(5)
    buf = ParametricBuffer(10, groupby="class",
                           selection_strategy=HerdingSelectionStrategy(model, "features"))
    feed(buf, exp)
    x, y = exp.dataset.x, exp.dataset.y
    for c in (0, 1):
        rows = (y == c).nonzero().flatten()
        want = rows[brute_herding(x[rows], 5)]
        assert sorted(buf.buffer_groups[c].buffer.x[:, 0].tolist()) == sorted(
            x[want, 0].tolist())
    # a new class shrinks the groups: herding on the stored rows keeps its first picks
    feed(buf, make_exp([2], 30, 1, 100, dim=5))
    assert group_sizes(buf) == {0: 4, 1: 3, 2: 3}


def test_closest_to_center_selection_through_the_buffer():
    exp = make_exp([0], 30, dim=4)
    model = FlatFeatures(4)
    buf = ParametricBuffer(5, selection_strategy=ClosestToCenterSelectionStrategy(model,
                                                                                  "features"))
    feed(buf, exp)
    x = exp.dataset.x
    want = closest_to_center_order(x, 5)
    assert sorted(buf.buffer.x[:, 0].tolist()) == sorted(x[want, 0].tolist())


def test_make_storage_policy_builds_each_kind():
    model = FlatFeatures(3)
    assert type(make_storage_policy("experience", 5)) is ExperienceBalancedBuffer
    assert type(make_storage_policy("class", 5)) is ClassBalancedBuffer
    assert type(make_storage_policy("reservoir", 5)) is ReservoirSamplingBuffer
    buf = make_storage_policy("parametric", 5, groupby="class", selection="herding",
                              model=model)
    assert isinstance(buf.selection_strategy, HerdingSelectionStrategy)
    assert buf.groupby == "class" and buf.max_size == 5
    buf = make_storage_policy("parametric", 5, selection="closest-to-center", model=model,
                              layer_name="classifier")
    assert buf.selection_strategy.layer_name == "classifier"


@pytest.mark.parametrize(("build", "match"), [
    (lambda: ParametricBuffer(10, groupby="label"),
     r"groupby must be None, 'class', 'task' or 'experience', got 'label'"),
    (lambda: make_storage_policy("fifo", 10), r"kind must be one of .*, got 'fifo'"),
    (lambda: make_storage_policy("class", 10, groupby="class"),
     r"groupby and selection only apply to kind='parametric'"),
    (lambda: make_storage_policy("parametric", 10, selection="kmeans"),
     r"selection must be one of \['random', 'herding', 'closest-to-center'\], got 'kmeans'"),
])
def test_constructor_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_type_errors():
    with pytest.raises(TypeError, match=r"selection_strategy must be an "
                                        r"ExemplarsSelectionStrategy, got str"):
        ParametricBuffer(10, selection_strategy="herding")


def test_u24_herding_buffer_with_a_model_for_other_inputs():
    from cltutor.models import SimpleMLP

    buf = make_storage_policy("parametric", 10, groupby="class", selection="herding",
                              model=SimpleMLP(input_size=784))
    with pytest.raises(ValueError, match=r"model SimpleMLP cannot compute features .*"
                       r"per-sample shape \(3,\).*input_size=3"):
        feed(buf, make_exp([0, 1], 5))


@pytest.mark.parametrize("mem_size", [1.5, 0, True])
def test_make_storage_policy_names_mem_size(mem_size):
    with pytest.raises(ValueError, match=r"mem_size must be a positive int, got .* Use mem_size"):
        make_storage_policy("class", mem_size)


def test_u19_parametric_groups_without_a_slot_warn_by_their_name():
    buf = ParametricBuffer(3, groupby="class", seed=0)
    with pytest.warns(UserWarning, match=r"ParametricBuffer\(max_size=3\) has no slot for classes "
                      r"\[3, 4\]: 5 classes share 3 slots.*at least one slot per class\)"):
        feed(buf, make_exp([0, 1, 2, 3, 4], 2))
    buf = ParametricBuffer(1, groupby="task", seed=0)
    feed(buf, make_exp([0], 2, t=0))
    with pytest.warns(UserWarning, match=r"no slot for tasks \[1\].*one slot per task\)"):
        feed(buf, make_exp([0], 2, 1, 10, t=1))
