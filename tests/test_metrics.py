"""The accuracy-matrix metrics: pure functions checked on hand-made matrices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from evaluation_fakes import NAN, TOY

from cltutor.evaluation.metrics import (
    average_accuracy,
    average_forgetting,
    average_forward_transfer,
    backward_transfer,
    forgetting,
    forward_transfer,
    seen_average_accuracy,
)

MINE = [[0.9, 0.1, NAN, NAN], [0.6, 0.95, 0.2, NAN], [0.3, 0.5, 0.85, 0.1],
        [0.2, 0.4, 0.7, 0.8]]


# -- pure functions on hand-made matrices ---------------------------------------------
def test_toy_example_of_the_reference():
    assert forgetting(TOY, 1).tolist() == pytest.approx([0.2])
    assert forgetting(TOY).tolist() == pytest.approx([0.6, 0.5])
    assert average_forgetting(TOY) == pytest.approx(0.55)
    assert backward_transfer(TOY) == pytest.approx(-0.55)
    assert backward_transfer(TOY, 1) == pytest.approx(-0.2)
    assert average_accuracy(TOY) == pytest.approx((0.4 + 0.5 + 1.0) / 3)
    assert average_accuracy(TOY, 0) == pytest.approx(0.4)
    assert seen_average_accuracy(TOY, 1) == pytest.approx(0.9)
    assert seen_average_accuracy(TOY, 0) == pytest.approx(1.0)


def test_own_matrix_with_unmeasured_entries():
    assert forgetting(MINE).tolist() == pytest.approx([0.7, 0.55, 0.15])
    assert forgetting(MINE, 2).tolist() == pytest.approx([0.6, 0.45])
    assert average_forgetting(MINE) == pytest.approx(1.4 / 3)
    assert average_accuracy(MINE, 1) == pytest.approx((0.6 + 0.95 + 0.2) / 3)  # NaN skipped
    assert seen_average_accuracy(MINE, 1) == pytest.approx(0.775)
    assert seen_average_accuracy(MINE, -2) == pytest.approx(0.55)
    fwt = forward_transfer(MINE, [0.1, 0.25, 0.2, 0.3])
    assert math.isnan(fwt[0])
    assert fwt[1:].tolist() == pytest.approx([-0.15, 0.0, -0.2])
    assert average_forward_transfer(MINE, [0.1, 0.25, 0.2, 0.3]) == pytest.approx(-0.35 / 3)


def test_forgetting_is_avalanche_not_max_based():
    A = [[0.5, 0.0, 0.0], [0.9, 1.0, 0.0], [0.4, 0.5, 1.0]]
    assert forgetting(A)[0] == pytest.approx(0.1)  # A[0,0] - A[2,0]; max-based would be 0.5


def test_nothing_to_average_gives_nan():
    assert forgetting(TOY, 0).shape == (0,)
    assert math.isnan(average_forgetting(TOY, 0))
    assert math.isnan(average_accuracy([[NAN, NAN], [0.5, 0.5]], 0))
    assert math.isnan(average_forward_transfer(TOY, [NAN, NAN, NAN]))


def test_pure_functions_match_loop_definitions_on_random_matrices():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 7):
        A = rng.random((n, n))
        A_init = rng.random(n)
        for t in range(n):
            f = [A[k, k] - A[t, k] for k in range(t)]
            assert forgetting(A, t).tolist() == pytest.approx(f)
            bwt = sum(A[t, k] - A[k, k] for k in range(t)) / t if t else NAN
            assert backward_transfer(A, t) == pytest.approx(bwt, nan_ok=True)
            assert average_accuracy(A, t) == pytest.approx(sum(A[t]) / n)
            assert seen_average_accuracy(A, t) == pytest.approx(sum(A[t, : t + 1]) / (t + 1))
        fwt = [A[k - 1, k] - A_init[k] for k in range(1, n)]
        assert forward_transfer(A, A_init)[1:].tolist() == pytest.approx(fwt)


@pytest.mark.parametrize(
    ("A", "match"),
    [
        ([[1.0, 0.5, 0.2], [0.3, 0.4, 0.1]], r"square 2-D array .* got shape \(2, 3\)"),
        ([0.5, 0.4], r"square 2-D array .* got shape \(2,\)"),
        ([[1.0, 0.5], [0.3]], "does not convert to a 2-D float array"),
        ([[87.5, 0.0], [50.0, 90.0]], r"accuracies in \[0, 1\], got 87.5. Divide percentages"),
    ],
)
def test_bad_matrix(A, match):
    with pytest.raises(ValueError, match=match):
        forgetting(A)


def test_bad_row_and_init():
    with pytest.raises(ValueError, match=r"t must be in \[-3, 3\) for a 3x3 accuracy matrix"):
        average_accuracy(TOY, 3)
    with pytest.raises(TypeError, match="t must be an int row index, got 1.0"):
        forgetting(TOY, 1.0)
    with pytest.raises(ValueError, match=r"A_init must hold one accuracy per test experience, "
                                         r"shape \(3,\), got shape \(2,\)"):
        forward_transfer(TOY, [0.1, 0.2])


def test_e8_empty_matrix_message_does_not_contradict_itself():
    for fn in (average_accuracy, average_forgetting):
        with pytest.raises(ValueError, match=r"A must have at least one row, got a 0x0 accuracy "
                           r"matrix: nothing was measured"):
            fn(np.zeros((0, 0)))


@pytest.mark.parametrize("value", [np.inf, -np.inf])  # E10
def test_e10_inf_is_an_error_not_unmeasured(value):
    with pytest.raises(ValueError, match=r"A must hold accuracies in \[0, 1\] or NaN \(not "
                       r"measured\), got -?inf at \[0, 0\]\. Use NaN"):
        average_accuracy([[value, 0.0], [0.0, 0.0]])


def test_percent_scale_matrix_is_refused_by_every_metric():
    A = [[90.0, 10.0], [60.0, 85.0]]
    for fn in (average_accuracy, seen_average_accuracy, forgetting, average_forgetting,
               backward_transfer):
        with pytest.raises(ValueError, match=r"A must hold accuracies in \[0, 1\], got 90\. "
                           r"Divide percentages by 100"):
            fn(A)
    with pytest.raises(ValueError, match=r"A must hold accuracies in \[0, 1\]"):
        forward_transfer(A, [0.1, 0.1])


def test_a_init_in_percent_or_inf_is_refused():
    A = [[0.9, 0.3], [0.5, 0.8]]
    with pytest.raises(ValueError, match=r"A_init must hold accuracies in \[0, 1\], got 10\."):
        forward_transfer(A, [10.0, 20.0])
    with pytest.raises(ValueError, match=r"A_init must hold accuracies in \[0, 1\] or NaN"):
        average_forward_transfer(A, [0.1, np.inf])
