"""Figures for the tutorials: buffers, loaders, forgetting and A-GEM at a glance.

Every ``plot_x(data, ax=None, ...)`` draws on ``ax`` (a new figure when None) and
returns the Axes. Nothing here calls ``plt.show()`` or changes rcParams, so the
functions work the same under Agg, inline Jupyter and in tests, which read the
plotted numbers back from the Axes.

Colours are fixed per class id (:func:`class_color`) and, from another palette, per
experience (:func:`experience_color`), both from :mod:`cltutor.viz.style`. The
numbers they draw come from :mod:`cltutor.viz.summaries` (``class_counts``,
``batch_composition``, ``pca_2d``), importable from here as well, as in version 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from cltutor._checks import check_int_range, check_number, check_positive_int
from cltutor.evaluation.metrics import check_accuracy_values
from cltutor.viz.style import (
    CLASS_COLORS,
    NOT_TRAINED_COLOR,
    PALETTE,
    Counts,
    as_array,
    check_labels,
    class_color,
    count_list,
    experience_color,
    new_axes,
    stacked_bars,
)
from cltutor.viz.summaries import (
    batch_composition,
    class_counts,
    labels_of,
    pca_2d,
    selected_rows,
)

__all__ = [
    "CLASS_COLORS",
    "class_color",
    "experience_color",
    "class_counts",
    "batch_composition",
    "pca_2d",
    "plot_buffer_composition",
    "plot_batch_composition",
    "plot_forgetting_curves",
    "plot_accuracy_matrix",
    "plot_projection_rate",
    "plot_exemplar_projection",
]


# -- stacked bars: buffers and batches ---------------------------------------------
def plot_buffer_composition(
    counts: Counts | Sequence[Counts],
    ax: Axes | None = None,
    mem_size: int | None = None,
    step_labels: Sequence[Any] | None = None,
    xlabel: str = "after experience",
) -> Axes:
    """Stacked bars of the buffer's class counts, one bar per step of the stream.

    Parameters
    ----------
    counts : dict or list of dict
        ``{class_id: count}`` for each step (e.g. ``class_counts(buffer)`` after each
        experience).
    ax : Axes, optional
    mem_size : int, optional
        Draws the buffer capacity as a dashed line.
    step_labels : list, optional
        Tick labels of the bars (default 0, 1, ...).
    """
    counts = count_list(counts, "counts")
    check_positive_int("mem_size", mem_size, "Pass the buffer's max_size.", allow_none=True)
    check_labels("step_labels", step_labels, len(counts))
    ax = new_axes(ax)
    stacked_bars(ax, counts, lambda k: f"class {k}")
    if mem_size is not None:
        ax.axhline(mem_size, color="black", linestyle="--", linewidth=1)
        top = max([mem_size, *(sum(c.values()) for c in counts)])
        ax.set_ylim(0, 1.08 * top)  # the dashed line clear of the top spine
    ax.set_xticks(np.arange(len(counts)))
    ax.set_xticklabels(step_labels if step_labels is not None else range(len(counts)))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("samples in the buffer")
    ax.set_title("Buffer composition")
    return ax


def plot_batch_composition(
    batches_groups: Counts | Sequence[Counts],
    ax: Axes | None = None,
    group_name: str = "class",
    order: Sequence[Any] | None = None,
) -> Axes:
    """Stacked bars of the rows of each group in each minibatch.

    ``batches_groups`` is a list of ``{group: count}`` dicts, one per batch, as
    :func:`batch_composition` returns. ``order`` stacks those groups first, bottom to top,
    and the others above them by id: ``order=new_classes`` puts a replay minibatch's new
    rows at the bottom and its memory rows on top, as the loader concatenates them.

    Examples
    --------
    >>> ax = plot_batch_composition([{1: 10, 3: 22, 8: 16}], order=[3, 8])
    >>> [c.get_label() for c in ax.containers]
    ['class 3', 'class 8', 'class 1']
    """
    counts = count_list(batches_groups, "batches_groups")
    if order is not None and (isinstance(order, (str, bytes)) or not isinstance(order, Sequence)
                              or len(set(order)) != len(order)):
        raise ValueError(f"order must be a list of distinct groups, bottom first, got {order!r}. "
                         "Write order=[3, 9] to stack groups 3 and 9 first.")
    ax = new_axes(ax)
    stacked_bars(ax, counts, lambda k: f"{group_name} {k}", order=order or ())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("minibatch")
    ax.set_ylabel("rows")
    ax.set_title(f"Minibatch composition by {group_name}")
    return ax


# -- accuracy over time ------------------------------------------------------------
def _curves(history: Any, x: Sequence[float] | None) -> dict[int, tuple[list, list]]:
    """``{exp: [(x, acc), ...]}`` or a 2-D array (rows: eval points) -> ``{exp: (xs, ys)}``."""
    if isinstance(history, Mapping):
        out = {}
        for k, points in history.items():
            pts = list(points)
            if not all(np.ndim(p) == 1 and len(p) == 2 for p in pts):
                raise ValueError(
                    f"history[{k!r}] must be a list of (x, accuracy) pairs, got {pts[:2]!r}. "
                    "Write history={0: [(0, 0.9), (50, 0.6)]}."
                )
            out[int(k)] = ([float(p[0]) for p in pts], [float(p[1]) for p in pts])
            check_accuracy_values(np.array(out[int(k)][1]), f"history[{k!r}]")
        return out
    acc = as_array(history, "history", 2)  # (n_points, n_experiences)
    check_accuracy_values(acc, "history")
    xs = np.arange(len(acc)) if x is None else np.asarray(x, dtype=float)
    if len(xs) != len(acc):
        raise ValueError(f"x must have one value per row of history ({len(acc)}), got {len(xs)}. "
                         "Leave x=None to number the rows.")
    out = {}
    for k in range(acc.shape[1]):
        seen = np.isfinite(acc[:, k])
        out[k] = (xs[seen].tolist(), acc[seen, k].tolist())
    return out


def _matrix_starts(history: Any, x: Sequence[float] | None) -> dict[int, float] | None:
    """Where each experience's training began in a square accuracy matrix: the row before
    its own (the last measurement before training on it); None for any other history."""
    if isinstance(history, Mapping):
        return None
    shape = np.shape(history)
    if len(shape) != 2 or shape[0] != shape[1]:
        return None
    xs = np.arange(shape[0]) if x is None else np.asarray(x, dtype=float)
    return {k: float(xs[max(k - 1, 0)]) for k in range(shape[1])}


def plot_forgetting_curves(
    history: Mapping[int, Sequence[tuple[float, float]]] | Any,
    ax: Axes | None = None,
    boundaries: Sequence[float] | None = None,
    x: Sequence[float] | None = None,
    xlabel: str | None = None,
    reference: Mapping[str, float] | None = None,
    starts: Mapping[int, float] | None = None,
) -> Axes:
    """Accuracy on each test experience as training proceeds, one line per experience.

    Each experience's line is coloured from where its training began; before that it is
    thin and grey ("untrained"): there the accuracy is what the model scores on an
    experience it has not learned (about 0 on classes it has never seen), nothing it forgot.

    Parameters
    ----------
    history : dict or 2-D array
        ``{experience: [(x, accuracy), ...]}`` (what
        :class:`~cltutor.viz.live.LivePlotLogger` records), or an accuracy matrix
        whose row ``t`` holds the accuracies on every test experience after
        training step ``t`` (NaN: not measured).
    ax : Axes, optional
    boundaries : list of float, optional
        x positions where a training experience ends, drawn as vertical lines.
    x : list of float, optional
        x position of each row of a 2-D ``history`` (default 0, 1, ...).
    reference : dict of str to float, optional
        Accuracies to compare with, e.g. ``{"Cumulative": 0.99}`` (an upper bound's final
        average accuracy), drawn as dotted horizontal lines.
    starts : dict of int to float, optional
        The x at which training on each experience began (LivePlotLogger records it); an
        experience missing from it is not trained yet and drawn grey throughout. By default
        a square accuracy matrix starts experience ``k`` at row ``k - 1``, and a dict of
        points is coloured in full.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0.9, 0.0, 0.0],  # row t: after training experience t
    ...               [0.3, 0.95, 0.0],
    ...               [0.2, 0.4, 0.9]])
    >>> ax = plot_forgetting_curves(A)
    >>> [(line.get_label(), line.get_xdata().tolist()) for line in ax.lines]
    [('exp 0', [0, 1, 2]), ('exp 1', [0, 1, 2]), ('exp 2', [1, 2]), ('untrained', [0, 1])]
    """
    curves = _curves(history, x)
    if starts is None:
        starts = _matrix_starts(history, x)
    ax = new_axes(ax)
    untrained = []  # the grey parts, drawn after (and under) every coloured line
    for k, (xs, ys) in sorted(curves.items()):
        start = None if starts is None else starts.get(k)
        trained = [(a, b) for a, b in zip(xs, ys, strict=True)
                   if starts is None or (start is not None and a >= start)]
        before = [(a, b) for a, b in zip(xs, ys, strict=True)
                  if starts is not None and (start is None or a <= start)]
        if trained:
            ax.plot(*zip(*trained, strict=True), marker="o", markersize=3,
                    color=experience_color(k), label=f"exp {k}", zorder=3)
        if len(before) > (1 if trained else 0):  # more than the point the two lines share
            untrained.append(before)
    for i, before in enumerate(untrained):
        ax.plot(*zip(*before, strict=True), color=NOT_TRAINED_COLOR, linewidth=1, zorder=2,
                label="untrained" if i == 0 else "_")
    for label, acc in (reference or {}).items():
        check_number(f"reference[{label!r}]", acc, "Pass accuracies in [0, 1].", low=0, high=1)
        ax.axhline(float(acc), color="black", linestyle=":", linewidth=1.2, label=label)
    for b in boundaries or ():
        ax.axvline(float(b), color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(-0.02, 1.02)
    if not isinstance(history, Mapping) and x is None:  # rows are experiences: whole ticks
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if xlabel is None:
        xlabel = "training iterations" if isinstance(history, Mapping) else "after experience"
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy")
    ax.set_title("Accuracy on each experience")
    if curves:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return ax


def plot_accuracy_matrix(
    A: Any,
    ax: Axes | None = None,
    row_labels: Sequence[Any] | None = None,
    col_labels: Sequence[Any] | None = None,
    fmt: str = ".2f",
    cmap: str = "viridis",
) -> Axes:
    """The accuracy matrix ``A[t, k]`` as a heatmap, each cell annotated; NaN cells blank.

    Row ``t``: after training experience ``t``; column ``k``: test experience ``k``.
    A pandas DataFrame brings its index and columns as labels.
    """
    if row_labels is None and hasattr(A, "index") and hasattr(A, "columns"):
        row_labels, col_labels = list(A.index), list(A.columns)
    acc = as_array(A, "A", 2)
    check_accuracy_values(acc, "A")  # the metrics' check: a percent matrix is refused
    check_labels("row_labels", row_labels, acc.shape[0])
    check_labels("col_labels", col_labels, acc.shape[1])
    if cmap not in colormaps:
        raise ValueError(f"cmap must be a matplotlib colormap name, got {cmap!r}. Try "
                         "cmap='viridis'.")
    try:
        format(0.5, fmt)
    except (TypeError, ValueError):
        raise ValueError(f"fmt must be a format spec for floats, got {fmt!r}. Try fmt='.2f' "
                         "or fmt='.0%'.") from None
    ax = new_axes(ax, figsize=(1.0 + 0.7 * acc.shape[1], 0.8 + 0.5 * acc.shape[0]))
    lo, hi = 0.0, 1.0
    ax.imshow(
        np.ma.masked_invalid(acc), cmap=colormaps[cmap].with_extremes(bad="white"),
        vmin=lo, vmax=hi, aspect="auto",
    )
    for (t, k), v in np.ndenumerate(acc):
        if np.isfinite(v):
            dark = (v - lo) / (hi - lo) < 0.5  # viridis is dark at the low end
            ax.text(k, t, format(v, fmt), ha="center", va="center",
                    color="white" if dark else "black", fontsize="small")
    ax.set_xticks(range(acc.shape[1]))
    ax.set_xticklabels(col_labels if col_labels is not None else range(acc.shape[1]))
    ax.set_yticks(range(acc.shape[0]))
    ax.set_yticklabels(row_labels if row_labels is not None else range(acc.shape[0]))
    ax.set_xlabel("test experience")
    ax.set_ylabel("after training on")
    ax.set_title("Accuracy matrix")
    return ax


def plot_projection_rate(
    rates: Sequence[float] | Mapping[int, float] | Tensor,
    ax: Axes | None = None,
    window: int | None = None,
) -> Axes:
    """How often A-GEM projected the gradient.

    With ``window=None``, ``rates`` holds one fraction per experience (a list, or
    ``{experience: fraction}``) drawn as bars. With ``window=w``, ``rates`` holds
    one 0/1 flag per training iteration, drawn as its running mean over ``w``
    iterations.
    """
    if isinstance(rates, Mapping):
        keys, values = list(rates.keys()), as_array(list(rates.values()), "rates", 1)
    else:
        values = as_array(rates, "rates", 1)
        keys = list(range(len(values)))
    if ((values < 0) | (values > 1) | ~np.isfinite(values)).any():
        raise ValueError(f"rates must be fractions in [0, 1], got {values.tolist()}. "
                         "Pass projected steps / all steps, e.g. AGEMPlugin.projection_rates.")
    ax = new_axes(ax)
    if window is None:
        ax.bar(range(len(values)), values, color=[experience_color(int(k)) for k in keys])
        ax.set_xticks(range(len(values)))
        ax.set_xticklabels(keys)
        ax.set_xlabel("experience")
    else:
        if len(values) == 0:
            raise ValueError(
                f"rates must hold one 0/1 flag per training iteration with window={window!r}, "
                "got none. Train with AGEM first, or pass window=None for bars per experience."
            )
        check_int_range("window", window, 1, len(values),
                        "It counts training iterations: try window=20, or None for bars.")
        running = np.convolve(values, np.ones(window) / window, mode="valid")  # (n - w + 1,)
        ax.plot(np.arange(window, len(values) + 1), running, color="black")
        ax.set_xlabel("training iteration")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("fraction of steps projected")
    ax.set_title("A-GEM projections")
    return ax


def plot_exemplar_projection(
    features: Tensor,
    labels: Tensor | Sequence[int],
    selected: Tensor | Sequence[int],
    ax: Axes | None = None,
) -> Axes:
    """All samples in the 2-D PCA plane of ``features``, the chosen exemplars circled.

    ``selected`` holds the positions (or a boolean mask) of the exemplars among
    the ``N`` rows of ``features``. Colours follow :func:`class_color`.
    """
    z = pca_2d(features).numpy()  # (N, 2)
    y = labels_of(labels, "labels").cpu()
    if len(y) != len(z):
        raise ValueError(
            f"labels must have one entry per row of features ({len(z)}), got {len(y)}. "
            "Pass the labels of the same samples, in the same order."
        )
    sel = selected_rows(selected, len(z))
    colors = PALETTE[y.numpy() % 20]  # (N, 4), class_color of each label
    ax = new_axes(ax, figsize=(4.5, 4.0))
    ax.scatter(z[:, 0], z[:, 1], c=colors, s=8, alpha=0.3, linewidths=0, label="all samples")
    ax.scatter(z[sel, 0], z[sel, 1], c=colors[sel], s=40, edgecolors="black",
               linewidths=0.8, label="exemplars")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title("Exemplars among all samples (PCA)")
    return ax

