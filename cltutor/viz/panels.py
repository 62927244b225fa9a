"""Notebook panels: ipywidgets controls over plain functions you can call yourself.

* :class:`BufferExplorer`: pick a storage policy and ``mem_size``, step through
  the stream and watch the buffer's class composition (and, for herding or
  closest-to-center, which exemplars are kept in a 2-D PCA view).
* :class:`LoaderInspector`: pick a loader and its batch sizes, see what each
  minibatch is made of.

The strategy playground is :mod:`cltutor.viz.playground`.

Each panel is a thin shell: its callbacks call plain methods (``step()``,
``refresh()``, ...) and functions that tests and notebooks call directly:
:func:`buffer_history`, :func:`exemplar_positions`, :func:`loader_data`,
:func:`make_loader`, ... of :mod:`cltutor.viz.summaries` (importable from here too).
Only core ipywidgets are used, in a way that works with ipywidgets 7.7 (Colab) and 8.
Figures are shown through :class:`~cltutor.viz.live.FigureView` (an ``Output``
cleared with ``wait=True``).
"""

from __future__ import annotations

import html
import time

import ipywidgets as W
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor, nn

from cltutor._checks import check_int_range, check_number, check_seed
from cltutor.data import (
    Benchmark,
    ClassificationDataset,
    SplitDigits,
    Stream,
    halving_fractions,
    imbalanced_stream,
)
from cltutor.memory import ExemplarsBuffer, extract_features, make_storage_policy
from cltutor.viz import controls as ctl
from cltutor.viz.controls import GROUPBYS, POLICIES, SELECTIONS, STREAMS
from cltutor.viz.live import BlitRenderer, FigureView
from cltutor.viz.plots import (
    plot_batch_composition,
    plot_buffer_composition,
    plot_exemplar_projection,
)
from cltutor.viz.style import class_color, restack_bars
from cltutor.viz.summaries import (
    LOADERS,
    batch_composition,
    buffer_history,
    buffer_summary,
    exemplar_positions,
    loader_data,
    loader_summary,
    make_loader,
    pca_2d,
    pixel_model,
    seen_data,
)

__all__ = [
    "BufferExplorer",
    "LoaderInspector",
    "buffer_history",
    "buffer_summary",
    "exemplar_positions",
    "pixel_model",
    "loader_data",
    "make_loader",
]



