"""The command line and run_experiment, the function behind it."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time

import numpy as np
import pytest
from test_vision import FakeProxy

from cltutor.__main__ import main
from cltutor.data.vision import DatasetNotFoundError, SplitMNIST
from cltutor.experiments import run_experiment


def run_cli(capsys, *args):
    code = main(["run", "--no-progress", "--epochs", "1", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_naive_prints_the_matrix_and_summary(capsys):
    code, out, _ = run_cli(capsys, "--benchmark", "split-digits", "--strategy", "naive",
                           "--seed", "0")
    assert code == 0
    assert "naive on split-digits" in out
    assert "after exp 4" in out and "exp 4" in out
    result = run_experiment("split-digits", "naive", epochs=1, seed=0, progress=False)
    assert f"average_accuracy: {result.summary['average_accuracy']:.3f}" in out
    assert result.matrix_frame().shape == (5, 5)


@pytest.mark.parametrize("args", [
    ["--strategy", "replay", "--mem-size", "100", "--storage-policy", "class"],
    ["--strategy", "replay", "--storage-policy", "parametric", "--groupby", "class",
     "--selection", "herding", "--mem-size", "50"],
    ["--strategy", "agem", "--benchmark", "permuted-digits", "--patterns-per-experience", "20"],
    ["--strategy", "ar1", "--rm-sz", "200", "--batch-size", "64"],
])
def test_every_strategy_runs_from_the_command_line(capsys, args):
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "accuracy matrix" in out and "bwt" in out


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--benchmark", "--strategy", "--mem-size", "--storage-policy", "--groupby",
                   "--selection", "--patterns-per-experience", "--rm-sz",
                   "CLTUTOR_DOWNLOAD_TIMEOUT"):
        assert option in out


def test_unknown_benchmark_is_a_clear_error(capsys):
    code, _, err = run_cli(capsys, "--benchmark", "split-imagenet")
    assert code == 2
    assert "split-imagenet" in err and "split-digits" in err


def test_offline_mnist_names_dataset_root_and_the_alternative(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from cltutor.data import vision

    monkeypatch.setattr(vision, "load_image_dataset", _offline_loader(vision))
    code, _, err = run_cli(capsys, "--benchmark", "split-mnist")
    assert code == 2
    assert "dataset_root" in err and "SplitDigits" in err


def _offline_loader(vision):
    """The real loader with download=False: what happens on a machine with no network."""
    real = vision.load_image_dataset

    def load(*args, **kwargs):
        kwargs["download"] = False
        return real(*args, **kwargs)

    return load


def _timed(args: list[str], env: dict[str, str], cwd) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - start


def test_c25_split_mnist_behind_a_silent_proxy_exits_2_within_the_timeout(tmp_path, monkeypatch):
    """The real command, as a subprocess: with every download sent to a proxy that never
    answers, it stops after CLTUTOR_DOWNLOAD_TIMEOUT=1 s with the offline message."""
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env.update(CLTUTOR_DOWNLOAD_TIMEOUT="1", XDG_CACHE_HOME=str(tmp_path))
    with FakeProxy() as proxy:
        env.update(proxy.environ())
        # the start-up the run needs before any download: Python, torch and torchvision
        imports, startup = _timed([sys.executable, "-c", "import cltutor.__main__, "
                                   "torchvision.datasets"], env, tmp_path)
        assert imports.returncode == 0, imports.stderr
        done, seconds = _timed([sys.executable, "-m", "cltutor", "run", "--benchmark",
                                "split-mnist", "--no-progress"], env, tmp_path)
        connections = proxy.connections
        proxy.install(monkeypatch)  # the same failure in this process, for its message
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        monkeypatch.setenv("CLTUTOR_DOWNLOAD_TIMEOUT", "1")
        with pytest.raises(DatasetNotFoundError) as info:
            SplitMNIST()
    assert done.returncode == 2, done.stderr
    assert f"error: {info.value}\n" in done.stderr
    assert f"dataset_root={str(tmp_path / 'cltutor')!r}" in done.stderr
    assert "no answer from ossci-datasets.s3.amazonaws.com within download_timeout=1 s" \
        in done.stderr
    assert "MNIST/raw/train-images-idx3-ubyte" in done.stderr and "SplitDigits()" in done.stderr
    assert connections >= 1  # the command really asked the proxy
    assert seconds < startup + 1 + 6, (seconds, startup)
    assert done.stdout == ""


def test_bad_timeout_variable_exits_2(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CLTUTOR_DOWNLOAD_TIMEOUT", "ten")
    code, _, err = run_cli(capsys, "--benchmark", "split-mnist")
    assert code == 2
    assert "CLTUTOR_DOWNLOAD_TIMEOUT must be a finite number > 0, got 'ten'" in err


def test_eval_every_gives_the_same_matrix():
    a = run_experiment("split-digits", "replay", epochs=2, progress=False, mem_size=50)
    b = run_experiment("split-digits", "replay", epochs=2, progress=False, mem_size=50,
                       eval_every=1)
    assert np.array_equal(a.accuracy_matrix, b.accuracy_matrix)


def test_bad_strategy_and_options():
    with pytest.raises(ValueError, match=r"strategy must be one of .*got 'gem'"):
        run_experiment("split-digits", "gem", progress=False)
    with pytest.raises(ValueError, match=r"options of strategy 'naive' must be among \(\), got "
                       r"'mem_size'\. Only replay, gdumb, der, icarl, online-replay take "
                       r"mem_size: drop it"):
        run_experiment("split-digits", "naive", progress=False, mem_size=10)
    with pytest.raises(ValueError, match=r"got 'mem_sz'\. No strategy takes it: check its "
                       r"spelling"):
        run_experiment("split-digits", "replay", progress=False, mem_sz=10)
    with pytest.raises(ValueError, match=r"model must be 'mlp' or 'cnn', got 'resnet'"):
        run_experiment("split-digits", "naive", model="resnet", progress=False)


def error_line(capsys, *args) -> str:
    """Run the command line, check it fails the argparse way, return its one line."""
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


@pytest.mark.parametrize("value", ["-1", "0"])  # C4, C22
def test_c4_c22_bad_mem_size_names_the_option(capsys, value):
    err = error_line(capsys, "--strategy", "replay", "--mem-size", value)
    assert f"--mem-size must be a positive int, got {value}. Use --mem-size 200" in err
    assert "max_size" not in err


@pytest.mark.parametrize("value", ["0", "-0.1", "nan", "inf"])  # C10, C23
def test_c10_c23_lr_must_be_finite_and_positive(capsys, value):
    err = error_line(capsys, "--lr", value)
    assert "--lr must be a finite number > 0, got" in err and "Try --lr 0.05" in err


def test_c10_run_experiment_checks_lr_too():
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got 0\. Try lr=0\.05"):
        run_experiment("split-digits", "naive", lr=0, progress=False)


@pytest.mark.parametrize(("strategy", "option", "value", "owner"), [  # C13
    ("naive", "--mem-size", "100", "replay, gdumb, der, icarl or online-replay"),
    ("naive", "--storage-policy", "class", "replay"),
    ("agem", "--rm-sz", "10", "ar1"),
    ("replay", "--patterns-per-experience", "5", "agem"),
    ("ar1", "--selection", "herding", "replay"),
])
def test_c13_an_option_of_another_strategy_is_an_error(capsys, strategy, option, value, owner):
    err = error_line(capsys, "--strategy", strategy, option, value)
    assert f"{option} must be left out with --strategy {strategy}, got {value}" in err
    assert f"Only --strategy {owner} take" in err


def test_c13_an_option_typed_with_its_default_value_is_still_an_error(capsys):
    err = error_line(capsys, "--strategy", "naive", "--mem-size", "200")
    assert "--mem-size must be left out with --strategy naive" in err


@pytest.mark.parametrize("value", ["-1", str(2**32)])  # C17
def test_c17_seed_range_is_our_message(capsys, value):
    err = error_line(capsys, "--seed", value)
    assert f"--seed must be an int in [0, {2**32 - 1}], got {value}" in err
    assert "random_state" not in err


@pytest.mark.parametrize(("option", "value"), [
    ("--epochs", "0"), ("--batch-size", "-2"), ("--n-experiences", "0"),
])
def test_other_counts_name_their_option(capsys, option, value):
    err = error_line(capsys, option, value)
    assert f"{option} must be a positive int, got {value}" in err


def test_agem_and_ar1_counts_name_their_option(capsys):
    assert "--sample-size must be a positive int" in error_line(
        capsys, "--strategy", "agem", "--sample-size", "0")
    assert "--rm-sz must be a positive int" in error_line(
        capsys, "--strategy", "ar1", "--rm-sz", "-5")
    assert "--ewc-lambda must be a finite number >= 0" in error_line(
        capsys, "--strategy", "ar1", "--ewc-lambda", "nan")


def test_c26_huge_mem_size_costs_nothing(capsys):
    """C26: the buffers allocate only for the rows they keep, so a memory larger than the
    data is legitimate: the run completes (it would otherwise exit 2 with one line)."""
    code, out, err = run_cli(capsys, "--strategy", "replay", "--mem-size", str(10**12),
                             "--n-experiences", "2")
    assert code == 0, err
    assert "Traceback" not in err and "accuracy matrix" in out


def test_c26_huge_rm_sz_costs_nothing_either(capsys):
    """AR1's latent memory also holds only what it stores."""
    code, out, err = run_cli(capsys, "--strategy", "ar1", "--rm-sz", str(10**12),
                             "--n-experiences", "2")
    assert code == 0, err
    assert "Traceback" not in err and "accuracy matrix" in out


