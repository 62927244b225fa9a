"""Continual-learning metrics as pure functions of an accuracy matrix.

``A[t, k]`` is the accuracy on test experience ``k`` measured after training on
experience ``t``; ``NaN`` marks an accuracy that was not measured. Row ``t``
tells how the model does everywhere after step ``t``; column ``k`` tells the
story of one experience: learned on the diagonal, forgotten below it.

Every function takes the matrix as a square array (NumPy, nested lists or a
tensor) and ``t``, the row to read (``-1``: the last one). Entries left at NaN
are skipped by the averages, and an average over nothing is NaN.
:class:`~cltutor.evaluation.EvaluationPlugin` fills the matrix during training
and derives its forgetting and forward-transfer metrics from these functions.

:func:`accuracy_metrics` and its siblings pick what an ``EvaluationPlugin``
reports; :func:`results_to_dataframe` turns the metric dictionaries that ``train()`` and
``eval()`` return into a tidy pandas DataFrame.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from cltutor._checks import check_bool, is_int

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "average_accuracy",
    "seen_average_accuracy",
    "forgetting",
    "average_forgetting",
    "backward_transfer",
    "forward_transfer",
    "average_forward_transfer",
    "check_accuracy_matrix",
    "Tally",
    "Metric",
    "accuracy_metrics",
    "loss_metrics",
    "forgetting_metrics",
    "bwt_metrics",
    "forward_transfer_metrics",
    "parse_metric_name",
    "results_to_dataframe",
]


def check_accuracy_matrix(A: Any, name: str = "A") -> np.ndarray:
    """``A`` as a float array of shape ``(n, n)`` with accuracies in [0, 1] or NaN."""
    try:
        arr = np.array(A, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a square matrix of accuracies, got an object of type "
            f"{type(A).__name__} that does not convert to a 2-D float array. Pass a "
            f"NumPy array or a list of equal-length rows, with NaN where nothing was measured."
        ) from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(
            f"{name} must be a square 2-D array (row t: after training experience t, column "
            f"k: test experience k), got shape {arr.shape}. Pad unmeasured entries with NaN."
        )
    finite = arr[np.isfinite(arr)]
    if finite.size and (finite.min() < 0.0 or finite.max() > 1.0):
        bad = finite[(finite < 0.0) | (finite > 1.0)][0]
        raise ValueError(
            f"{name} must hold accuracies in [0, 1], got {bad:g}. Divide percentages by 100."
        )
    return arr


def _row_index(t: Any, n: int) -> int:
    """``t`` as a row index in ``[0, n)``; negative values count from the end."""
    if not is_int(t):
        raise TypeError(f"t must be an int row index, got {t!r}. Use t=-1 for the last row.")
    if not -n <= t < n:
        raise ValueError(
            f"t must be in [{-n}, {n}) for a {n}x{n} accuracy matrix, got {t}. "
            "Use t=-1 for the last row."
        )
    return int(t) % n


def _nanmean(values: np.ndarray) -> float:
    """Mean of the finite entries; NaN (without a warning) when there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def average_accuracy(A: Any, t: int = -1) -> float:
    """Mean accuracy over all test experiences after training experience ``t``.

    Examples
    --------
    >>> average_accuracy([[1.0, 0.0], [0.5, 0.9]])
    0.7
    """
    arr = check_accuracy_matrix(A)
    return _nanmean(arr[_row_index(t, len(arr))])


def seen_average_accuracy(A: Any, t: int = -1) -> float:
    """Mean accuracy over the experiences seen so far, ``k <= t``, after training ``t``.

    Examples
    --------
    >>> seen_average_accuracy([[1.0, 0.0, 0.0], [0.5, 0.9, 0.1], [0.2, 0.4, 0.9]], t=1)
    0.7
    """
    arr = check_accuracy_matrix(A)
    t = _row_index(t, len(arr))
    return _nanmean(arr[t, : t + 1])


def forgetting(A: Any, t: int = -1) -> np.ndarray:
    """Forgetting of each earlier experience after training ``t``: ``A[k, k] - A[t, k]``.

    The drop from the accuracy measured right after learning ``k`` (as
    Avalanche's ``ExperienceForgetting``; not the max-based definition of
    Chaudhry et al.). Returns an array of length ``t``: entry ``k`` for ``k < t``.

    Examples
    --------
    >>> A = [[1.0, 0.0, 0.2], [0.8, 1.0, 0.0], [0.4, 0.5, 1.0]]
    >>> forgetting(A).round(2).tolist()
    [0.6, 0.5]
    """
    arr = check_accuracy_matrix(A)
    t = _row_index(t, len(arr))
    return np.diagonal(arr)[:t] - arr[t, :t]  # (t,)


def average_forgetting(A: Any, t: int = -1) -> float:
    """Mean of :func:`forgetting` over the experiences before ``t`` (NaN when ``t == 0``)."""
    return _nanmean(forgetting(A, t))


def backward_transfer(A: Any, t: int = -1) -> float:
    """BWT: mean of ``A[t, k] - A[k, k]`` over ``k < t``, that is ``-average_forgetting``.

    Negative values mean forgetting; positive ones, that later training helped.

    Examples
    --------
    >>> round(backward_transfer([[1.0, 0.0, 0.2], [0.8, 1.0, 0.0], [0.4, 0.5, 1.0]]), 2)
    -0.55
    """
    return -average_forgetting(A, t)