# -- buffer explorer -------------------------------------------------------------------
class BufferExplorer(ctl.Panel):
    """Step through a stream and watch what a replay buffer keeps.

    Parameters
    ----------
    benchmark : Benchmark, optional
        Default ``SplitDigits(n_experiences=5, seed=seed)``.
    model : nn.Module, optional
        Supplies the features for herding and closest-to-center (its submodule
        ``layer_name``). Default :func:`pixel_model`: the raw pixels.
    mem_size, policy, groupby, selection
        Initial values of the controls (see :func:`~cltutor.memory.make_storage_policy`);
        ``mem_size`` in [10, 500], the range of its slider.
    stream : str, default "equal"
        "equal": the benchmark's training stream as it is (the digits' experiences have
        nearly equal sizes); "halving": each experience half the size of the one before
        (:func:`~cltutor.data.imbalanced_stream`), where a reservoir and an
        experience-balanced buffer stop looking alike.
    seed : int, default 0
    play_delay : float, default 0.5
        Seconds between two steps of "play".

    Attributes
    ----------
    counts : list of dict
        Class counts after each step so far: the plotted bars.
    projection : tuple or None
        ``(features, labels, positions)`` of the last PCA view, None when not drawn.
    summary : str
        The text shown under the plot.

    Examples
    --------
    >>> from cltutor.viz import class_counts
    >>> explorer = BufferExplorer(mem_size=50, play_delay=0)
    >>> explorer.step_button.click()
    >>> explorer.counts[-1] == class_counts(explorer.policy.buffer)
    True
    >>> explorer.policy_control.value = "class"   # rebuilds and replays the step
    >>> len(explorer.counts), sum(explorer.counts[-1].values())
    (1, 50)

    Notebook ``03_buffers.ipynb`` is built around it.
    """

    def __init__(self, benchmark: Benchmark | None = None, model: nn.Module | None = None,
                 mem_size: int = 100, policy: str = "experience", groupby: str | None = None,
                 selection: str = "random", seed: int = 0, layer_name: str = "features",
                 play_delay: float = 0.5, stream: str = "equal") -> None:
        ctl.check_slider("BufferExplorer", "mem_size", mem_size, 10, 500, "try mem_size=100.")
        ctl.check_option("BufferExplorer", "policy", policy, POLICIES)
        ctl.check_option("BufferExplorer", "groupby", groupby, [v for _, v in GROUPBYS])
        ctl.check_option("BufferExplorer", "selection", selection, SELECTIONS)
        ctl.check_option("BufferExplorer", "stream", stream, [v for _, v in STREAMS])
        check_number("play_delay", play_delay, "Try play_delay=0.5 (seconds).", low=0)
        check_seed(seed)
        self.benchmark = benchmark if benchmark is not None else SplitDigits(5, seed=seed)
        self.model = model if model is not None else pixel_model()
        self.layer_name, self.seed, self.play_delay = layer_name, seed, play_delay
        self.mem_size_control = ctl.int_slider("mem_size", mem_size, 10, 500, 10)
        self.policy_control = ctl.dropdown("storage policy", POLICIES, policy)
        self.groupby_control = ctl.dropdown("groupby", GROUPBYS, groupby)
        self.selection_control = ctl.dropdown("selection", SELECTIONS, selection)
        self.stream_control = ctl.dropdown("stream", STREAMS, stream)
        self._streams: dict[str, Stream] = {"equal": self.benchmark.train_stream}
        self.step_button = W.Button(description="step", icon="step-forward")
        self.play_button = W.Button(description="play", icon="play")
        self.reset_button = W.Button(description="reset", icon="undo")
        self.text, self.out = W.HTML(), W.Output()
        self.view = FigureView(self.out)
        self.figure = Figure(figsize=(10, 3.6))
        self.renderer = BlitRenderer(self.figure, dpi=self.view.dpi)
        self._layout: tuple | None = None
        self._seen: dict[tuple, tuple] = {}
        self.counts: list[dict[int, int]] = []
        self.reverting = ctl.Reverting(lambda: self.rebuild(), self.text, [
            self.mem_size_control, self.policy_control, self.groupby_control,
            self.selection_control, self.stream_control])
        self.step_button.on_click(ctl.guarded(self.step, self.text))
        self.play_button.on_click(ctl.guarded(self.play, self.text))
        self.reset_button.on_click(ctl.guarded(self.reset, self.text))
        self.ui = W.VBox([
            W.HBox([self.mem_size_control, self.policy_control, self.stream_control]),
            W.HBox([self.groupby_control, self.selection_control]),
            W.HBox([self.step_button, self.play_button, self.reset_button]),
            self.out, self.text,
        ])
        self.reset()

    def make_policy(self) -> ExemplarsBuffer:
        """The buffer the controls describe, empty."""
        parametric = self.policy_control.value == "parametric"
        return make_storage_policy(
            self.policy_control.value, self.mem_size_control.value,
            groupby=self.groupby_control.value if parametric else None,
            selection=self.selection_control.value if parametric else "random",
            model=self.model, layer_name=self.layer_name, seed=self.seed)

    @property
    def train_stream(self) -> Stream:
        """The stream the buffer is given, as the ``stream`` control chooses it."""
        choice = self.stream_control.value
        if choice not in self._streams:
            stream = self.benchmark.train_stream
            self._streams[choice] = imbalanced_stream(stream, halving_fractions(len(stream)),
                                                      seed=self.seed)
        return self._streams[choice]

    @property
    def n_steps(self) -> int:
        """Experiences given to the buffer so far."""
        return len(self.counts)

    def reset(self) -> None:
        """A new empty buffer from the controls; back to the start of the stream."""
        self._rebuild_up_to(0)

    def rebuild(self) -> None:
        """Apply the controls: a new buffer, replayed up to the current step."""
        self._rebuild_up_to(self.n_steps)

    def _rebuild_up_to(self, steps: int) -> None:
        parametric = self.policy_control.value == "parametric"
        self.groupby_control.disabled = self.selection_control.disabled = not parametric
        policy = self.make_policy()
        counts = buffer_history(policy, self.train_stream[:steps])
        self.policy, self.counts = policy, counts  # only once the whole history worked
        self.redraw()

    def step(self) -> None:
        """Give the buffer the next experience of the stream (nothing at the end)."""
        if self.n_steps < self.benchmark.n_experiences:
            try:
                self.counts += buffer_history(self.policy, [self.train_stream[self.n_steps]])
                self.redraw()
            except Exception:
                self.rebuild()  # the buffer as it was before this step, drawn again
                raise

    def play(self) -> None:
        """Step to the end of the stream, redrawing after each experience."""
        while self.n_steps < self.benchmark.n_experiences:
            self.step()
            time.sleep(self.play_delay)

    def redraw(self) -> None:
        """Draw the composition (and the exemplar projection) and the summary text.

        The axes stay while the layout does (the same view, steps and classes): a control
        change then moves only the bars, the ``mem_size`` line and the exemplar circles,
        and :class:`~cltutor.viz.live.BlitRenderer` redraws only those."""
        feature_based = (self.policy_control.value == "parametric"
                         and self.selection_control.value != "random")
        seen = [e.classes_in_this_experience for e in self.train_stream[:self.n_steps]]
        keys = tuple(sorted(set().union(*self.counts, *seen)))  # a class lost keeps its entry
        layout = (feature_based, self.n_steps, keys)  # another stream: the same bars
        if layout != self._layout:
            self._draw_layout(feature_based, keys)
            self._layout = layout
        else:
            restack_bars(self.figure.axes[0], self.counts, keys)
            if feature_based and self.n_steps and self._projected != self.stream_control.value:
                self._draw_projection(self.figure.axes[1])  # other rows seen: a new PCA plane
        self.projection = None
        if feature_based and self.n_steps:
            seen, features, z = self._seen_features()
            positions = exemplar_positions(self.policy.buffer, seen)  # (M,)
            self.projection = (features, seen.targets, positions)
            self._exemplars.set_offsets(z[positions])
            self._exemplars.set_facecolor([class_color(int(c)) for c in seen.y[positions]])
        mem_size = self.mem_size_control.value
        top = 1.08 * max([mem_size, *(sum(c.values()) for c in self.counts)])
        self.figure.axes[0].set_ylim(0, top)  # the mem_size line always below the top spine
        self._mem_line.set_ydata([mem_size, mem_size])
        moving = [p for c in self.figure.axes[0].containers for p in c.patches]
        moving += [self._mem_line] + ([self._exemplars] if self.projection else [])
        axes_keys = dict(zip(self.figure.axes, [top, self._projected], strict=False))
        self.renderer.update(moving, key=layout, axes_keys=axes_keys)
        self.summary = f"{self._setting()}\n{buffer_summary(self.policy)}"
        self.text.value = f"<pre>{html.escape(self.summary)}</pre>"
        self.view.show(self.renderer)

    def _draw_layout(self, feature_based: bool, keys: tuple[int, ...]) -> None:
        fig = self.figure
        fig.clear()
        axes = fig.subplots(1, 2, width_ratios=[3, 2]) if feature_based else [fig.subplots()]
        fig.subplots_adjust(left=0.07, right=0.97 if feature_based else 0.87, bottom=0.14,
                            top=0.9, wspace=0.45)  # room for the legend; fixed margins
        padded = [{k: c.get(k, 0) for k in keys} for c in self.counts]  # every class seen
        plot_buffer_composition(padded, ax=axes[0], mem_size=self.mem_size_control.value)
        self._mem_line = axes[0].lines[-1]
        self._projected: str | None = None  # the stream the PCA view shows
        if feature_based and self.n_steps:
            self._draw_projection(axes[1])

    def _draw_projection(self, ax: Axes) -> None:
        """The PCA view of the rows the current stream has shown so far, drawn anew."""
        ax.clear()
        seen, features, _ = self._seen_features()
        plot_exemplar_projection(features, seen.targets,
                                 exemplar_positions(self.policy.buffer, seen), ax=ax)
        self._exemplars, self._projected = ax.collections[1], self.stream_control.value

    def _seen_features(self) -> tuple[ClassificationDataset, Tensor, Tensor]:
        """The rows seen so far, their features and PCA plane: once per stream and step."""
        key = (self.stream_control.value, self.n_steps)
        if key not in self._seen:
            seen = seen_data(self.train_stream[: self.n_steps])
            features = extract_features(self.model, self.layer_name, seen)  # (N, d)
            self._seen[key] = (seen, features, pca_2d(features).numpy())
        return self._seen[key]

    def _setting(self) -> str:
        """The controls' values in one line, and where in the stream the buffer is."""
        setting = f"policy={self.policy_control.value!r}, mem_size={self.mem_size_control.value}"
        if self.policy_control.value == "parametric":
            setting += (f", groupby={self.groupby_control.value!r}, "
                        f"selection={self.selection_control.value!r}")
        if self.stream_control.value != "equal":
            sizes = ", ".join(str(len(e.dataset)) for e in self.train_stream)
            setting += f", stream={self.stream_control.value!r} (sizes {sizes})"
        return f"{setting}; after {self.n_steps} of {self.benchmark.n_experiences} experiences"


