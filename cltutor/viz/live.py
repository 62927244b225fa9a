"""Live figures: forgetting curves that redraw while a strategy trains.

A :class:`FigureView` shows one figure again and again in the same place of a
notebook: a display handle updated in place, or an ipywidgets ``Output``
cleared with ``clear_output(wait=True)`` (no flicker). The figure is sent as a
PNG image, so it works with any matplotlib backend and needs no ipympl (which
cannot redraw during a blocking training loop). Outside Jupyter nothing is
displayed and the figure is only redrawn, which is what the tests inspect.

:class:`LivePlotLogger` is a logger: give it to an ``EvaluationPlugin`` and it
records the accuracy on each test experience at every evaluation, then redraws
:func:`~cltutor.viz.plots.plot_forgetting_curves`: during training at most every
``min_interval`` seconds, and always at the end of ``train()`` and of a top-level
``eval()``, so the last state is on screen when the call returns.
"""

from __future__ import annotations

import io
import time
from typing import Any

from matplotlib.figure import Figure

from cltutor._checks import check_number
from cltutor.evaluation.loggers import BaseLogger
from cltutor.viz.plots import plot_forgetting_curves

__all__ = ["FigureView", "LivePlotLogger", "figure_png", "in_kernel"]


def in_kernel() -> bool:
    """True inside a Jupyter kernel, where ``display`` reaches a front end."""
    try:
        from IPython import get_ipython
    except ImportError:  # IPython is optional outside notebooks
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure rendered as PNG bytes, as laid out: the figures set their own margins."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class FigureView:
    """Where a figure that changes is shown: one spot of a notebook, updated in place.

    Parameters
    ----------
    output : ipywidgets.Output, optional
        Show the figure inside this widget (cleared with ``wait=True`` each
        time). None: a display handle in the cell that runs the code.
    dpi : int, default 100

    Attributes
    ----------
    shown : int
        How many times :meth:`show` was called.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure()
    >>> view = FigureView()
    >>> view.show(fig)   # outside Jupyter: nothing is displayed
    >>> view.shown
    1

    Notebook ``02_forgetting.ipynb`` watches forgetting curves grow through one.
    """

    def __init__(self, output: Any = None, dpi: int = 100) -> None:
        if output is not None and not hasattr(output, "clear_output"):
            raise TypeError(
                f"output must be an ipywidgets.Output or None, got {type(output).__name__}. "
                "Use output=ipywidgets.Output(), or None to display in the cell."
            )
        self.output = output
        self.dpi = dpi
        self.shown = 0
        self._handle: Any = None

    def reset(self) -> None:
        """Without an ``output`` widget, the next :meth:`show` displays in the running cell."""
        self._handle = None

    def show(self, fig: Figure) -> None:
        """Display ``fig`` (first call) or replace what the last call displayed."""
        self.shown += 1
        if not in_kernel():
            return
        from IPython.display import Image, display

        image = Image(data=figure_png(fig, self.dpi), format="png")
        if self.output is not None:
            self.output.clear_output(wait=True)  # replaced when the new image arrives
            with self.output:
                display(image)
        elif self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)


