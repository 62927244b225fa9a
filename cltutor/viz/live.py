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

__all__ = ["BlitRenderer", "FigureView", "LivePlotLogger", "figure_png", "in_kernel"]


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


class BlitRenderer:
    """PNGs of a figure whose axes stay while a few "moving" artists change.

    :meth:`png` draws the whole figure only when ``key`` (what the static part depends on:
    the layout, the axis limits) differs from the last call, and keeps that drawing without
    the moving artists; otherwise it restores it and draws the moving artists alone. A panel
    whose control changes only bar heights or marker positions then pays a fraction of a full
    draw (about 15 ms instead of 65 at 100 dpi), text and legends included.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(3, 2))
    >>> line, = fig.subplots().plot([0, 1], [0, 1])
    >>> renderer = BlitRenderer(fig)
    >>> renderer.update([line], key=("one line", (0, 1)))
    >>> renderer.png()[:4], renderer.full_draws
    (b'\x89PNG', 1)
    >>> line.set_ydata([1, 0]); renderer.png()[:4], renderer.full_draws
    (b'\x89PNG', 1)
    """

    def __init__(self, fig: Figure, dpi: int = 100) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig.set_dpi(dpi)
        self.fig, self.canvas = fig, FigureCanvasAgg(fig)
        self.moving: list[Any] = []
        self.full_draws = self.axes_draws = 0
        self._key: Any = None
        self._axes_keys: dict[Any, Any] = {}
        self._drawn: tuple[Any, dict[Any, Any]] | None = None  # (key, axes keys) drawn
        self._background: Any = None
        self._boxes: dict[Any, Any] = {}  # each axes' extent when last drawn

    def update(self, moving: list[Any], key: Any, axes_keys: dict[Any, Any] | None = None
               ) -> None:
        """What moves from now on, what the figure's layout depends on (``key``), and what
        each axes' own static part depends on (``axes_keys``, e.g. its y limits): an axes
        whose key alone changed is redrawn alone."""
        self.moving, self._key, self._axes_keys = list(moving), key, dict(axes_keys or {})

    def _boxes_now(self) -> dict[Any, Any]:
        renderer = self.canvas.get_renderer()
        return {ax: ax.get_tightbbox(renderer) for ax in self.fig.axes}

    def _redraw_axes(self, changed: list[Any]) -> bool:
        """Repaint the extent of each changed axes and draw it again; False when an extent
        would touch another axes (then the whole figure is drawn)."""
        from matplotlib.patches import Rectangle
        from matplotlib.transforms import Bbox, IdentityTransform

        boxes = self._boxes_now()
        renderer = self.canvas.get_renderer()
        for ax in changed:
            box = Bbox.union([boxes[ax], self._boxes.get(ax, boxes[ax])]).padded(2)
            if any(box.overlaps(boxes[other]) for other in boxes if other is not ax):
                return False
            paint = Rectangle((box.x0, box.y0), box.width, box.height, linewidth=0,
                              facecolor=self.fig.get_facecolor(), transform=IdentityTransform())
            paint.set_figure(self.fig)
            paint.draw(renderer)
            ax.draw(renderer)  # its animated (moving) artists stay out
        self._boxes.update({ax: boxes[ax] for ax in changed})
        return True

    def png(self) -> bytes:
        import numpy as np
        from PIL import Image

        for artist in self.moving:
            artist.set_animated(True)  # kept out of the static drawing
        changed = [] if self._drawn is None else [
            ax for ax, k in self._axes_keys.items() if self._drawn[1].get(ax) != k]
        full = self._background is None or self._drawn is None or self._key != self._drawn[0]
        if not full:
            self.canvas.restore_region(self._background)
            if changed and self._redraw_axes(changed):
                self._background = self.canvas.copy_from_bbox(self.fig.bbox)
                self.axes_draws += 1
            elif changed:
                full = True
        if full:
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
            self._boxes = self._boxes_now()
            self.full_draws += 1
        self._drawn = (self._key, dict(self._axes_keys))
        for artist in self.moving:
            self.fig.draw_artist(artist)
        out = io.BytesIO()
        Image.fromarray(np.asarray(self.canvas.buffer_rgba())).save(out, format="png",
                                                                   compress_level=1)
        return out.getvalue()


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

    def show(self, fig: Figure | BlitRenderer) -> None:
        """Display ``fig`` (first call) or replace what the last call displayed.

        ``fig`` may be a :class:`BlitRenderer`, which renders only what changed."""
        self.shown += 1
        if not in_kernel():
            return
        from IPython.display import Image, display

        png = fig.png() if isinstance(fig, BlitRenderer) else figure_png(fig, self.dpi)
        image = Image(data=png, format="png")
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
    starts : dict[int, int]
        Experience -> the training iterations when training on it began; before that its
        curve is drawn grey (not trained yet).
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
        self.figure.subplots_adjust(left=0.11, right=0.82, bottom=0.15, top=0.9)  # legend right
        self.reset()

    def reset(self) -> None:
        """Forget the curves, and show the next drawing in the cell that runs then (not
        in the cell of an earlier run): done by itself when given to a new evaluator."""
        self.history: dict[int, list[tuple[int, float]]] = {}
        self.boundaries: list[int] = []
        self.starts: dict[int, int] = {}
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
        self.starts.setdefault(self._last_trained_exp, strategy.clock.train_iterations)
        self._changed_since_redraw = True

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
                               reference=self.reference, starts=self.starts)
        self.view.show(self.figure)
        self.redraws += 1
        self._changed_since_redraw = False
        self._last_redraw = time.perf_counter()