# -- loader inspector ------------------------------------------------------------------
class LoaderInspector(ctl.Panel):
    """See what each minibatch of a loader is made of.

    The current data is one experience of a SplitDigits stream with task labels
    (task = experience), the memory a small buffer of the experiences before, so
    counting rows by task shows where each row comes from.

    Parameters
    ----------
    benchmark : Benchmark, optional
        Default ``SplitDigits(n_experiences=5, return_task_id=True, seed=seed)``.
    step : int, default 2
        The current experience, in [1, n_experiences - 1]: the memory holds the ones before.
    kind : str, default "batch"
        The loader shown first, one of :data:`LOADERS`.
    seed : int, default 0
        Seed of the memory and the loader; "new epoch" adds 1 to it.

    Attributes
    ----------
    composition : list of dict
        ``{group: rows}`` for each shown batch: the plotted bars.
    loader : the loader the controls describe

    Examples
    --------
    >>> inspector = LoaderInspector()
    >>> inspector.kind_control.value = "replay"
    >>> batch = inspector.composition[0]   # rows of task 2 are data, tasks 0-1 memory
    >>> batch[2], batch[0] + batch[1]
    (32, 32)

    Notebook ``04_balanced_loaders.ipynb`` is built around it.
    """

    def __init__(self, benchmark: Benchmark | None = None, step: int = 2, seed: int = 0,
                 kind: str = "batch") -> None:
        check_int_range("seed", seed, 0, None, "Use seed=0; each 'new epoch' adds 1 to it.")
        ctl.check_option("LoaderInspector", "kind", kind, LOADERS)
        self.benchmark = benchmark if benchmark is not None else SplitDigits(
            5, return_task_id=True, seed=seed)
        ctl.check_two_experiences(self.benchmark, "LoaderInspector")
        ctl.check_slider("LoaderInspector", "step", step, 1, self.benchmark.n_experiences - 1,
                     "the memory holds the experiences before step; try step=1.")
        self.seed = seed
        self.kind_control = ctl.dropdown("loader", LOADERS, kind)
        self.batch_size_control = ctl.int_slider("batch_size", 32, 4, 128, 4)
        self.batch_size_mem_control = ctl.int_slider("batch_size_mem", 32, 4, 128, 4)
        self.oversample_control = W.Checkbox(value=False, description="oversample small groups")
        self.mem_size_control = ctl.int_slider("mem_size", 60, 10, 400, 10)
        self.step_control = ctl.int_slider("current experience", step, 1,
                                           self.benchmark.n_experiences - 1, 1)
        self.groupby_control = ctl.dropdown("count by", ("task", "class"), "task")
        self.n_batches_control = ctl.int_slider("batches shown", 20, 5, 60, 5)
        self.reshuffle_button = W.Button(description="new epoch", icon="random")
        self.text, self.out = W.HTML(), W.Output()
        self.view = FigureView(self.out)
        self.figure = Figure(figsize=(10, 3.4))
        self.reverting = ctl.Reverting(lambda: self.refresh(), self.text, [
            self.kind_control, self.batch_size_control, self.batch_size_mem_control,
            self.oversample_control, self.mem_size_control, self.step_control,
            self.groupby_control, self.n_batches_control])
        self.reshuffle_button.on_click(ctl.guarded(self.reshuffle, self.text))
        self.ui = W.VBox([
            W.HBox([self.kind_control, self.groupby_control, self.oversample_control]),
            W.HBox([self.batch_size_control, self.batch_size_mem_control]),
            W.HBox([self.mem_size_control, self.step_control]),
            W.HBox([self.n_batches_control, self.reshuffle_button]), self.out, self.text,
        ])
        self.refresh()

    def reshuffle(self) -> None:
        """Draw another epoch (the next seed); if that fails, the seed stays as it was."""
        self.seed += 1
        try:
            self.refresh()
        except Exception:
            self.seed -= 1
            raise

    def refresh(self) -> None:
        """Build the loader from the controls, count its batches, redraw."""
        kind = self.kind_control.value
        self.batch_size_mem_control.disabled = kind != "replay"
        self.oversample_control.disabled = kind in ("batch", "group-balanced-infinite")
        data, memory = loader_data(self.benchmark, self.step_control.value,
                                   self.mem_size_control.value, seed=self.seed)
        self.loader = make_loader(kind, data, memory, self.batch_size_control.value,
                                  self.batch_size_mem_control.value,
                                  self.oversample_control.value, seed=self.seed)
        self.composition = batch_composition(self.loader, self.groupby_control.value,
                                             max_batches=self.n_batches_control.value)
        self.figure.clear()
        ax = self.figure.subplots()
        self.figure.subplots_adjust(left=0.07, right=0.87, bottom=0.14, top=0.9)
        plot_batch_composition(self.composition, ax=ax, group_name=self.groupby_control.value)
        self.summary = loader_summary(self.loader, data, memory, self.composition)
        self.text.value = f"<pre>{html.escape(self.summary)}</pre>"
        self.view.show(self.figure)
