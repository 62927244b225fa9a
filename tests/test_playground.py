"""The strategy playground: its run button trains, plots live and keeps a comparison table."""

import pytest

from cltutor.viz import StrategyPlayground, comparison_table
from cltutor.viz import playground as playground_module


def matrix_texts(fig):
    return {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
            for t in fig.axes[0].texts}


def test_run_button_trains_plots_live_and_keeps_results(monkeypatch):
    playground = StrategyPlayground(n_experiences=2)
    playground.epochs_control.value = 1
    states = []
    real = playground_module.run_experiment

    def spy(*args, **kwargs):
        states.append(playground.run_button.disabled)
        return real(*args, **kwargs)

    monkeypatch.setattr(playground_module, "run_experiment", spy)
    playground.run_button.click()
    assert states == [True] and not playground.run_button.disabled
    result = playground.results[-1]
    A = result.accuracy_matrix  # (2, 2)
    assert matrix_texts(playground.matrix_figure) == {
        (t, k): f"{A[t, k]:.2f}" for t in range(2) for k in range(2)}
    live = playground.live  # evaluated every epoch (eval_every=1): more points than rows
    assert len(live.history[0]) > len(A)
    for k in range(2):  # the last point at each experience boundary is the matrix cell
        last_at = dict(live.history[k])
        assert [last_at[b] for b in live.boundaries] == pytest.approx(A[:, k].tolist())
    drawn = {ln.get_label(): ln.get_ydata().tolist() for ln in live.ax.lines
             if ln.get_label().startswith("exp")}
    # each curve in colour from where its training began (the grey part before it: not yet)
    assert drawn == {f"exp {k}": [a for x, a in live.history[k] if x >= live.starts[k]]
                     for k in range(2)}
    assert result.config["epochs"] == 1 and "average_accuracy" in playground.status.value

    playground.strategy_control.value = "replay"
    playground.params["replay"]["mem_size"].value = 100
    playground.run_button.click()
    table = playground.table
    assert table["strategy"].tolist() == ["naive", "replay"]
    assert table.loc[1, "params"] == "mem_size=100, storage_policy=experience"
    assert table.loc[1, "average_accuracy"] == pytest.approx(
        playground.results[1].summary["average_accuracy"])


def test_strategy_control_switches_parameters_and_learning_rate():
    playground = StrategyPlayground(n_experiences=2)
    assert playground.options() == {}
    playground.strategy_control.value = "agem"
    assert playground.options() == {"patterns_per_experience": 100, "sample_size": 64}
    assert playground.params["agem"]["sample_size"].layout.display is None
    assert playground.params["replay"]["mem_size"].layout.display == "none"
    playground.strategy_control.value = "ar1"
    assert playground.options() == {"rm_sz": 500}
    assert playground.lr_control.value == pytest.approx(0.01)


def test_a_bad_setting_is_reported_next_to_the_button():
    playground = StrategyPlayground(benchmarks=["no-such-benchmark"], n_experiences=2)
    playground.run_button.click()
    assert "benchmark must be one of" in playground.status.value
    assert not playground.run_button.disabled and playground.results == []
    with pytest.raises(ValueError, match="benchmark must be one of"):
        playground.run()


def test_comparison_table_of_no_runs_is_empty():
    assert comparison_table([]).empty


def test_w27_strategy_dropdown_value_is_checked_before_traitlets():
    with pytest.raises(ValueError, match=r"StrategyPlayground strategy must be one of "
                       r"\['naive', 'replay', 'agem', 'ar1', 'ewc', .*'online-replay'\], "
                       r"got 'gem'"):
        StrategyPlayground(strategy="gem")
    assert StrategyPlayground(strategy="agem").options() == {
        "patterns_per_experience": 100, "sample_size": 64}


def test_w25_any_failure_of_a_run_is_shown_and_the_button_comes_back(monkeypatch):
    playground = StrategyPlayground(n_experiences=2)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory, say")

    monkeypatch.setattr(playground_module, "run_experiment", broken)
    playground.run_button.click()  # must not raise into the front end
    assert "RuntimeError: out of memory, say" in playground.status.value
    assert "running" not in playground.status.value
    assert not playground.run_button.disabled and playground.results == []