class LivePlotLogger(BaseLogger):
    """Redraws the forgetting curves as the evaluator measures the test experiences.

    Give it to an ``EvaluationPlugin``; every evaluation of a test experience
    adds a point (x: training iterations so far, y: its accuracy) to that
    experience's curve, and the end of every training experience adds a
    boundary line. Evaluate during training (``eval_every=1`` with
    ``eval_streams=[test_stream]``) for dense curves, or call
    ``strategy.eval(test_stream)`` after each experience.

    Parameters
    ----------
    output : ipywidgets.Output, optional
        Draw inside this widget; None displays in the running cell.
    stream : str, default "test"
        Name of the evaluated stream whose accuracies are plotted.
    min_interval : float, default 1.0
        Least seconds from the end of one redraw to the next one during training. A
        redraw costs about 0.05-0.1 s on a laptop CPU, so the default keeps the live plot
        near a tenth of the run; 0 redraws at every evaluation.
        The end of each ``train()`` and of each ``eval()`` called outside training
        redraws without waiting, so the last state is always drawn.

    Attributes
    ----------
    history : dict[int, list[tuple[int, float]]]
        Experience -> its ``(iteration, accuracy)`` points: what is plotted.
    boundaries : list[int]
        Training iterations at which each training experience ended.
    reference : dict[str, float]
        Accuracies drawn as dotted lines, e.g. ``{"cumulative (run 0)": 0.99}``.
    redraws : int
        Number of times the figure was drawn.
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> from cltutor import EvaluationPlugin, SimpleMLP, SplitDigits
    >>> from cltutor.strategies import Naive
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> live = LivePlotLogger()
    >>> model = SimpleMLP(input_size=64, hidden_size=32)
    >>> strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.1), train_mb_size=32,
    ...                  evaluator=EvaluationPlugin(loggers=[live]), device="cpu")
    >>> for exp in bm.train_stream[:2]:
    ...     _ = strategy.train(exp)
    ...     _ = strategy.eval(bm.test_stream)
    >>> len(live.boundaries), sorted(live.history), len(live.history[0])
    (2, [0, 1, 2, 3, 4], 2)

    Notebook ``02_forgetting.ipynb`` and the playground (``08_playground.ipynb``) use it.
    """

    def __init__(self, output: Any = None, stream: str = "test", min_interval: float = 1.0,
                 figsize: tuple[float, float] = (6.0, 3.5)) -> None:
        check_number("min_interval", min_interval, "Try min_interval=1.0 (seconds).", low=0)
        self.view = FigureView(output)
        self.reference: dict[str, float] = {}  # upper bounds drawn as dotted lines (kept by reset)
        self.stream = stream
        self.min_interval = float(min_interval)
        self.figure = Figure(figsize=figsize)
        self.ax = self.figure.add_subplot()
        self.figure.subplots_adjust(left=0.11, right=0.83, bottom=0.15, top=0.9)  # legend right
        self.reset()

    def reset(self) -> None:
        """Forget the curves, and show the next drawing in the cell that runs then (not
        in the cell of an earlier run): done by itself when given to a new evaluator."""
        self.history: dict[int, list[tuple[int, float]]] = {}
        self.boundaries: list[int] = []
        self.redraws = 0
        self.view.reset()
        self._last_trained_exp: int | None = None  # its current_experience: the row of A
        self._inside_train = False  # inside train(): an eval() there is a periodic one
        self._changed_since_redraw = False  # recorded something not drawn yet
        self._last_redraw = float("-inf")  # perf_counter() at the end of the last redraw

    # -- recording -----------------------------------------------------------------
    def _check_attached(self) -> None:
        if self.evaluator is None:
            raise RuntimeError(
                "this LivePlotLogger is not attached to an EvaluationPlugin: it reads the "
                "evaluator's accuracy matrix. Pass it as evaluator=EvaluationPlugin(loggers="
                "[live]), not in plugins=[...]."
            )

    def before_training(self, strategy: Any, **kwargs: Any) -> None:
        self._check_attached()
        self._inside_train = True

    def before_eval(self, strategy: Any, **kwargs: Any) -> None:
        self._check_attached()

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        self._last_trained_exp = int(strategy.experience.current_experience)

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        self.boundaries.append(strategy.clock.train_iterations)
        self._changed_since_redraw = True

    def after_eval_exp(self, strategy: Any, **kwargs: Any) -> None:
        exp = strategy.experience
        if exp.stream_name != self.stream:
            return
        k = int(exp.current_experience)
        if self._last_trained_exp is None:  # evaluated before any training: the "init" row
            acc = self.evaluator.get_init_accuracy(self.stream)[k]
        else:
            acc = self.evaluator.get_accuracy_matrix(self.stream)[self._last_trained_exp, k]
        self.history.setdefault(k, []).append((strategy.clock.train_iterations, float(acc)))
        self._changed_since_redraw = True

    def after_eval(self, strategy: Any, **kwargs: Any) -> None:
        self._maybe_redraw(final=not self._inside_train)  # a top-level eval() ends here

    def after_training(self, strategy: Any, **kwargs: Any) -> None:
        self._inside_train = False
        self._maybe_redraw(final=True)

    def on_exception(self, strategy: Any, exception: BaseException) -> None:
        self._inside_train = False  # the next eval() outside training redraws at once

    # -- drawing -------------------------------------------------------------------
    def _maybe_redraw(self, final: bool = False) -> None:
        """Redraw what changed: at the end of a call (``final``) now, otherwise only once
        ``min_interval`` seconds have passed since the last redraw."""
        if not self._changed_since_redraw:
            return
        if final or time.perf_counter() - self._last_redraw >= self.min_interval:
            self.redraw()

    def flush(self) -> None:
        """Redraw now if anything changed since the last redraw."""
        if self._changed_since_redraw:
            self.redraw()

    def redraw(self) -> None:
        """Draw the curves recorded so far and show the figure."""
        self.ax.clear()
        plot_forgetting_curves(self.history, ax=self.ax, boundaries=self.boundaries,
                               reference=self.reference)
        self.view.show(self.figure)
        self.redraws += 1
        self._changed_since_redraw = False
        self._last_redraw = time.perf_counter()
