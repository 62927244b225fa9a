"""A 12-run sweep on SplitDigits: one process, two local processes, a Dask LocalCluster.

The grid is the course's four strategies (Naive, Replay with 200 slots, A-GEM, EWC) times
three seeds, 5 experiences of 5 epochs each. Three ways of running the same sweep alternate
in each round:

1. ``sweep(..., n_jobs=1)``: every run in this process;
2. ``sweep(..., n_jobs=2)``: joblib's process backend (loky) with two workers;
3. the same call under ``joblib.parallel_config(backend="dask")`` with a
   ``dask.distributed.LocalCluster`` of two single-threaded worker processes (127.0.0.1).

Every run trains with one torch thread, so the three frames must be the same but for the
seconds (checked each round). Throughput is runs per second of wall time, medians over the
rounds. A first untimed round starts the workers of 2 and 3 (each imports torch and cltutor
once); its times are printed as "cold".

    python benchmarks/sweep.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import joblib
import pandas as pd

import cltutor

GRID = [{"strategy": ["naive", "agem", "ewc"]}, {"strategy": ["replay"], "mem_size": [200]}]
SEEDS = [0, 1, 2]
SETTINGS = dict(epochs=5, n_experiences=5)


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.drop(columns=["seconds"])
    out["accuracy_matrix"] = [m.tolist() for m in out["accuracy_matrix"]]
    return out


def timed(fn) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    frame = fn()
    return time.perf_counter() - start, frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (default 5)")
    args = parser.parse_args()
    from dask.distributed import Client, LocalCluster

    def local(n_jobs: int):
        return lambda: cltutor.sweep(GRID, SEEDS, n_jobs=n_jobs, progress=False, **SETTINGS)

    def on_dask():
        with joblib.parallel_config(backend="dask"):
            return cltutor.sweep(GRID, SEEDS, progress=False, **SETTINGS)

    ways = {"n_jobs=1": local(1), "n_jobs=2 (loky)": local(2), "dask LocalCluster (2)": on_dask}
    n_runs = len(cltutor.expand_grid(GRID, SEEDS, **SETTINGS))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster):
        cold = {}
        reference = None
        for name, fn in ways.items():
            cold[name], frame = timed(fn)
            reference = comparable(frame) if reference is None else reference
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.runs):
            for name, fn in ways.items():
                seconds, frame = timed(fn)
                pd.testing.assert_frame_equal(comparable(frame), reference)
                times[name].append(seconds)
    strategies = ", ".join(s for point in GRID for s in point["strategy"])
    print(f"{n_runs} runs ({strategies} x seeds {SEEDS}; {SETTINGS}); medians of {args.runs} "
          f"rounds; the same frame in every round\n")
    print("| way | cold (s) | median (s) | runs (s) | runs per second | vs n_jobs=1 |")
    print("|---|---:|---:|---|---:|---:|")
    base = statistics.median(times["n_jobs=1"])
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        runs = ", ".join(f"{v:.2f}" for v in t)
        print(f"| {name} | {cold[name]:.2f} | {medians[name]:.2f} | {runs} | "
              f"{n_runs / medians[name]:.2f} | x{base / medians[name]:.2f} |")
    ratio = medians["dask LocalCluster (2)"] / medians["n_jobs=2 (loky)"]
    print(f"\nDask time / loky time: {ratio:.3f} (target <= 1.25); "
          f"loky throughput / one process: {base / medians['n_jobs=2 (loky)']:.2f} "
          f"(target >= 1.7)")


if __name__ == "__main__":
    main()
