"""Runs side by side: one curve per run of the average accuracy so far, drawn live; and
a sweep's results with their spread over seeds.

:class:`LiveComparison` keeps the curves of every run it was given and redraws them while
the next run trains, so a slider that re-runs one strategy can be watched against fixed
baselines (Naive, Replay, the Cumulative upper bound). :func:`plot_sweep` draws the frame of
:func:`~cltutor.sweep.sweep`: the mean over seeds with its 95% interval.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cltutor._checks import check_number
from cltutor.evaluation import BaseLogger
from cltutor.sweep import summarize
from cltutor.viz.live import FigureView

__all__ = ["LiveComparison", "plot_comparison", "plot_sweep"]

Curves = Mapping[str, list[tuple[float, float]]]
#: Colours of runs: a palette of its own, so that a run is never mistaken for a class.
_RUN_COLORS = colormaps["Dark2"].colors


def plot_comparison(curves: Curves, ax: Axes | None = None,
                    reference: Mapping[str, float] | None = None) -> Axes:
    """Draw ``{label: [(experiences trained, average accuracy so far), ...]}``, one line
    per run, and ``reference`` accuracies as dotted horizontal lines.

    The x axis counts experiences trained (2.4: four tenths into the third experience),
    so runs that take different numbers of iterations per experience line up.
    """
    if ax is None:
        ax = Figure(figsize=(6.0, 3.5)).add_subplot()
    for i, (label, points) in enumerate(curves.items()):
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", markersize=2.5, linewidth=1.6,
                    color=_RUN_COLORS[i % len(_RUN_COLORS)], label=label)
    for j, (label, acc) in enumerate((reference or {}).items()):
        check_number(f"reference[{label!r}]", acc, "Pass accuracies in [0, 1].", low=0, high=1)
        ax.axhline(float(acc), color=str(0.2 + 0.2 * (j % 3)), linestyle=":", linewidth=1.4,
                   label=label)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("experiences trained")
    ax.set_ylabel("average accuracy so far")
    ax.set_title("Average test accuracy on the experiences seen so far")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return ax


#: Strategies drawn as reference lines by plot_sweep: they bound the others from above.
UPPER_BOUNDS = ("cumulative", "joint")


def _interval(summary: pd.DataFrame) -> np.ndarray:
    """Error bars from the mean to the 95% interval's ends (0 where there is one seed)."""
    low = (summary["mean"] - summary["ci95_low"]).fillna(0).to_numpy()
    high = (summary["ci95_high"] - summary["mean"]).fillna(0).to_numpy()
    return np.vstack([low, high])


