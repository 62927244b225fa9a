"""Checks and error guards shared by the notebook panels and the playground.

A control's initial value is checked before the widget is built, so that a wrong
value is named by the panel and the control (traitlets would say only "Invalid
selection", and a slider would silently clamp it). Every button and observer
handler runs through :func:`guarded`: whatever goes wrong is shown in the panel's
status line instead of escaping into the front end's log.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W

from cltutor._checks import check_int_range

__all__ = ["check_slider", "check_option", "check_two_experiences", "guarded", "error_html",
           "Reverting", "REVERTED", "WIDE_LABEL", "int_slider", "log_slider", "dropdown", "Panel",
           "POLICIES", "GROUPBYS", "SELECTIONS", "STREAMS"]

#: A control style that keeps a long description on one line.
WIDE_LABEL = {"description_width": "initial"}

#: The buffer explorer's dropdowns: storage policies, groupby and selection (as
#: :func:`~cltutor.memory.make_storage_policy` takes them) and the stream: the training stream
#: as given, or each experience half the size of the one before.
POLICIES = ("experience", "class", "reservoir", "parametric")
GROUPBYS = (("None", None), ("class", "class"), ("task", "task"), ("experience", "experience"))
SELECTIONS = ("random", "herding", "closest-to-center")
STREAMS = (("equal sizes", "equal"), ("halving sizes", "halving"))

#: The note after a control change that failed and was undone.
REVERTED = " The controls are back at the last setting that worked."


def check_slider(panel: str, control: str, value: Any, low: int, high: int, fix: str) -> None:
    """An int the slider ``control`` of ``panel`` can show, in ``[low, high]``."""
    check_int_range(f"{panel} {control}", value, low, high,
                    f"Its slider spans {low} to {high}: {fix}")


def check_option(panel: str, control: str, value: Any, options: Sequence[Any]) -> None:
    """One of the dropdown's ``options`` (their values)."""
    if value not in options:
        raise ValueError(
            f"{panel} {control} must be one of {list(options)}, got {value!r}. Pick one of "
            f"the options of its dropdown."
        )


def int_slider(name: str, value: int, low: int, high: int, step: int) -> W.IntSlider:
    """A slider for ``name`` that acts on release (dragging does not rebuild at every tick)."""
    return W.IntSlider(value=value, min=low, max=high, step=step, description=name,
                       continuous_update=False, style=WIDE_LABEL)


def log_slider(name: str, value: float, low: int, high: int) -> W.FloatLogSlider:
    """A slider over ``10**low .. 10**high`` in quarter decades, acting on release."""
    return W.FloatLogSlider(value=value, base=10, min=low, max=high, step=0.25,
                            description=name, continuous_update=False, style=WIDE_LABEL)


def dropdown(name: str, options: Sequence[Any], value: Any) -> W.Dropdown:
    """A dropdown for ``name`` whose label is never cut short."""
    return W.Dropdown(options=options, value=value, description=name, style=WIDE_LABEL)


def check_two_experiences(benchmark: Any, who: str) -> None:
    """A stream with a current experience and at least one before it (for the memory)."""
    if benchmark.n_experiences < 2:
        raise ValueError(
            f"{who} needs a benchmark of at least 2 experiences (the memory holds those before "
            f"the current one), got {benchmark.n_experiences}. Use SplitDigits(n_experiences=5)."
        )


def error_html(err: BaseException, note: str = "") -> str:
    """The status line for an error: its kind and message, escaped."""
    return f"<b>error:</b> {html.escape(f'{type(err).__name__}: {err}')}{html.escape(note)}"


def guarded(action: Callable[[], Any], status: W.HTML,
            controls: Sequence[W.Widget] = (), note: str = "") -> Callable[..., None]:
    """``action`` as a widget handler: any exception goes to ``status``, ``controls`` are
    enabled again (so that a failed run never leaves a button disabled). Pass
    ``lambda: self.method()`` to look the method up at each call, so that a replaced
    method (a student's, or a test's) is the one that runs."""
    def handler(*_: Any) -> None:
        try:
            action()
        except Exception as err:  # noqa: BLE001 -- a handler must never raise into the front end
            status.value = error_html(err, note)
            for control in controls:
                control.disabled = False

    return handler


class Reverting:
    """The observer of a panel's controls: ``apply`` the new setting, or undo the change.

    When ``apply`` fails, the error goes to ``status``, every control goes back to the
    values of the last setting that worked, and ``apply`` runs again on them, so the
    controls, the plot, the summary and what the panel built always agree (a dropdown
    never shows one loader while the plot shows another).

    Examples
    --------
    >>> width = W.IntSlider(value=3, min=1, max=10)
    >>> status = W.HTML()
    >>> def apply():
    ...     if width.value > 5:
    ...         raise ValueError("too wide")
    >>> handler = Reverting(apply, status, [width])
    >>> width.value = 8
    >>> width.value, "too wide" in status.value
    (3, True)
    """

    def __init__(self, apply: Callable[[], Any], status: W.HTML,
                 controls: Sequence[W.ValueWidget]) -> None:
        self.apply, self.status, self.controls = apply, status, list(controls)
        self.good = [c.value for c in self.controls]  # the last setting that worked
        self._undoing = False
        for control in self.controls:
            control.observe(self, names="value")

    def __call__(self, *_: Any) -> None:
        if self._undoing:
            return
        try:
            self.apply()
        except Exception as err:  # noqa: BLE001 -- a handler must never raise into the front end
            self._undo()
            self.status.value = error_html(err, REVERTED)
        else:
            self.good = [c.value for c in self.controls]

    def _undo(self) -> None:
        self._undoing = True
        try:
            for control, value in zip(self.controls, self.good, strict=True):
                control.value = value
            self.apply()  # the last good setting, built and drawn again
        except Exception:  # noqa: BLE001 -- the first error is the one to show
            pass
        finally:
            self._undoing = False


class Panel:
    """A panel of controls and figures, shown by putting it last in a cell: its ``ui``."""

    ui: W.Widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.ui)
