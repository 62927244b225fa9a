"""The look shared by every figure: fixed colours, stacked bars, and the checks of what a
plot is given.

Colours are fixed per class id (:func:`class_color`, a palette told apart with any colour
vision) and, from another palette, per experience (:func:`experience_color`): class 3 looks
the same in every plot. :mod:`cltutor.viz.plots` and :mod:`cltutor.viz.live` draw with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from torch import Tensor

from cltutor._checks import is_int

__all__ = ["CLASS_COLORS", "NOT_TRAINED_COLOR", "class_color", "experience_color",
           "group_colors", "count_list", "as_array", "check_labels", "new_axes",
           "stacked_bars", "restack_bars"]

Counts = Mapping[Any, int]
RGBA = tuple[float, float, float, float]


# -- colours -----------------------------------------------------------------------------------
# Ten class colours that stay apart for colour-blind viewers: seven of Paul Tol's "muted"
# scheme, Okabe & Ito's orange and vermilion, Tol's "vibrant" magenta. Simulated protanopia,
# deuteranopia and tritanopia (Machado et al. 2009) keep every pair at least 16 CIELAB units
# apart (tab10: 4.6 under protanopia); tests/test_plots.py measures it.
CLASS_COLORS = ("#332288", "#E69F00", "#44AA99", "#EE3377", "#DDCC77",
                "#88CCEE", "#D55E00", "#117733", "#AA4499", "#882255")


def _palette() -> np.ndarray:
    """``(20, 4)`` RGBA rows: the ten class colours, then each mixed halfway with white."""
    dark = np.array([to_rgba(c) for c in CLASS_COLORS])
    light = dark.copy()
    light[:, :3] = 0.5 * dark[:, :3] + 0.5
    return np.concatenate([dark, light])


PALETTE = _palette()


def experience_color(exp_id: int) -> RGBA:
    """The fixed colour of an experience: ``viridis`` in steps of 0.22, dark (0) to light (4),
    then between; colour-blind safe and never a class colour (:func:`class_color`)."""
    if not is_int(exp_id):
        raise TypeError(f"exp_id must be an int, got {exp_id!r}. Write experience_color(3).")
    return tuple(float(v) for v in colormaps["viridis"](0.22 * (int(exp_id) % 10) % 1.0))


def class_color(class_id: int) -> RGBA:
    """The fixed colour of a class (or group) id.

    Ids 0-9 get the ten :data:`CLASS_COLORS` (told apart with any colour vision), ids
    10-19 the same colours halfway to white, and the palette repeats after that.

    >>> class_color(3) == class_color(3), class_color(0) != class_color(1)
    (True, True)
    """
    if not is_int(class_id):
        raise TypeError(f"class_id must be an int, got {class_id!r}. Write class_color(3).")
    return tuple(float(v) for v in PALETTE[int(class_id) % 20])


def group_colors(keys: Sequence[Any]) -> dict[Any, Any]:
    """Int keys keep their fixed colour; other keys take grey shades by position."""
    others = [k for k in keys if not is_int(k)]
    greys = {k: str(0.35 + 0.4 * i / max(len(others) - 1, 1)) for i, k in enumerate(others)}
    return {k: greys[k] if k in greys else class_color(k) for k in keys}


# -- input checks ------------------------------------------------------------------
def count_list(counts: Counts | Sequence[Counts], name: str) -> list[Counts]:
    if isinstance(counts, Mapping):
        counts = [counts]
    if not isinstance(counts, Sequence) or not all(isinstance(c, Mapping) for c in counts):
        raise TypeError(
            f"{name} must be a list of {{group: count}} dicts (one per bar), got "
            f"{type(counts).__name__}. Build one with class_counts(dataset)."
        )
    for c in counts:
        bad = [v for v in c.values() if not (is_int(v) and v >= 0)]
        if bad:
            raise ValueError(f"{name} must hold counts that are ints >= 0, got {bad[0]!r}. "
                             "Count with class_counts(...) or batch_composition(...).")
    return list(counts)


def as_array(data: Any, name: str, ndim: int) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.detach().cpu().numpy()
    arr = np.asarray(data, dtype=float)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}. "
                         f"Pass a {ndim}-D array or tensor.")
    return arr


def check_labels(name: str, labels: Sequence[Any] | None, n: int) -> None:
    if labels is not None and len(labels) != n:
        raise ValueError(f"{name} must have one label per {name.split('_')[0]} ({n}), got "
                         f"{len(labels)}. Leave {name}=None to number them.")


def new_axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 3.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


NOT_TRAINED_COLOR = "0.75"  # a light grey: what an experience scores before it is trained


# -- stacked bars ---------------------------------------------------------------------------
def stacked_bars(ax: Axes, counts: list[Counts], label_of: Callable[[Any], str],
                 order: Sequence[Any] = ()) -> None:
    """Bars stacked bottom to top: the keys of ``order`` first, then the others by id."""
    rest = sorted(set().union(*counts) - set(order), key=lambda k: (not is_int(k), k))
    keys = [k for k in order if any(k in c for c in counts)] + rest
    colors = group_colors(keys)
    x = np.arange(len(counts))
    bottom = np.zeros(len(counts))
    for key in keys:
        heights = np.array([c.get(key, 0) for c in counts], dtype=float)
        ax.bar(x, heights, bottom=bottom, width=0.8, color=colors[key], label=label_of(key))
        bottom += heights
    if keys:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)


def restack_bars(ax: Axes, counts: list[Counts], keys: Sequence[Any]) -> None:
    """New heights for the bars :func:`stacked_bars` drew for ``keys``, in the same order,
    without drawing them again: one container per key, one bar per entry of ``counts``."""
    bottom = [0] * len(counts)
    for key, bars in zip(keys, ax.containers, strict=True):
        for i, (rect, c) in enumerate(zip(bars.patches, counts, strict=True)):
            rect.set_y(bottom[i])
            rect.set_height(c.get(key, 0))
            bottom[i] += c.get(key, 0)
