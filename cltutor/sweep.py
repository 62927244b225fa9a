"""Sweeps: every run of a grid of settings, times several seeds, in one table.

A grid has scikit-learn's ``ParameterGrid`` semantics: a dict of lists, every combination
of them, or a list of such dicts when some options belong to one strategy only::

    grid = [{"strategy": ["naive", "agem"]},
            {"strategy": ["replay"], "mem_size": [50, 200, 500]}]

:func:`sweep` runs each combination once per seed through :func:`~cltutor.run_experiment`
and returns one DataFrame row per run. The runs go through joblib: ``n_jobs=2`` uses two
local processes, and under ``joblib.parallel_config(backend="dask")`` with a
``dask.distributed.Client`` the same call runs on a Dask cluster. Every run trains with one
torch thread, so a frame does not depend on ``n_jobs`` or the backend (only its ``seconds``
column does). :func:`summarize` averages a frame over its seeds.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from cltutor._checks import SKLEARN_SEED_END, check_int_range, is_int
from cltutor.experiments import BENCHMARKS, STRATEGIES, check_strategy_options, run_experiment

__all__ = ["RUN_PARAMETERS", "RESULT_COLUMNS", "expand_grid", "run_one", "iter_sweep", "sweep",
           "summarize"]

#: The parameters of ``run_experiment`` that a grid (or ``**fixed``) may set; the seed comes
#: from ``seeds``. Any other key must be an option of the run's strategy.
RUN_PARAMETERS = ("benchmark", "strategy", "n_experiences", "scenario", "model", "epochs",
                  "lr", "batch_size", "device", "eval_every")

#: The columns every row has after the run's settings.
RESULT_COLUMNS = ("seed", "average_accuracy", "average_forgetting", "bwt", "seconds",
                  "accuracy_matrix", "error", "warnings", "cached")

_CACHE_VERSION = "cltutor-sweep-1"  # part of every cache key: bump it when a run's result changes


def _check_grid(grid: Any) -> list[dict[str, list]]:
    """The grid as a list of dicts of lists, or a ValueError/TypeError saying what to write."""
    if isinstance(grid, Mapping):
        grid = [grid]
    if not isinstance(grid, Sequence) or isinstance(grid, str) or not grid:
        raise TypeError(f"grid must be a dict of lists or a non-empty list of such dicts, got "
                        f"{grid!r}. Write e.g. {{'strategy': ['naive', 'replay']}}.")
    for point in grid:
        if not isinstance(point, Mapping):
            raise TypeError(f"grid must hold dicts of lists, got an item {point!r}. Write e.g. "
                            f"[{{'strategy': ['replay'], 'mem_size': [50, 200]}}].")
        for key, values in point.items():
            if isinstance(values, str) or not isinstance(values, (Sequence, np.ndarray)):
                raise TypeError(f"grid[{key!r}] must be a list of values, got {values!r}. "
                                f"Write {key!r}: [{values!r}] for a single value.")
            if len(values) == 0:
                raise ValueError(f"grid[{key!r}] must hold at least one value, got an empty "
                                 f"list. Drop the key, or give it a value.")
    return [dict(point) for point in grid]


def _check_seeds(seeds: Iterable[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got none. Try seeds=range(3).")
    for seed in seeds:
        check_int_range("seeds", seed, 0, SKLEARN_SEED_END - 1, "Try seeds=range(3).")
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}. Try seeds=range({len(seeds)}).")
    return seeds


def _check_config(config: dict[str, Any]) -> None:
    """Reject, before anything runs, what run_experiment would reject for sure."""
    for key in ("seed", "progress", "loggers"):
        if key in config:
            fix = {"seed": "Give the seeds as sweep(..., seeds=[0, 1, 2]).",
                   "progress": "A sweep's runs never show their own bars; use progress= of "
                               "sweep for the sweep's bar.",
                   "loggers": "A sweep's runs cannot log into this process."}[key]
            raise ValueError(f"the grid and the fixed settings must leave out {key!r}, got "
                             f"{key}={config[key]!r}. {fix}")
    if config["strategy"] not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {config['strategy']!r}.")
    if not isinstance(config["benchmark"], str) or config["benchmark"] not in BENCHMARKS:
        raise ValueError(f"benchmark must be one of {tuple(BENCHMARKS)} (a name: each run builds "
                         f"its own), got {config['benchmark']!r}.")
    options = {k: v for k, v in config.items() if k not in RUN_PARAMETERS}
    check_strategy_options(config["strategy"], options, name="grid keys")
    for key in ("n_experiences", "epochs", "batch_size", "mem_size"):
        if key in config and (not is_int(config[key]) or config[key] <= 0):
            raise ValueError(f"{key} must be a positive int, got {config[key]!r} (in the run "
                             f"{config}). Fix the grid or the fixed settings.")
    lr = config.get("lr")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))
                           or not lr > 0 or not np.isfinite(lr)):
        raise ValueError(f"lr must be a finite number > 0 or None, got {lr!r} (in the run "
                         f"{config}). Try lr=0.05, or leave it out for the strategy's default.")


def expand_grid(grid: Mapping | Sequence[Mapping], seeds: Iterable[int] = range(3),
                benchmark: str = "split-digits", **fixed: Any) -> list[dict[str, Any]]:
    """Every run of a sweep, checked, in the sweep's order: the grid's, then the seeds'.

    Each run is the dict of keyword arguments of :func:`~cltutor.run_experiment`.

    Examples
    --------
    >>> runs = expand_grid([{"strategy": ["naive"]},
    ...                     {"strategy": ["replay"], "mem_size": [50, 200]}], seeds=[0, 1])
    >>> [(r["strategy"], r.get("mem_size"), r["seed"]) for r in runs]
    [('naive', None, 0), ('naive', None, 1), ('replay', 50, 0), ('replay', 50, 1), \
('replay', 200, 0), ('replay', 200, 1)]
    """
    from sklearn.model_selection import ParameterGrid  # here: it costs 0.6 s to import

    points = _check_grid(grid)
    seeds = _check_seeds(seeds)
    for point in points:
        clash = sorted(set(point) & set(fixed))
        if clash:
            raise ValueError(f"a setting must be in the grid or fixed, not both, got {clash} in "
                             f"both. Drop {clash[0]}={fixed[clash[0]]!r}, or its grid key.")
    runs = []
    for point in points:  # each dict's own combinations, in ParameterGrid's order
        for combination in ParameterGrid(point):
            config = {"benchmark": benchmark, "strategy": "naive", **fixed, **combination}
            _check_config(config)
            runs.extend({**config, "seed": seed} for seed in seeds)
    return runs


def run_one(config: Mapping[str, Any]) -> dict[str, Any]:
    """One run of a sweep: ``run_experiment(**config)`` with one torch thread.

    Returns the run's results (see :data:`RESULT_COLUMNS`); a run that raises returns NaN
    results and the error as ``"TypeName: message"``. The warnings a run raises (a diverged
    loss, say) are kept in ``warnings``: in another process they would reach no one. A
    module-level function, so that joblib and Dask can send it to other processes and
    machines (one run per process at a time: warnings are caught per process).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic in every process: identical results
    start = time.perf_counter()
    row: dict[str, Any] = {"average_accuracy": np.nan, "average_forgetting": np.nan,
                           "bwt": np.nan, "accuracy_matrix": None, "error": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = run_experiment(**config, progress=False)
            row.update(result.summary, accuracy_matrix=result.accuracy_matrix)
        except Exception as err:  # recorded in the row; the other runs go on
            row["error"] = f"{type(err).__name__}: {err}"
        finally:
            torch.set_num_threads(threads)
    messages = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    return {**row, "seconds": time.perf_counter() - start,
            "warnings": " | ".join(messages) or None, "cached": False}


def _indexed_run(index: int, config: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    return index, run_one(config)


def _cache_path(cache: Path, config: Mapping[str, Any]) -> Path:
    return cache / f"{joblib.hash((_CACHE_VERSION, sorted(config.items())))}.pkl"


def iter_sweep(grid: Mapping | Sequence[Mapping], seeds: Iterable[int] = range(3),
               benchmark: str = "split-digits", *, n_jobs: int = 1,
               cache: str | os.PathLike | None = None,
               **fixed: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """The runs of :func:`sweep` as they finish: ``(index, row)`` pairs in finishing order.

    ``index`` is the run's place in :func:`expand_grid`'s order. Runs found in ``cache`` come
    first (``row["cached"]`` is True); a finished run without error is saved there at once,
    so a sweep stopped half-way resumes where it stopped.
    """
    yield from _run_all(expand_grid(grid, seeds, benchmark, **fixed), n_jobs, cache)


def _run_all(runs: list[dict[str, Any]], n_jobs: int, cache: str | os.PathLike | None
             ) -> Iterator[tuple[int, dict[str, Any]]]:
    """The cached runs first, then the others through joblib, as they finish."""
    paths: list[Path | None] = [None] * len(runs)
    if cache is not None:
        Path(cache).mkdir(parents=True, exist_ok=True)
        paths = [_cache_path(Path(cache), config) for config in runs]
    todo = []
    for index, (config, path) in enumerate(zip(runs, paths, strict=True)):
        if path is not None and path.exists():
            yield index, {**config, **joblib.load(path), "cached": True}
        else:
            todo.append(index)
    if not todo:
        return
    parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    for index, result in parallel(joblib.delayed(_indexed_run)(i, runs[i]) for i in todo):
        path = paths[index]
        if path is not None and result["error"] is None:
            joblib.dump(result, path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)  # whole files only, even if killed here
        yield index, {**runs[index], **result}


def sweep(grid: Mapping | Sequence[Mapping], seeds: Iterable[int] = range(3),
          benchmark: str = "split-digits", *, n_jobs: int = 1,
          cache: str | os.PathLike | None = None, progress: bool = True,
          callback: Callable[[dict[str, Any], int, int], Any] | None = None,
          **fixed: Any) -> pd.DataFrame:
    """Run every combination of ``grid`` once per seed; one DataFrame row per run.

    Parameters
    ----------
    grid : dict of lists, or list of such dicts
        ``ParameterGrid`` semantics. Keys: the parameters of ``run_experiment``
        (:data:`RUN_PARAMETERS`) and the options of the run's strategy (``mem_size``,
        ``ewc_lambda``...). Checked for every run before the first one starts.
    seeds : iterable of int, default range(3)
    benchmark : str, default "split-digits"
        Used by the runs whose grid does not set ``benchmark``.
    n_jobs : int, default 1
        joblib's: 2 runs two local processes, -1 one per core; under
        ``joblib.parallel_config(backend="dask")`` the runs go to the Dask cluster.
    cache : path, optional
        A folder: finished runs are saved there and not run again.
    progress : bool, default True
        A progress bar counting finished runs.
    callback : callable, optional
        ``callback(row, n_done, n_runs)`` after each run, in finishing order: to update a
        live table or plot.
    **fixed
        Settings of every run (``epochs=3``, ``n_experiences=5``...).

    Returns
    -------
    DataFrame
        ``benchmark``, ``strategy``, the grid's keys, then :data:`RESULT_COLUMNS`; rows in
        the grid's order, then the seeds' (whatever order the runs finished in). A run that
        failed has NaN results and its ``error``; a warning lists the failures at the end.

    Examples
    --------
    >>> df = sweep({"strategy": ["naive", "replay"]}, seeds=[0, 1], epochs=1, progress=False)
    >>> df[["strategy", "seed"]].values.tolist()
    [['naive', 0], ['naive', 1], ['replay', 0], ['replay', 1]]
    >>> bool((df["average_accuracy"] > 0).all()), bool(df["error"].isna().all())
    (True, True)
    """
    points = _check_grid(grid)
    keys = list(dict.fromkeys(["benchmark", "strategy", *(k for p in points for k in p)]))
    runs = expand_grid(points, seeds, benchmark, **fixed)
    rows: dict[int, dict[str, Any]] = {}
    with tqdm(total=len(runs), desc="sweep", unit="run", disable=not progress) as bar:
        for index, row in _run_all(runs, n_jobs, cache):
            rows[index] = row
            bar.update()
            if callback is not None:
                callback(row, len(rows), len(runs))
    frame = pd.DataFrame([rows[i] for i in range(len(runs))])
    frame = frame[[*keys, *RESULT_COLUMNS]]
    for key in keys:  # an int setting that some runs lack: ints and <NA>, not floats
        given = [rows[i][key] for i in rows if rows[i].get(key) is not None]
        if len(given) < len(rows) and given and all(is_int(v) for v in given):
            frame[key] = pd.array([rows[i].get(key) for i in range(len(runs))], dtype="Int64")
    for column, what in (("warnings", "warned"), ("error", "failed")):
        marked = frame[frame[column].notna()]
        if len(marked):
            first = marked.iloc[0]
            warnings.warn(f"{len(marked)} of {len(frame)} runs {what}; their rows hold the "
                          f"message (df[df['{column}'].notna()]). The first: "
                          f"{first['strategy']} seed {first['seed']}: {first[column]}",
                          stacklevel=2)
    return frame


def summarize(df: pd.DataFrame, by: Sequence[str] | None = None,
              metric: str = "average_accuracy") -> pd.DataFrame:
    """Mean, standard deviation and 95% interval of ``metric`` over the seeds of each setting.

    ``by`` defaults to every settings column of the frame that varies (the columns before
    ``seed``). Failed runs are left out of the statistics and counted in ``failed``. The
    interval is Student's t: ``mean +- t(0.975, n - 1) * std / sqrt(n)``; NaN for one seed.

    Examples
    --------
    >>> df = pd.DataFrame({"strategy": ["a", "a", "b"], "seed": [0, 1, 0],
    ...                    "average_accuracy": [0.5, 0.7, 0.9], "error": [None] * 3})
    >>> summarize(df).round(3).values.tolist()
    [['a', 0.6, 0.141, -0.671, 1.871, 2, 0], ['b', 0.9, nan, nan, nan, 1, 0]]
    """
    from scipy import stats  # imported here: only the interval needs it

    if metric not in df.columns:
        raise ValueError(f"metric must be a column of the frame, got {metric!r}. Try "
                         f"'average_accuracy', 'average_forgetting' or 'bwt'.")
    settings = list(df.columns[:list(df.columns).index("seed")]) if "seed" in df else []
    if by is None:
        by = [c for c in settings if df[c].astype(object).nunique(dropna=False) > 1] or settings[:1]
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise ValueError(f"by must name columns of the frame, got {missing}. Its columns: "
                         f"{list(df.columns)}.")
    ok = df["error"].isna() if "error" in df else pd.Series(True, index=df.index)
    keys = df[list(by)].astype(object).where(df[list(by)].notna(), "-")  # NaN: a key too
    out = []
    for key, group in df.groupby([keys[c] for c in by], sort=False):
        values = group.loc[ok[group.index], metric].to_numpy(dtype=float)
        n = len(values)
        mean = values.mean() if n else np.nan
        std = values.std(ddof=1) if n > 1 else np.nan
        half = stats.t.ppf(0.975, n - 1) * std / np.sqrt(n) if n > 1 else np.nan
        out.append([*(key if isinstance(key, tuple) else (key,)), mean, std, mean - half,
                    mean + half, n, len(group) - n])
    return pd.DataFrame(out, columns=[*by, "mean", "std", "ci95_low", "ci95_high", "count",
                                      "failed"])
