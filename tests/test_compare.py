"""Runs side by side (viz/compare.py): what each curve records, when it redraws, its errors."""

import numpy as np
import pytest
import torch

from cltutor import SplitDigits, run_experiment
from cltutor.viz import LiveComparison, plot_comparison


@pytest.fixture(scope="module")
def bench():
    return SplitDigits(n_experiences=5, seed=0)


@pytest.fixture(scope="module")
def task_bench():
    return SplitDigits(n_experiences=5, scenario="task", seed=0)


def train(bm, strategy, compare, label, epochs=2, eval_every=1, **options):
    return run_experiment(bm, strategy, epochs=epochs, seed=0, device="cpu", progress=False,
                          eval_every=eval_every, loggers=[compare.curve(label)], **options)


def test_a_point_per_epoch_at_the_mean_accuracy_of_the_experiences_seen(bench):
    compare = LiveComparison()
    result = train(bench, "naive", compare, "Naive")
    A = result.accuracy_matrix
    xs, ys = zip(*compare.curves["Naive"], strict=True)
    assert xs == tuple(np.arange(1, 11) / 2)
    # the end of each experience: the mean of row t over experiences 0..t
    assert list(ys[1::2]) == pytest.approx([A[t, : t + 1].mean() for t in range(5)])
    assert ys[-1] == pytest.approx(result.summary["average_accuracy"])


def test_runs_with_more_iterations_per_experience_line_up(bench):
    compare = LiveComparison()
    train(bench, "naive", compare, "Naive")
    train(bench, "cumulative", compare, "Cumulative")  # more iterations per experience
    assert [x for x, _ in compare.curves["Cumulative"]] == \
        [x for x, _ in compare.curves["Naive"]]


def test_evaluating_only_after_each_experience_gives_one_point_each(bench):
    compare = LiveComparison()
    train(bench, "naive", compare, "Naive", eval_every=-1)
    assert [x for x, _ in compare.curves["Naive"]] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_a_curve_with_a_label_already_drawn_replaces_it_and_keeps_the_others(bench):
    compare = LiveComparison()
    train(bench, "naive", compare, "Naive", epochs=1)
    train(bench, "replay", compare, "EWC", epochs=1, mem_size=50)
    first = list(compare.curves["EWC"])
    train(bench, "ewc", compare, "EWC", epochs=1, ewc_lambda=10.0)
    assert list(compare.curves) == ["Naive", "EWC"]
    assert len(compare.curves["EWC"]) == 5 and compare.curves["EWC"] != first
    legend = [t.get_text() for t in compare.ax.get_legend().get_texts()]
    assert legend == ["Naive", "EWC"]


def test_unmeasured_cells_are_left_out_of_the_mean(task_bench):
    compare = LiveComparison()
    result = train(task_bench, "naive", compare, "Naive", epochs=1)
    A = result.accuracy_matrix
    assert np.isnan(A[0, 1])  # a multi-head model is not tested on untrained tasks
    assert [y for _, y in compare.curves["Naive"]] == \
        pytest.approx([np.nanmean(A[t, : t + 1]) for t in range(5)])


def test_redraws_are_throttled_during_training_and_the_end_always_draws(bench):
    compare = LiveComparison(min_interval=3600)
    train(bench, "naive", compare, "Naive", epochs=3)
    # the first evaluation draws, then nothing within the hour until each train() ends;
    # run_experiment's eval() after each experience measures what was drawn: no redraw
    assert compare.view.shown == 1 + 5
    lines = [ln for ln in compare.ax.lines if ln.get_label() == "Naive"]
    assert len(lines) == 1 and len(lines[0].get_xdata()) == 15


def test_draws_reference_lines_dotted():
    ax = plot_comparison({"Naive": [(1.0, 0.5), (2.0, 0.3)]}, reference={"Joint": 0.9})
    dotted = [ln for ln in ax.lines if ln.get_linestyle() == ":"]
    assert [ln.get_label() for ln in dotted] == ["Joint"]
    assert list(dotted[0].get_ydata()) == [0.9, 0.9]


def test_argument_errors():
    with pytest.raises(TypeError, match="label must be a non-empty str"):
        LiveComparison().curve("")
    with pytest.raises(ValueError, match="min_interval"):
        LiveComparison(min_interval=-1)
    with pytest.raises(ValueError, match=r"reference\['Joint'\]"):
        plot_comparison({}, reference={"Joint": 1.5})
    with pytest.raises(TypeError, match="output must be an ipywidgets.Output"):
        LiveComparison(output="here")


def test_the_result_holds_the_strategy_that_ran(bench):
    result = run_experiment(bench, "ewc", epochs=1, seed=0, device="cpu", progress=False)
    assert len(result.cl_strategy.ewc_plugin.saved) == 5
    assert "cl_strategy" not in repr(result)
    before = torch.random.get_rng_state()
    assert result.cl_strategy.model(bench.test_stream[0].dataset.x[:2]).shape == (2, 10)
    assert torch.equal(torch.random.get_rng_state(), before)