def test_w25_offline_split_mnist_is_shown_next_to_the_button(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CLTUTOR_DOWNLOAD_TIMEOUT", "1")
    from cltutor.data import vision

    real = vision.load_image_dataset

    def offline(*args, **kwargs):  # what a machine without network sees, without waiting
        kwargs["download"] = False
        return real(*args, **kwargs)

    monkeypatch.setattr(vision, "load_image_dataset", offline)
    playground = StrategyPlayground(benchmarks=["split-mnist"], n_experiences=2)
    playground.run_button.click()
    assert "DatasetNotFoundError" in playground.status.value
    assert "dataset_root" in playground.status.value
    assert not playground.run_button.disabled and playground.results == []


def test_the_scenario_switch_runs_the_same_stream_task_incrementally():
    import numpy as np

    playground = StrategyPlayground(n_experiences=2)
    playground.epochs_control.value = 1
    assert [v for _, v in playground.scenario_control.options] == [None, "class", "task",
                                                                   "domain"]
    assert playground.scenario_control.label == "as built"  # shown, not an empty box
    playground.run_button.click()  # as built: split-digits is class-incremental
    playground.scenario_control.value = "task"
    playground.run_button.click()
    assert "error" not in playground.status.value, playground.status.value
    table = playground.table
    assert table["scenario"].tolist() == ["class", "task"]
    A = playground.results[-1].accuracy_matrix
    assert np.isnan(A[0, 1]) and not np.isnan(np.diag(A)).any()  # task 1: no head after exp 0
    assert np.diag(A).min() > 0.9  # one binary head per task
    playground.benchmark_control.value = "permuted-digits"
    playground.scenario_control.value = "class"
    playground.run_button.click()  # does not apply: said next to the button
    assert "scenario=&#x27;class&#x27; does not apply to permuted-digits" in \
        playground.status.value and not playground.run_button.disabled


def test_every_strategy_has_its_controls_and_runs_from_the_panel():
    from cltutor.experiments import STRATEGIES

    playground = StrategyPlayground(n_experiences=2)
    assert set(playground.params) == set(STRATEGIES)
    playground.epochs_control.value = 1
    for name in ("ewc", "joint"):
        playground.strategy_control.value = name
        playground.run_button.click()
        assert "error" not in playground.status.value, playground.status.value
    assert playground.table["strategy"].tolist() == ["ewc", "joint"]
    assert playground.table.loc[0, "params"] == "ewc_lambda=100.0"


def test_an_upper_bound_run_is_a_reference_line_in_later_runs():
    playground = StrategyPlayground(n_experiences=2)
    playground.epochs_control.value = 1
    playground.strategy_control.value = "cumulative"
    playground.run_button.click()
    bound = playground.results[0].summary["average_accuracy"]
    playground.strategy_control.value = "naive"
    playground.run_button.click()
    assert playground.live.reference == {"cumulative (run 0)": bound}
    dotted = [ln for ln in playground.live.ax.lines if ln.get_label() == "cumulative (run 0)"]
    assert len(dotted) == 1 and dotted[0].get_ydata()[0] == bound
    playground.benchmark_control.value = "permuted-digits"  # another benchmark: no line
    assert playground.references() == {}


def test_the_seed_control_the_model_column_and_the_notes():
    playground = StrategyPlayground(n_experiences=2, seed=3)
    playground.epochs_control.value = 1
    assert playground.seed == 3
    playground.run_button.click()
    playground.seed_control.value = 4
    playground.run_button.click()
    table = playground.table
    assert table["seed"].tolist() == [3, 4]
    mlp = sum(p.numel() for p in playground.results[0].cl_strategy.model.parameters())
    assert table["model"].tolist() == [f"SimpleMLP, {mlp / 1e3:.0f}k weights"] * 2
    assert playground.results[1].config["seed"] == 4
    assert playground.note.value == "<i>Compare with care: the runs differ in seeds (3, 4).</i>"
    playground.strategy_control.value = "ar1"  # AR1's lr differs: the reset is said
    assert "lr set to 0.01, the default of ar1, replacing 0.05" in playground.note.value
    playground.run_button.click()
    assert playground.table.loc[2, "model"].startswith("LatentReplayNet, ")
    assert "the runs differ in models" in playground.note.value


def test_comparison_notes_are_empty_for_alike_runs():
    from cltutor.viz.playground import comparison_notes

    playground = StrategyPlayground(n_experiences=2)
    playground.epochs_control.value = 1
    playground.run_button.click()
    playground.strategy_control.value = "replay"  # same lr: no reset note
    assert playground.note.value == ""
    playground.run_button.click()
    assert comparison_notes(playground.table) == [] and playground.note.value == ""
    with pytest.raises(ValueError, match="seed must be an int in"):
        StrategyPlayground(seed=-1)


def test_every_run_is_overlaid_in_one_comparison_figure():
    playground = StrategyPlayground(n_experiences=2)
    playground.epochs_control.value = 1
    playground.run_button.click()
    playground.strategy_control.value = "replay"
    playground.run_button.click()
    curves = playground.comparison.curves
    assert list(curves) == ["run 0: naive", "run 1: replay"]
    for label, result in zip(curves, playground.results, strict=True):
        assert curves[label][-1] == (2.0, pytest.approx(result.summary["average_accuracy"]))
    drawn = [line.get_label() for line in playground.comparison.ax.lines]
    assert "run 0: naive" in drawn and "run 1: replay" in drawn
