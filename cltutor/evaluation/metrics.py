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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cltutor._checks import is_int

__all__ = [
    "average_accuracy",
    "seen_average_accuracy",
    "forgetting",
    "average_forgetting",
    "backward_transfer",
    "forward_transfer",
    "average_forward_transfer",
    "check_accuracy_matrix",
    "check_accuracy_values",
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
    check_accuracy_values(arr, name)
    return arr


def check_accuracy_values(arr: np.ndarray, name: str = "A") -> None:
    """Every entry of ``arr`` is an accuracy in [0, 1] or NaN (not measured).

    Shared with the plots, so that a matrix the metrics refuse is not drawn either.
    """
    if np.isinf(arr).any():
        where = tuple(int(i) for i in np.argwhere(np.isinf(arr))[0])
        raise ValueError(
            f"{name} must hold accuracies in [0, 1] or NaN (not measured), got "
            f"{arr[where]:g} at {list(where)}. Use NaN for an entry that was not measured."
        )
    finite = arr[np.isfinite(arr)]
    if finite.size and (finite.min() < 0.0 or finite.max() > 1.0):
        bad = finite[(finite < 0.0) | (finite > 1.0)][0]
        raise ValueError(
            f"{name} must hold accuracies in [0, 1], got {bad:g}. Divide percentages by 100."
        )


def _row_index(t: Any, n: int) -> int:
    """``t`` as a row index in ``[0, n)``; negative values count from the end."""
    if not is_int(t):
        raise TypeError(f"t must be an int row index, got {t!r}. Use t=-1 for the last row.")
    if n == 0:
        raise ValueError(
            "A must have at least one row, got a 0x0 accuracy matrix: nothing was measured. "
            "Evaluate on the test stream after training on an experience first."
        )
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
    check_accuracy_values(init, "A_init")
    out = np.full(len(arr), np.nan)
    out[1:] = arr[np.arange(len(arr) - 1), np.arange(1, len(arr))] - init[1:]  # A[k-1, k]
    return out


def average_forward_transfer(A: Any, A_init: Any) -> float:
    """Mean of :func:`forward_transfer` over the experiences ``k >= 1``."""
    return _nanmean(forward_transfer(A, A_init))
