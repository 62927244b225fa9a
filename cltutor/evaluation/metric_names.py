"""Which metrics an ``EvaluationPlugin`` reports, and how their names read.

:func:`accuracy_metrics` and its siblings pick the metrics (:class:`Metric`:
a kind at a level); each value is named as Avalanche names it, a head and a
scope: ``Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp001``.
:func:`parse_metric_name` splits such a name back into its parts and
:func:`results_to_dataframe` turns the metric dictionaries that ``train()`` and
``eval()`` return into a tidy pandas DataFrame.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cltutor._checks import check_bool

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Metric",
    "accuracy_metrics",
    "loss_metrics",
    "forgetting_metrics",
    "bwt_metrics",
    "forward_transfer_metrics",
    "metric_scope",
    "name_task_label",
    "parse_metric_name",
    "results_to_dataframe",
]

_HEADS = {  # (kind, level) -> the name's first part, as Avalanche writes it
    ("accuracy", "minibatch"): "Top1_Acc_MB", ("accuracy", "epoch"): "Top1_Acc_Epoch",
    ("accuracy", "experience"): "Top1_Acc_Exp", ("accuracy", "stream"): "Top1_Acc_Stream",
    ("loss", "minibatch"): "Loss_MB", ("loss", "epoch"): "Loss_Epoch",
    ("loss", "experience"): "Loss_Exp", ("loss", "stream"): "Loss_Stream",
    ("forgetting", "experience"): "ExperienceForgetting",
    ("forgetting", "stream"): "StreamForgetting",
    ("bwt", "experience"): "ExperienceBWT", ("bwt", "stream"): "StreamBWT",
    ("forward_transfer", "experience"): "ExperienceForwardTransfer",
    ("forward_transfer", "stream"): "StreamForwardTransfer",
}


@dataclass(frozen=True)
class Metric:
    """One value to track: a ``kind`` (accuracy, loss, ...) at a ``level`` (epoch, ...).

    Made by :func:`accuracy_metrics` and friends; ``str(metric)`` is its name's head.
    """

    kind: str
    level: str

    def __str__(self) -> str:
        return _HEADS[(self.kind, self.level)]


def _select(kind: str, levels: dict[str, Any], unknown: dict[str, Any]) -> list[Metric]:
    if unknown:
        raise TypeError(
            f"{kind}_metrics got unknown option(s) {sorted(unknown)}; choose from "
            f"{', '.join(levels)}, e.g. {kind}_metrics({next(iter(levels))}=True)."
        )
    for level, flag in levels.items():
        check_bool(level, flag)
    return [Metric(kind, level) for level, flag in levels.items() if flag]


def accuracy_metrics(minibatch: bool = False, epoch: bool = False, experience: bool = False,
                     stream: bool = False, **unknown: Any) -> list[Metric]:
    """Top-1 accuracy per training minibatch / epoch, per eval experience / eval stream.

    The stream accuracy counts every pattern of every experience in one
    ``eval()`` call (pattern-weighted, as Avalanche), unseen experiences included.
    """
    levels = dict(minibatch=minibatch, epoch=epoch, experience=experience, stream=stream)
    return _select("accuracy", levels, unknown)


def loss_metrics(minibatch: bool = False, epoch: bool = False, experience: bool = False,
                 stream: bool = False, **unknown: Any) -> list[Metric]:
    """Mean loss per pattern at the same levels as :func:`accuracy_metrics`."""
    levels = dict(minibatch=minibatch, epoch=epoch, experience=experience, stream=stream)
    return _select("loss", levels, unknown)


def forgetting_metrics(experience: bool = False, stream: bool = False,
                       **unknown: Any) -> list[Metric]:
    """``A[k, k] - A[t, k]`` per earlier experience ``k`` and its mean (eval only)."""
    return _select("forgetting", dict(experience=experience, stream=stream), unknown)


def bwt_metrics(experience: bool = False, stream: bool = False, **unknown: Any) -> list[Metric]:
    """Backward transfer, ``A[t, k] - A[k, k]``: forgetting with the sign flipped."""
    return _select("bwt", dict(experience=experience, stream=stream), unknown)


def forward_transfer_metrics(experience: bool = False, stream: bool = False,
                             **unknown: Any) -> list[Metric]:
    """``A[k-1, k] - A_init[k]``; needs an evaluation before training (e.g. ``eval_every=0``)."""
    return _select("forward_transfer", dict(experience=experience, stream=stream), unknown)


# -- metric names and DataFrames -------------------------------------------------------

def metric_scope(phase: str, stream: str, task: int | None = None,
                 exp: int | None = None) -> str:
    """The scope part of a metric name; a part left None is left out.

    >>> metric_scope("eval", "test", 0, 1)
    'eval_phase/test_stream/Task000/Exp001'
    """
    scope = f"{phase}_phase/{stream}_stream"
    scope += f"/Task{task:03d}" if task is not None else ""
    return scope + (f"/Exp{exp:03d}" if exp is not None else "")


def name_task_label(experience: Any) -> int | None:
    """The task label to name an experience by, or None when it has several (left out)."""
    labels = experience.task_labels
    return int(labels[0]) if len(labels) == 1 else None


_NAME_PART = re.compile(r"(?:(?P<phase>\w+)_phase|(?P<stream>\w+)_stream|"
                        r"Task(?P<task>\d+)|Exp(?P<exp>\d+))$")


def parse_metric_name(name: str) -> dict[str, Any]:
    """Split a metric name such as ``Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp001``.

    Returns a dict with ``metric``, ``phase``, ``stream``, ``task`` and ``exp``
    (None for a part the name does not have).

    Examples
    --------
    >>> parse_metric_name("Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp001")
    {'metric': 'Top1_Acc_Exp', 'phase': 'eval', 'stream': 'test', 'task': 0, 'exp': 1}
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a metric name string, got {name!r}.")
    head, *parts = name.split("/")
    out: dict[str, Any] = {"metric": head, "phase": None, "stream": None, "task": None,
                           "exp": None}
    for part in parts:
        match = _NAME_PART.match(part)
        if match is None:
            continue  # an unknown part (a custom metric's) stays in the name only
        key, value = next((k, v) for k, v in match.groupdict().items() if v is not None)
        out[key] = int(value) if key in ("task", "exp") else value
    return out