def test_c26_an_allocation_that_cannot_succeed_exits_2_with_one_line(capsys, monkeypatch):
    import cltutor.__main__ as cli

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't "
                           "allocate memory: you tried to allocate 256000000000000 bytes.")

    monkeypatch.setattr(cli, "run_experiment", out_of_memory)
    err = error_line(capsys, "--strategy", "replay", "--mem-size", "500")
    assert "needs more memory than the machine has" in err and "--mem-size" in err


@pytest.mark.parametrize("option", [["--groupby", "class"], ["--selection", "herding"]])
def test_parametric_options_need_the_parametric_policy(capsys, option):
    err = error_line(capsys, "--strategy", "replay", "--storage-policy", "class", *option)
    assert f"{option[0]} must be left out with --storage-policy class" in err
    assert "--storage-policy parametric" in err


def test_scenario_task_trains_one_head_per_task_and_prints_unmeasured_cells(capsys):
    code, out, err = run_cli(capsys, "--scenario", "task", "--seed", "0")
    assert code == 0, err
    assert "-: not measured" in out
    after_0 = next(line for line in out.splitlines() if line.startswith("after exp 0"))
    assert after_0.split()[4:] == ["-"] * 4  # tasks 1-4 have no head after experience 0


def test_a_scenario_that_does_not_apply_is_one_error_line(capsys):
    err = error_line(capsys, "--benchmark", "permuted-digits", "--scenario", "class")
    assert "scenario='class' does not apply to permuted-digits" in err
    err = error_line(capsys, "--scenario", "task", "--strategy", "ar1")
    assert "AR1 learns class- and domain-incremental streams" in err
    err = error_line(capsys, "--scenario", "task", "--model", "cnn")
    assert "model must be 'mlp' for scenario='task'" in err