def forward_transfer(A: Any, A_init: Any) -> np.ndarray:
    """FWT of each experience: ``A[k-1, k] - A_init[k]``, NaN for ``k = 0``.

    How much training on the experiences before ``k`` helps on ``k`` before it
    is seen, compared with the untrained model (``A_init``: the accuracy of
    each test experience before any training).

    Examples
    --------
    >>> A = [[0.9, 0.3], [0.5, 0.8]]
    >>> forward_transfer(A, [0.1, 0.2]).round(2).tolist()
    [nan, 0.1]
    """
    arr = check_accuracy_matrix(A)
    init = np.array(A_init, dtype=float)
    if init.shape != (len(arr),):
        raise ValueError(
            f"A_init must hold one accuracy per test experience, shape ({len(arr)},), got "
            f"shape {init.shape}. Evaluate the untrained model on the test stream to get it."
        )
    out = np.full(len(arr), np.nan)
    out[1:] = arr[np.arange(len(arr) - 1), np.arange(1, len(arr))] - init[1:]  # A[k-1, k]
    return out


def average_forward_transfer(A: Any, A_init: Any) -> float:
    """Mean of :func:`forward_transfer` over the experiences ``k >= 1``."""
    return _nanmean(forward_transfer(A, A_init))


# -- metric selections for EvaluationPlugin ---------------------------------------

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



class Tally:
    """Hits and losses of minibatches, summed on their device.

    ``add`` only keeps references (about two microseconds); every few
    thousand output values the pending minibatches are folded into device
    sums with a handful of tensor ops, and ``totals`` reads the sums back
    with a single host synchronisation. So an epoch's accuracy costs one
    sync instead of one per minibatch, and no small op per minibatch.

    Examples
    --------
    >>> import torch
    >>> tally = Tally()
    >>> tally.add(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]), torch.tensor(0.5))
    >>> tally.add(torch.tensor([[0.0, 3.0]]), torch.tensor([1]), torch.tensor(0.25))
    >>> tally.totals()  # 2 of 3 right; loss 0.5 * 2 + 0.25 * 1
    (2.0, 1.25, 3)
    """

    #: Pending output values that trigger a fold; small enough that the CPU
    #: reduction stays on one thread (torch splits ops on more than 32768).
    CHUNK_ELEMENTS = 16384

    __slots__ = ("outputs", "ys", "losses", "sizes", "pending", "correct", "loss_sum", "n",
                 "missing_loss")

    def __init__(self) -> None:
        self.outputs: list[Tensor] = []
        self.ys: list[Tensor] = []
        self.losses: list[Tensor] = []
        self.sizes: list[int] = []
        self.pending = 0  # output values waiting for the next fold
        self.correct: Tensor | None = None  # device scalars
        self.loss_sum: Tensor | None = None
        self.n = 0
        self.missing_loss = False  # True once a minibatch came without a loss

    def add(self, output: Tensor, y: Tensor, loss: Tensor | None) -> None:
        """Record one minibatch: logits ``(B, C)`` (or labels ``(B,)``), labels ``(B,)``."""
        self.outputs.append(output.detach())  # detached: no autograd graph stays alive
        self.ys.append(y)
        self.sizes.append(y.shape[0])
        if loss is None:
            self.missing_loss = True
        else:
            self.losses.append(loss.detach())  # the minibatch's mean loss
        self.pending += output.numel()
        if self.pending >= self.CHUNK_ELEMENTS:
            self._fold()

    def _fold(self) -> None:
        """Add the pending minibatches to the device sums (no host synchronisation)."""
        if not self.outputs:
            return
        try:
            out = torch.cat(self.outputs)  # (sum B, C)
            pred = out.argmax(1) if out.ndim > 1 else out
        except RuntimeError:  # outputs of different widths, or logits mixed with labels
            pred = torch.cat([o.argmax(1) if o.ndim > 1 else o for o in self.outputs])
        hits = (pred == torch.cat(self.ys)).sum().double()
        self.correct = hits if self.correct is None else self.correct + hits
        if not self.missing_loss:
            try:
                losses = torch.stack(self.losses)  # (I,) or (I, 1): one loss per minibatch
            except RuntimeError:  # mixed shapes such as () and (1,)
                losses = torch.stack([loss.reshape(-1).mean() for loss in self.losses])
            losses = losses.reshape(len(self.sizes), -1).mean(1).double()
            weights = torch.tensor(self.sizes, dtype=torch.double, device=losses.device)
            total = losses @ weights  # sum over minibatches of mean loss x size
            self.loss_sum = total if self.loss_sum is None else self.loss_sum + total
        self.n += sum(self.sizes)
        self.outputs, self.ys, self.losses, self.sizes, self.pending = [], [], [], [], 0

    def totals(self) -> tuple[float, float, int]:
        """(correct, loss sum, patterns), with a single host synchronisation."""
        self._fold()
        if self.n == 0:
            return 0.0, float("nan"), 0
        loss_sum = self.loss_sum
        if self.missing_loss or loss_sum is None:
            loss_sum = torch.tensor(float("nan"), dtype=torch.double)
        c, s = torch.stack([self.correct, loss_sum.to(self.correct.device)]).tolist()
        return c, s, self.n


# -- metric names and DataFrames -------------------------------------------------------

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
