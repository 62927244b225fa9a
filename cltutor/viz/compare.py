"""Runs side by side: one curve per run of the average accuracy so far, drawn live.

:class:`LiveComparison` keeps the curves of every run it was given and redraws them while
the next run trains, so a slider that re-runs one strategy can be watched against fixed
baselines (Naive, Replay, the Cumulative upper bound).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cltutor._checks import check_number
from cltutor.evaluation import BaseLogger
from cltutor.viz.live import FigureView

__all__ = ["LiveComparison", "plot_comparison"]

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