@pytest.mark.parametrize("strategy", ["ewc", "si", "lwf", "cumulative", "joint"])
def test_the_regularisation_strategies_and_the_upper_bounds_run(capsys, strategy):
    code, out, err = run_cli(capsys, "--strategy", strategy, "--benchmark", "permuted-digits",
                             "--n-experiences", "2")
    assert code == 0, err
    assert f"{strategy} on permuted-digits" in out and "average_accuracy" in out


def test_regularisation_options_belong_to_their_strategies(capsys):
    err = error_line(capsys, "--strategy", "naive", "--ewc-lambda", "2")
    assert "Only --strategy ar1 or ewc take it" in err
    err = error_line(capsys, "--strategy", "ewc", "--ewc-mode", "online")
    assert "--decay-factor must be given with --ewc-mode online" in err
    err = error_line(capsys, "--strategy", "si", "--si-lambda", "-1")
    assert "--si-lambda must be a finite number >= 0, got -1" in err
    err = error_line(capsys, "--strategy", "lwf", "--temperature", "0")
    assert "temperature must be a finite number > 0, got 0" in err
    code, out, _ = run_cli(capsys, "--strategy", "ewc", "--ewc-mode", "online",
                           "--decay-factor", "0.9", "--n-experiences", "2")
    assert code == 0 and "ewc on split-digits" in out


def test_joint_training_prints_its_one_row_and_no_forgetting(capsys):
    code, out, _ = run_cli(capsys, "--strategy", "joint", "--n-experiences", "2")
    assert code == 0
    assert "average_forgetting: - (not measured)" in out


@pytest.mark.parametrize("args", [
    ["--strategy", "gdumb", "--mem-size", "100"],
    ["--strategy", "der", "--alpha", "0.3", "--beta", "0"],
    ["--strategy", "icarl", "--mem-size", "100"],
    ["--strategy", "online-replay", "--epochs", "1", "--batch-size", "10"],
])
def test_the_replay_family_runs_from_the_command_line(capsys, args):
    code, out, err = run_cli(capsys, *args, "--n-experiences", "2")
    assert code == 0, err
    assert f"{args[1]} on split-digits" in out and "average_accuracy" in out


@pytest.mark.parametrize("strategy", ["gdumb", "der", "icarl", "online-replay"])
def test_c26_a_huge_memory_costs_nothing_in_the_replay_family(capsys, strategy):
    """The reservoir, GDumb's buffer and iCaRL's exemplars hold only the rows they keep."""
    code, out, err = run_cli(capsys, "--strategy", strategy, "--mem-size", str(10**12),
                             "--n-experiences", "2", "--epochs", "1")
    assert code == 0, err
    assert "Traceback" not in err and "accuracy matrix" in out