def results_to_dataframe(
    results: Mapping[str, float] | Sequence[Mapping[str, float]],
) -> pd.DataFrame:
    """A tidy DataFrame of the metrics ``train()``/``eval()`` return.

    Parameters
    ----------
    results : dict or list of dict
        One metric dictionary, or a list of them (for instance one ``eval()``
        result after each training experience, as in the tutorial loop).

    Returns
    -------
    pandas.DataFrame
        One row per metric value, columns ``step`` (position in the list),
        ``name``, ``metric``, ``phase``, ``stream``, ``task``, ``exp``, ``value``.

    Examples
    --------
    >>> df = results_to_dataframe([{"Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp000": 0.9},
    ...                            {"Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp000": 0.4}])
    >>> df[["step", "metric", "exp", "value"]].values.tolist()
    [[0, 'Top1_Acc_Exp', 0, 0.9], [1, 'Top1_Acc_Exp', 0, 0.4]]
    """
    import pandas as pd  # imported here: pandas is slow to import and only this needs it

    steps = [results] if isinstance(results, Mapping) else results
    if not isinstance(steps, Sequence) or not all(isinstance(r, Mapping) for r in steps):
        raise TypeError(
            "results must be a dict of metric values or a list of such dicts (what "
            f"strategy.eval() returns), got {type(results).__name__}."
        )
    rows = [
        {"step": step, "name": name, **parse_metric_name(name), "value": float(value)}
        for step, metrics in enumerate(steps)
        for name, value in metrics.items()
    ]
    columns = ["step", "name", "metric", "phase", "stream", "task", "exp", "value"]
    df = pd.DataFrame(rows, columns=columns)
    for col in ("task", "exp"):
        df[col] = df[col].astype("Int64")  # integers with <NA> where a name has none
    return df