def plot_sweep(df: pd.DataFrame, x: str, y: str = "average_accuracy", hue: str | None = None,
               ax: Axes | None = None, reference: str | Mapping[str, float] | None = "auto"
               ) -> Axes:
    """The mean of ``y`` over seeds against ``x``, one line (or set of points) per ``hue``,
    with error bars to the 95% interval (see :func:`~cltutor.sweep.summarize`).

    A numeric ``x`` (``mem_size``, ``ewc_lambda``) draws lines; any other (``strategy``)
    draws points side by side. Runs without an ``x`` value (Naive in a ``mem_size`` sweep)
    and, with ``reference="auto"``, the upper bounds (Cumulative, Joint; one per ``hue``
    value when ``hue`` is another column, such as ``benchmark``) are drawn as horizontal
    lines with their interval as a band; ``reference`` may instead be ``{label: value}``
    or None.

    Examples
    --------
    >>> frame = pd.DataFrame({"strategy": ["replay"] * 4, "mem_size": [50, 50, 200, 200],
    ...                       "seed": [0, 1, 0, 1], "average_accuracy": [.6, .62, .8, .84],
    ...                       "error": [None] * 4})
    >>> plot_sweep(frame, x="mem_size", hue="strategy").get_xlabel()
    'mem_size'
    """
    for name, column in (("x", x), ("y", y), ("hue", hue)):
        if column is not None and column not in df.columns:
            raise ValueError(f"{name} must be a column of the frame, got {column!r}. Its "
                             f"columns: {list(df.columns)}.")
    if ax is None:
        ax = Figure(figsize=(6.0, 3.5), dpi=100).add_subplot()
    lines = {}  # label -> the rows drawn as one horizontal line
    bounds = df["strategy"].isin(UPPER_BOUNDS) if reference == "auto" and "strategy" in df \
        else pd.Series(False, index=df.index)
    per_hue = hue is not None and hue != "strategy"  # one bound per benchmark, say
    for key, rows in df[bounds].groupby(["strategy", hue] if per_hue else ["strategy"],
                                        sort=False):
        lines[" ".join([f"{key[0]} (upper bound)", *map(str, key[1:])])] = rows
    rest = df[~bounds]
    for label, rows in rest[rest[x].isna()].groupby(hue or "strategy", sort=False):
        lines[f"{label} (no {x})"] = rows
    rest = rest[rest[x].notna()]
    by = [x] if hue is None else [x, hue]
    summary = summarize(rest, by=by, metric=y) if len(rest) else pd.DataFrame()
    numeric = len(rest) > 0 and all(isinstance(v, Real) for v in rest[x])
    categories = list(dict.fromkeys(rest[x])) if not numeric else []
    groups = [(None, summary)] if hue is None else list(summary.groupby(hue, sort=False))
    width = 0.8 / max(len(groups), 1)
    for i, (label, part) in enumerate(groups):
        color = _RUN_COLORS[i % len(_RUN_COLORS)]
        if numeric:
            xs = part[x].astype(float).to_numpy()
        else:
            xs = np.array([categories.index(v) for v in part[x]]) + (i - (len(groups) - 1) / 2) \
                * width
        ax.errorbar(xs, part["mean"], yerr=_interval(part), color=color, capsize=3,
                    marker="o", markersize=4, linewidth=1.6 if numeric else 0,
                    elinewidth=1.2, label=None if label is None else str(label))
    if not numeric and categories:
        ax.set_xticks(range(len(categories)), [str(c) for c in categories])
    extra = dict(reference) if isinstance(reference, Mapping) else {}
    for j, (label, rows) in enumerate([*lines.items(), *extra.items()]):
        shade = str(0.15 + 0.2 * (j % 4))
        if isinstance(rows, pd.DataFrame):
            stats = summarize(rows.assign(_all=0), by=["_all"], metric=y).iloc[0]
            mean, low, high = stats["mean"], stats["ci95_low"], stats["ci95_high"]
        else:
            mean, low, high = float(rows), np.nan, np.nan
        ax.axhline(mean, color=shade, linestyle=":" if "upper bound" in label else "--",
                   linewidth=1.3, label=label)
        if np.isfinite(low):
            ax.axhspan(low, high, color=shade, alpha=0.12, linewidth=0)
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y.replace('_', ' ')} (mean, 95% interval)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False,
                  title=hue)
    return ax


