"""Streams, benchmarks and the three scenarios on one stream (data/benchmark.py)."""

from __future__ import annotations

import pytest
import torch
from idx_files import write_mnist

from cltutor import SplitDigits, SplitMNIST, get_benchmark
from cltutor.data import SCENARIOS, Stream
from cltutor.data.benchmark import scenario_flags


# -- scenario_flags -------------------------------------------------------------------------
@pytest.mark.parametrize(("scenario", "flags"), [
    ("class", (False, False)), ("task", (True, True)), ("domain", (False, True))])
def test_each_scenario_sets_avalanches_two_flags(scenario, flags):
    assert scenario_flags(scenario, None, None) == (scenario, *flags)
    assert SCENARIOS[scenario] == flags


@pytest.mark.parametrize(("flags", "scenario"), [
    ((None, None), "class"), ((False, False), "class"), ((True, False), "class"),
    ((True, True), "task"), ((False, True), "domain")])
def test_without_a_scenario_it_follows_from_the_flags(flags, scenario):
    assert scenario_flags(None, *flags)[0] == scenario


def test_flags_that_agree_with_the_scenario_are_accepted():
    assert scenario_flags("task", True, False) == ("task", True, False)  # global class ids
    assert scenario_flags("class", True, None) == ("class", True, False)


@pytest.mark.parametrize(("scenario", "flags", "match"), [
    ("task", (False, None), r"return_task_id=False contradicts scenario='task', which sets "
                            r"return_task_id=True\. Leave return_task_id out"),
    ("domain", (True, None), r"return_task_id=True contradicts scenario='domain'"),
    ("domain", (None, False), r"class_ids_from_zero_in_each_exp=False contradicts "
                              r"scenario='domain'"),
    ("class", (None, True), r"class_ids_from_zero_in_each_exp=True contradicts "
                            r"scenario='class'"),
])
def test_a_flag_that_contradicts_the_scenario_is_refused(scenario, flags, match):
    with pytest.raises(ValueError, match=match):
        SplitDigits(5, flags[0], 0, None, flags[1], scenario=scenario)


@pytest.mark.parametrize("scenario", ["ti", "Task", 1, ""])
def test_an_unknown_scenario_names_the_three(scenario):
    with pytest.raises(ValueError, match=r"scenario must be one of \['class', 'task', "
                                         r"'domain'\], got .*Use scenario='class'"):
        SplitDigits(5, scenario=scenario)


def test_a_flag_that_is_not_a_bool_is_refused_by_name():
    with pytest.raises(TypeError, match=r"return_task_id must be True or False, got 'yes'"):
        SplitDigits(5, return_task_id="yes")


# -- the same experiences, asked three ways -------------------------------------------------
def check_three_scenarios(make):
    """``make(scenario)`` builds the benchmark; the rows are the same in all three."""
    bms = {s: make(s) for s in SCENARIOS}
    cls, task, dom = bms["class"], bms["task"], bms["domain"]
    assert (cls.n_classes, task.n_classes, dom.n_classes) == (10, 2, 2)
    assert [bm.scenario for bm in bms.values()] == list(SCENARIOS)
    for split in ("train_stream", "test_stream"):
        for i, (c, t, d) in enumerate(zip(*(getattr(bm, split) for bm in bms.values()),
                                          strict=True)):
            assert torch.equal(c.dataset.x, t.dataset.x) and torch.equal(c.dataset.x, d.dataset.x)
            pair = c.classes_in_this_experience  # the two original digits, in order
            position = torch.tensor([pair.index(int(y)) for y in c.dataset.y])
            assert torch.equal(t.dataset.y, position) and torch.equal(d.dataset.y, position)
            assert c.task_labels == [0] and d.task_labels == [0] and t.task_labels == [i]
            assert t.classes_in_this_experience == d.classes_in_this_experience == [0, 1]
            assert getattr(cls, split).scenario == "class"
            assert getattr(task, split)[1:3].scenario == "task"  # slices keep it


def test_split_digits_in_the_three_scenarios():
    check_three_scenarios(lambda s: SplitDigits(5, scenario=s, seed=0))


def test_split_mnist_in_the_three_scenarios(tmp_path):
    write_mnist(tmp_path, 200, 50)
    check_three_scenarios(lambda s: SplitMNIST(5, scenario=s, seed=0, dataset_root=tmp_path,
                                               download=False))


def test_avalanches_flags_give_the_same_benchmark_as_the_scenario():
    by_flags = SplitDigits(5, return_task_id=True, class_ids_from_zero_in_each_exp=True)
    by_name = SplitDigits(5, scenario="task")
    assert by_flags.scenario == "task"
    for a, b in zip(by_flags.train_stream, by_name.train_stream, strict=True):
        assert torch.equal(a.dataset.y, b.dataset.y) and torch.equal(a.dataset.t, b.dataset.t)


def test_a_stream_built_by_hand_has_no_scenario():
    assert Stream("train").scenario is None


# -- the registry ------------------------------------------------------------------------
def test_permuted_and_rotated_are_domain_incremental_and_take_task_labels():
    assert get_benchmark("permuted-digits", n_experiences=2).scenario == "domain"
    task = get_benchmark("rotated-digits", "task", n_experiences=2)
    assert task.scenario == "task" and task.train_stream[1].task_labels == [1]
    with pytest.raises(ValueError, match=r"scenario='class' does not apply to permuted-digits: "
                                         r"every experience holds all the classes"):
        get_benchmark("permuted-digits", "class", n_experiences=2)
