"""cltutor.sweep: grids x seeds, the same frame whatever runs them, failures kept, a cache."""

from __future__ import annotations

import doctest
import inspect
import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import ParameterGrid

import cltutor
from cltutor.__main__ import STRATEGY_DEFAULTS
from cltutor.experiments import STRATEGIES, STRATEGY_OPTIONS
from cltutor.sweep import expand_grid, iter_sweep, run_one, summarize

SWEEP = sys.modules["cltutor.sweep"]  # cltutor.sweep the attribute is the function
GRID = [{"strategy": ["naive"]}, {"strategy": ["replay"], "mem_size": [30, 100]}]
FAST = dict(epochs=1, n_experiences=2)  # 3 configs x 2 seeds, about 0.1 s a run


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Everything but the wall-clock seconds, the matrices as nested lists."""
    out = frame.drop(columns=["seconds"])
    out["accuracy_matrix"] = [None if m is None else m.tolist() for m in out["accuracy_matrix"]]
    return out


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    frame = cltutor.sweep(GRID, seeds=[0, 1], progress=False, **FAST)
    assert frame["error"].isna().all()  # so that comparing frames compares results
    return frame


def test_the_grid_has_parameter_grid_semantics():
    runs = expand_grid(GRID, seeds=[3, 1], **FAST)
    expected = [{**p, "seed": s} for p in ParameterGrid(GRID) for s in (3, 1)]
    assert [{k: r[k] for k in p} for r, p in zip(runs, expected, strict=True)] == expected
    assert all(r["benchmark"] == "split-digits" and r["epochs"] == 1 for r in runs)
    # a dict is a one-dict list; combinations within a dict, none across dicts
    one = expand_grid({"strategy": ["ewc"], "ewc_lambda": [1, 10], "epochs": [1, 2]}, seeds=[0])
    # keys in sorted order, the last varying fastest: epochs, then ewc_lambda
    assert [(r["epochs"], r["ewc_lambda"]) for r in one] == [(1, 1), (1, 10), (2, 1), (2, 10)]
    assert "mem_size" not in runs[0]  # naive never receives replay's option


def test_the_frame_has_a_column_per_grid_key_and_rows_in_grid_then_seed_order(reference):
    assert list(reference.columns) == ["benchmark", "strategy", "mem_size", *SWEEP.RESULT_COLUMNS]
    assert reference[["strategy", "seed"]].values.tolist() == [
        ["naive", 0], ["naive", 1], ["replay", 0], ["replay", 1], ["replay", 0], ["replay", 1]]
    assert reference["mem_size"].isna().tolist() == [True, True, False, False, False, False]
    assert reference["mem_size"].dropna().tolist() == [30, 30, 100, 100]
    assert reference["error"].isna().all() and not reference["cached"].any()
    for _, row in reference.iterrows():  # the summary columns are the matrix's metrics
        matrix = row["accuracy_matrix"]
        assert matrix.shape == (2, 2)
        assert row["average_accuracy"] == pytest.approx(cltutor.average_accuracy(matrix))
        assert row["bwt"] == pytest.approx(cltutor.backward_transfer(matrix))


def test_a_run_of_the_sweep_is_the_same_as_run_experiment(reference):
    torch.set_num_threads(1)
    try:
        alone = cltutor.run_experiment("split-digits", "replay", mem_size=100, seed=1,
                                       progress=False, **FAST)
    finally:
        torch.set_num_threads(2)
    np.testing.assert_array_equal(reference["accuracy_matrix"][5], alone.accuracy_matrix)


@pytest.mark.parametrize(("grid", "fixed", "message"), [
    ([{"strategy": ["naive"], "mem_sz": [5]}], {}, r"got 'mem_sz'\. No strategy takes it"),
    ([{"strategy": ["naive", "replay"], "mem_size": [50]}], {},
     r"grid keys of strategy 'naive' must be among \(\), got 'mem_size'\. Only replay"),
    ([{"strategy": "replay"}], {}, r"grid\['strategy'\] must be a list of values, got 'replay'"),
    ([{"strategy": ["replay"], "mem_size": []}], {}, r"must hold at least one value"),
    ([{"strategy": ["naive"], "seed": [0, 1]}], {}, r"must leave out 'seed'.*seeds="),
    ([{"strategy": ["naive"], "epochs": [1]}], {"epochs": 2}, r"in the grid or fixed, not both"),
    ([{"strategy": ["naive"], "benchmark": ["split-digit"]}], {}, r"benchmark must be one of"),
    ([{"strategy": ["gem"]}], {}, r"strategy must be one of"),
    ([{"strategy": ["naive"]}, {"strategy": ["replay"], "mem_size": [50, -1]}], {},
     r"mem_size must be a positive int, got -1"),
    ([{"strategy": ["naive"], "lr": [0.05, 0]}], {}, r"lr must be a finite number > 0"),
    ("naive", {}, r"grid must be a dict of lists"),
])
def test_invalid_grids_are_rejected_before_any_run(monkeypatch, grid, fixed, message):
    calls = []
    monkeypatch.setattr(SWEEP, "run_experiment", lambda **kw: calls.append(kw))
    with pytest.raises((ValueError, TypeError), match=message):
        cltutor.sweep(grid, seeds=[0], progress=False, **fixed)
    assert calls == []


@pytest.mark.parametrize(("seeds", "message"), [([], "at least one seed"),
                                                ([0, 0], "must be distinct"),
                                                ([-1], r"seeds must be an int in \[0")])
def test_bad_seeds_are_rejected(seeds, message):
    with pytest.raises(ValueError, match=message):
        expand_grid(GRID, seeds=seeds)


def test_two_processes_give_the_same_frame(reference):
    frame = cltutor.sweep(GRID, seeds=[0, 1], n_jobs=2, progress=False, **FAST)
    pd.testing.assert_frame_equal(comparable(frame), comparable(reference))


def test_a_dask_cluster_gives_the_same_frame(reference):
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        with joblib.parallel_config(backend="dask"):
            frame = cltutor.sweep(GRID, seeds=[0, 1], progress=False, **FAST)
        workers = client.run(lambda: __import__("os").getpid())
    assert len(workers) == 2
    pd.testing.assert_frame_equal(comparable(frame), comparable(reference))


def test_a_failing_run_is_recorded_and_the_others_complete():
    grid = [{"strategy": ["naive", "icarl"], "scenario": ["task"]}]  # iCaRL refuses task-IL
    with pytest.warns(UserWarning, match=r"2 of 4 runs failed.*icarl seed 0: ValueError: "
                                         r"strategy 'icarl' is class-incremental"):
        frame = cltutor.sweep(grid, seeds=[0, 1], progress=False, **FAST)
    failed = frame["strategy"] == "icarl"
    assert frame.loc[failed, "error"].str.startswith("ValueError: strategy 'icarl'").all()
    assert frame.loc[failed, "average_accuracy"].isna().all()
    assert frame.loc[failed, "accuracy_matrix"].isna().all()
    assert frame.loc[~failed, "error"].isna().all()
    assert (frame.loc[~failed, "average_accuracy"] > 0).all()
    assert summarize(frame)["failed"].tolist() == [0, 2]


def test_a_diverged_run_keeps_its_warning_in_the_row():
    grid = {"strategy": ["naive"], "lr": [0.05, 1e12]}
    with pytest.warns(UserWarning, match=r"1 of 2 runs warned.*naive seed 0: RuntimeWarning: "
                                         r"the training loss is nan"):
        frame = cltutor.sweep(grid, seeds=[0], n_jobs=2, progress=False, **FAST)
    assert pd.isna(frame["warnings"][0])
    assert "the weights have diverged" in frame["warnings"][1]
    assert frame["error"].isna().all()


def test_run_one_restores_torch_threads():
    before = torch.get_num_threads()
    row = run_one({"benchmark": "split-digits", "strategy": "naive", "seed": 0, "epochs": 0})
    assert torch.get_num_threads() == before
    assert row["error"].startswith("ValueError:") and np.isnan(row["bwt"])


def test_a_cached_rerun_computes_nothing_and_a_stopped_sweep_resumes(tmp_path, monkeypatch,
                                                                     reference):
    first = cltutor.sweep(GRID, seeds=[0, 1], cache=tmp_path, progress=False, **FAST)
    assert len(list(tmp_path.glob("*.pkl"))) == 6 and not first["cached"].any()
    computed = []
    real = SWEEP.run_experiment
    monkeypatch.setattr(SWEEP, "run_experiment", lambda **kw: computed.append(kw) or real(**kw))
    again = cltutor.sweep(GRID, seeds=[0, 1], cache=tmp_path, progress=False, **FAST)
    assert computed == [] and again["cached"].all()
    pd.testing.assert_frame_equal(comparable(again).drop(columns="cached"),
                                  comparable(reference).drop(columns="cached"))
    sorted(tmp_path.glob("*.pkl"))[0].unlink()  # as if the sweep had stopped before that run
    resumed = cltutor.sweep(GRID, seeds=[0, 1], cache=tmp_path, progress=False, **FAST)
    assert len(computed) == 1 and resumed["cached"].sum() == 5
    pd.testing.assert_frame_equal(comparable(resumed).drop(columns="cached"),
                                  comparable(reference).drop(columns="cached"))


def test_failed_runs_are_not_cached(tmp_path):
    with pytest.warns(UserWarning, match="1 of 1 runs failed"):
        cltutor.sweep({"strategy": ["icarl"], "scenario": ["task"]}, seeds=[0], cache=tmp_path,
                      progress=False, **FAST)
    assert list(tmp_path.glob("*.pkl")) == []


def test_results_stream_in_as_runs_finish():
    seen = []
    frame = cltutor.sweep(GRID, seeds=[0], progress=False,
                          callback=lambda row, done, total: seen.append((row["strategy"], done,
                                                                         total)), **FAST)
    assert [(done, total) for _, done, total in seen] == [(1, 3), (2, 3), (3, 3)]
    assert sorted(s for s, _, _ in seen) == sorted(frame["strategy"])
    pairs = list(iter_sweep(GRID, seeds=[0], **FAST))
    assert sorted(i for i, _ in pairs) == [0, 1, 2]
    assert all(row["seed"] == 0 and "average_accuracy" in row for _, row in pairs)


def test_summarize_gives_the_t_interval_and_counts():
    df = pd.DataFrame({"strategy": ["a", "a", "a", "b", "b"], "mem_size": [1, 1, 1, 2, 2],
                       "seed": [0, 1, 2, 0, 1], "average_accuracy": [0.5, 0.7, 0.6, 0.9, np.nan],
                       "error": [None, None, None, None, "ValueError: x"]})
    table = summarize(df)
    assert list(table.columns) == ["strategy", "mem_size", "mean", "std", "ci95_low",
                                   "ci95_high", "count", "failed"]
    a = table.iloc[0]
    half = 4.302652729911275 * 0.1 / np.sqrt(3)  # t(0.975, 2) * std / sqrt(n)
    assert (a["mean"], a["std"]) == pytest.approx((0.6, 0.1))
    assert (a["ci95_low"], a["ci95_high"]) == pytest.approx((0.6 - half, 0.6 + half))
    assert (a["count"], a["failed"]) == (3, 0)
    b = table.iloc[1]
    assert b["mean"] == 0.9 and np.isnan(b["std"]) and (b["count"], b["failed"]) == (1, 1)
    assert summarize(df, by=["mem_size"])["mem_size"].tolist() == [1, 2]
    with pytest.raises(ValueError, match="metric must be a column"):
        summarize(df, metric="acc")
    with pytest.raises(ValueError, match=r"by must name columns of the frame, got \['lr'\]"):
        summarize(df, by=["lr"])


def test_plot_sweep_draws_means_intervals_and_the_upper_bound():
    df = pd.DataFrame({"strategy": ["replay"] * 4 + ["naive", "naive", "cumulative",
                                                     "cumulative"],
                       "mem_size": [50, 50, 200, 200, None, None, None, None],
                       "seed": [0, 1] * 4,
                       "average_accuracy": [0.6, 0.62, 0.8, 0.84, 0.2, 0.2, 0.95, 0.97],
                       "error": [None] * 8})
    ax = cltutor.plot_sweep(df, x="mem_size", hue="strategy")
    line = ax.containers[0].lines[0]
    assert line.get_xdata().tolist() == [50.0, 200.0]
    assert line.get_ydata() == pytest.approx([0.61, 0.82])
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:2] == ["cumulative (upper bound)", "naive (no mem_size)"]
    flat = [line_ for line_ in ax.get_lines() if line_.get_linestyle() in (":", "--")]
    assert sorted(line_.get_ydata()[0] for line_ in flat) == pytest.approx([0.2, 0.96])
    two = pd.concat([df.assign(benchmark="a"), df.assign(benchmark="b")], ignore_index=True)
    per_benchmark = cltutor.plot_sweep(two, x="strategy", hue="benchmark")
    assert [label for label in per_benchmark.get_legend_handles_labels()[1]
            if "upper bound" in label] == ["cumulative (upper bound) a",
                                           "cumulative (upper bound) b"]
    by_strategy = cltutor.plot_sweep(df[df["strategy"] != "cumulative"], x="strategy",
                                     reference={"paper": 0.9})
    assert [t.get_text() for t in by_strategy.get_xticklabels()] == ["replay", "naive"]
    with pytest.raises(ValueError, match="hue must be a column of the frame, got 'model'"):
        cltutor.plot_sweep(df, x="mem_size", hue="model")


def test_strategy_options_match_the_constructors_and_the_command_line():
    routed = {"replay": {"mem_size", "storage_policy", "groupby", "selection", "layer_name"},
              "icarl": {"mem_size"}, "ewc": {"ewc_mode"}}  # taken by make_strategy itself
    classes = {"agem": cltutor.AGEM, "ar1": cltutor.AR1, "ewc": cltutor.EWC,
               "si": cltutor.SynapticIntelligence, "lwf": cltutor.LwF, "gdumb": cltutor.GDumb,
               "der": cltutor.DER, "icarl": cltutor.ICaRL, "online-replay": cltutor.OnlineReplay}
    assert set(STRATEGY_OPTIONS) == set(STRATEGIES)
    for name, cls in classes.items():
        taken = set(inspect.signature(cls.__init__).parameters)
        assert set(STRATEGY_OPTIONS[name]) - routed.get(name, set()) <= taken, name
    for name, defaults in STRATEGY_DEFAULTS.items():
        assert set(defaults) <= set(STRATEGY_OPTIONS[name]), name


def test_the_docstring_examples_run():
    for module in (SWEEP, sys.modules["cltutor.viz.compare"], sys.modules["cltutor.experiments"]):
        with warnings.catch_warnings():
            result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__