class LiveComparison:
    """Curves of several runs in one live figure: the average test accuracy on the
    experiences trained so far, after every evaluation.

    ``curve(label)`` returns a logger for one run; give it to that run's
    ``EvaluationPlugin`` (or to ``run_experiment(..., loggers=[...])``) and evaluate the
    test stream during training (``eval_every=1``) for a point per epoch. A new curve
    with a label already drawn replaces the old one; every other curve stays. At each
    evaluation after training experience ``t`` the point is the mean accuracy on test
    experiences ``0..t`` (cells not measured, NaN, left out); its final value is the
    run's average accuracy.

    Parameters
    ----------
    output : ipywidgets.Output, optional
        Draw inside this widget; None displays in the running cell.
    reference : dict of str to float, optional
        Accuracies drawn as dotted lines, e.g. ``{"JointTraining": 0.96}``.
    stream : str, default "test"
        Name of the evaluated stream.
    min_interval : float, default 1.0
        Least seconds between two redraws while a run trains; the end of a run always
        redraws.

    Attributes
    ----------
    curves : dict[str, list[tuple[float, float]]]
        Label -> its ``(experiences trained, average accuracy so far)`` points.

    Examples
    --------
    >>> from cltutor.experiments import run_experiment
    >>> compare = LiveComparison()
    >>> result = run_experiment("split-digits", "naive", epochs=2, eval_every=1,
    ...                         loggers=[compare.curve("Naive")], progress=False)
    >>> points = compare.curves["Naive"]
    >>> len(points), points[-1] == (5.0, result.summary["average_accuracy"])
    (10, True)

    Notebook ``10_regularisation.ipynb`` moves an ``ewc_lambda`` slider against it.
    """

    def __init__(self, output: Any = None, reference: Mapping[str, float] | None = None,
                 stream: str = "test", min_interval: float = 1.0,
                 figsize: tuple[float, float] = (7.5, 3.5)) -> None:
        check_number("min_interval", min_interval, "Try min_interval=1.0 (seconds).", low=0)
        self.view = FigureView(output, dpi=100)
        self.reference = dict(reference or {})
        self.stream = stream
        self.min_interval = float(min_interval)
        self.curves: dict[str, list[tuple[float, float]]] = {}
        self.figure = Figure(figsize=figsize)
        self.ax = self.figure.add_subplot()
        self.figure.subplots_adjust(left=0.09, right=0.68, bottom=0.15, top=0.9)  # legend right
        self._last_redraw = float("-inf")
        self._changed = False  # something recorded that is not drawn yet

    def curve(self, label: str) -> BaseLogger:
        """A logger that draws one run as the curve ``label`` (replacing one so named)."""
        if not isinstance(label, str) or not label:
            raise TypeError(f"label must be a non-empty str naming the run, got {label!r}. "
                            f"Write compare.curve('EWC').")
        self.curves.pop(label, None)  # a replaced curve moves to the end of the legend
        self._changed = True
        return _RunCurve(self, label)  # which starts the empty curve

    def redraw(self) -> None:
        """Draw every curve recorded so far and show the figure."""
        self.ax.clear()
        plot_comparison(self.curves, ax=self.ax, reference=self.reference)
        self.view.show(self.figure)
        self._last_redraw = time.perf_counter()
        self._changed = False

    def _maybe_redraw(self, final: bool) -> None:
        """Redraw what changed: now at the end of a call (``final``), else only once
        ``min_interval`` seconds have passed since the last redraw."""
        if self._changed and (
                final or time.perf_counter() - self._last_redraw >= self.min_interval):
            self.redraw()


class _RunCurve(BaseLogger):
    """One run's curve in a :class:`LiveComparison`."""

    def __init__(self, comparison: LiveComparison, label: str) -> None:
        self.comparison, self.label = comparison, label
        self.reset()

    def reset(self) -> None:
        self.comparison.curves[self.label] = []
        self._row: int | None = None  # current_experience last trained: a row of the matrix
        self._started = 0  # training experiences begun
        self._epochs = 0  # epochs finished in the current one
        self._inside_train = False

    def before_training(self, strategy: Any, **kwargs: Any) -> None:
        self._inside_train = True

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        self._row = int(strategy.experience.current_experience)
        self._started += 1
        self._epochs = 0

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        self._epochs += 1  # before the periodic evaluation of this epoch

    def after_eval(self, strategy: Any, **kwargs: Any) -> None:
        if self._row is None or self.evaluator is None:  # nothing trained yet
            return
        A = self.evaluator.get_accuracy_matrix(self.comparison.stream)
        if A.shape[0] <= self._row:  # this stream was not evaluated
            return
        seen = A[self._row, : self._row + 1]
        if np.isnan(seen).all():
            return
        x = self._started - 1 + self._epochs / max(strategy.train_epochs, 1)
        point = (x, float(np.nanmean(seen)))
        points = self.comparison.curves.setdefault(self.label, [])
        if points and points[-1] == point:  # evaluated again with the same weights
            return
        if points and points[-1][0] == x:
            points.pop()
        points.append(point)
        self.comparison._changed = True
        self.comparison._maybe_redraw(final=not self._inside_train)

    def after_training(self, strategy: Any, **kwargs: Any) -> None:
        self._inside_train = False
        self.comparison._maybe_redraw(final=True)

    def on_exception(self, strategy: Any, exception: BaseException) -> None:
        self._inside_train = False