def test_replay_family_options_belong_to_their_strategies(capsys):
    err = error_line(capsys, "--strategy", "gdumb", "--beta", "0.5")
    assert "Only --strategy der takes it" in err
    err = error_line(capsys, "--strategy", "der", "--beta", "-1")
    assert "--beta must be a finite number >= 0, got -1" in err
    err = error_line(capsys, "--strategy", "icarl", "--scenario", "task")
    assert "strategy 'icarl' is class-incremental" in err


# -- python -m cltutor sweep (issue 16) --------------------------------------------------

@pytest.fixture
def restore_threads():
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _summary_values(report: str) -> dict[str, float]:
    """``average_accuracy: 0.123``-style lines of a run's report, and the matrix's cells."""
    values = dict(re.findall(r"^\s*(\w+): ([-+]?\d\.\d{3})$", report, flags=re.M))
    cells = re.findall(r"^after exp \d+ (.*)$", report, flags=re.M)
    return {**{k: float(v) for k, v in values.items()},
            "matrix": [float(v) for row in cells for v in row.split()]}


def test_sweep_prints_the_summary_and_writes_every_row(capsys, tmp_path, restore_threads):
    import pandas as pd

    out_csv = tmp_path / "sweep.csv"
    code = main(["sweep", "--strategy", "naive", "replay", "--mem-size", "30", "100",
                 "--seeds", "0:2", "--epochs", "1", "--n-experiences", "2", "--no-progress",
                 "--out", str(out_csv)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.splitlines()[0] == "average_accuracy over seeds [0, 1] (6 runs)"
    assert re.search(r"^\s*replay\s+30\s+0\.\d{3}\s+0\.\d{3}\s+.*\s2\s+0$", out, flags=re.M)
    frame = pd.read_csv(out_csv)
    assert frame[["strategy", "seed"]].values.tolist() == [
        ["naive", 0], ["naive", 1], ["replay", 0], ["replay", 1], ["replay", 0], ["replay", 1]]
    assert len(json.loads(frame["accuracy_matrix"][0])) == 2


def test_print_commands_lines_each_reproduce_their_row(capsys, tmp_path, restore_threads):
    import pandas as pd

    args = ["--strategy", "naive", "replay", "--mem-size", "40", "--seeds", "3", "5",
            "--epochs", "1", "--n-experiences", "2", "--no-progress"]
    assert main(["sweep", *args, "--print-commands"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("python -m cltutor run --benchmark split-digits --strategy naive "
                        "--epochs 1 --n-experiences 2 --seed 3 --threads 1 --no-progress")
    assert len(lines) == 4
    assert main(["sweep", *args, "--out", str(tmp_path / "s.csv")]) == 0
    capsys.readouterr()
    rows = pd.read_csv(tmp_path / "s.csv")
    for line, (_, row) in zip(lines, rows.iterrows(), strict=True):
        words = shlex.split(line)
        assert words[:4] == ["python", "-m", "cltutor", "run"]
        assert main(words[3:]) == 0
        got = _summary_values(capsys.readouterr().out)
        assert got["average_accuracy"] == round(row["average_accuracy"], 3)
        assert got["bwt"] == round(row["bwt"], 3)
        matrix = np.array(json.loads(row["accuracy_matrix"])).flatten()
        assert got["matrix"] == pytest.approx(matrix.round(3).tolist(), abs=1e-9)


def test_sweep_options_errors(capsys):
    code = main(["sweep", "--strategy", "naive", "agem", "--mem-size", "50", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert ("--mem-size must go with a strategy that takes it, got --strategy naive agem. "
            "Add --strategy replay or gdumb") in err
    assert main(["sweep", "--seeds", "a:3", "--no-progress"]) == 2
    assert "--seeds must be ints or ranges start:stop, got 'a:3'" in capsys.readouterr().err
    assert main(["sweep", "--strategy", "replay", "--mem-size", "0", "--no-progress"]) == 2
    assert "mem_size must be a positive int, got 0" in capsys.readouterr().err


def test_a_failed_run_of_the_command_line_sweep_is_listed_and_exits_1(capsys):
    code = main(["sweep", "--strategy", "naive", "icarl", "--scenario", "task", "--seeds", "0",
                 "--epochs", "1", "--n-experiences", "2", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "failed: icarl seed 0: ValueError: strategy 'icarl' is class-incremental" in err
    assert re.search(r"^\s*icarl\s+-\s+-\s+-\s+-\s+0\s+1$", out, flags=re.M)


def test_run_threads_must_be_positive(capsys, restore_threads):
    assert main(["run", "--threads", "0", "--no-progress"]) == 2
    assert "--threads must be a positive int, got 0. Try --threads 1." in capsys.readouterr().err
