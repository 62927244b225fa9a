"""The construction checks of ClassificationDataset and Experience."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cltutor.data import ClassificationDataset, Experience


def test_task_label_accepts_numpy_int_and_refuses_bool():
    ds = ClassificationDataset(torch.rand(3, 2), torch.tensor([0, 1, 0]), t=np.int64(2))
    assert ds.targets_task_labels.tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match=r"t must be an int or a tensor of shape \(3,\)"):
        ClassificationDataset(torch.rand(3, 2), torch.tensor([0, 1, 0]), t=True)


@pytest.mark.parametrize("position", [-1, 1.5, "0"])
def test_experience_position_is_an_int_from_zero(position):
    ds = ClassificationDataset(torch.rand(2, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=rf"current_experience must be an int >= 0, got "
                                         rf"{position!r}\. It is the experience's position"):
        Experience(ds, position)


# -- bad inputs at construction (bad-inputs.md ids in the test names) ----------------------
def _x(n=3):
    return torch.rand(n, 2)


def test_d2_fractional_float_labels_are_refused_not_truncated():
    with pytest.raises(ValueError, match=r"y must hold whole-number class labels, got 0\.4 at "
                                         r"row 0 .*never rounded"):
        ClassificationDataset(_x(), [0.4, 1.7, 2.9])


def test_whole_number_float_labels_are_converted_exactly():
    ds = ClassificationDataset(_x(), torch.tensor([2.0, 0.0, 1.0]), t=torch.ones(3))
    assert ds.y.dtype == torch.long and ds.y.tolist() == [2, 0, 1] and ds.t.tolist() == [1] * 3
    with pytest.raises(ValueError, match=r"y must hold whole-number class labels, got 1e\+30"):
        ClassificationDataset(_x(2), torch.tensor([0.0, 1e30]))  # would overflow int64


def test_d25_nan_label_is_refused():
    with pytest.raises(ValueError, match=r"y must hold whole-number class labels, got nan at "
                                         r"row 1 .*drop rows whose label is NaN"):
        ClassificationDataset(_x(2), [0, float("nan")])


def test_d5_string_labels_get_our_error_before_torchs():
    with pytest.raises(TypeError, match=r"y must hold integer class labels, got \['cat', 'dog'\] "
                                        r".*names = sorted\(set\(y\)\)"):
        ClassificationDataset(_x(2), ["cat", "dog"])
    with pytest.raises(TypeError, match=r"y must hold integer class labels, got dtype torch\.bool"):
        ClassificationDataset(_x(2), torch.tensor([True, False]))


def test_d8_negative_class_label_is_refused_at_construction():
    with pytest.raises(ValueError, match=r"y must hold class labels >= 0, got -1 at row 1\. "
                                         r".*torch\.unique\(y, return_inverse=True\)"):
        ClassificationDataset(_x(), [0, -1, 1])


def test_d17_negative_task_label_is_refused():
    with pytest.raises(ValueError, match=r"t must hold task labels >= 0, got -3 at row 0\. "
                                         r".*use t=0 for one task"):
        ClassificationDataset(_x(2), [0, 1], t=-3)
    with pytest.raises(ValueError, match=r"t must hold task labels >= 0, got -1 at row 1"):
        ClassificationDataset(_x(2), [0, 1], t=torch.tensor([0, -1]))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])  # D6, D7
def test_d6_d7_non_finite_inputs_are_refused(bad):
    x = torch.rand(4, 1, 2, 2)
    x[2, 0, 1, 0] = bad
    with pytest.raises(ValueError, match=r"x must hold finite values, got NaN or inf in 1 of 4 "
                                         r"rows \(first: row 2\)\. .*torch\.isfinite"):
        ClassificationDataset(x, [0, 1, 0, 1])


def test_finite_check_runs_once_at_construction_never_per_batch(monkeypatch):
    calls = []
    real = torch.isfinite
    monkeypatch.setattr(torch, "isfinite", lambda v: calls.append(1) or real(v))
    ds = ClassificationDataset(torch.rand(10, 2), torch.arange(10) % 2)
    assert len(calls) == 1
    ds[torch.tensor([0, 3])], ds[[1, 2]], ds[4], ds.subset([1, 2]).with_transform(None)
    ds.concat(ds).to("cpu"), ClassificationDataset.empty_like(ds)
    assert len(calls) == 1
    ClassificationDataset(torch.zeros(3, 2, dtype=torch.uint8), [0, 1, 0])  # ints: nothing to do
    assert len(calls) == 1


def test_d13_one_dimensional_x_names_the_shape_and_unsqueeze():
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(N, \.\.\.\) with one row "
                                         r"per sample, got shape \(10,\)\. .*x\.unsqueeze\(1\) "
                                         r"gives \(10, 1\)"):
        ClassificationDataset(torch.rand(10), torch.arange(10))


def test_d15_zero_dimensional_x_is_refused_before_len():
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(N, \.\.\.\) .*got shape "
                                         r"\(\)\. .*x\.reshape\(1, 1\)"):
        ClassificationDataset(torch.tensor(3.0), [0])


def test_d22_index_past_the_end_names_the_index_and_the_length():
    ds = ClassificationDataset(torch.rand(10, 2), torch.arange(10))
    with pytest.raises(IndexError, match=r"index must be in \[-10, 10\) for a dataset of 10 rows, "
                                         r"got 100\."):
        ds[100]
    with pytest.raises(IndexError, match=r"index must be .* got -11\."):
        ds[-11]
    assert ds[-1][1] == 9 and ds[np.int64(3)][1] == 3 and ds[-10][1] == 0


def test_d26_subset_reports_the_bad_position_not_the_largest():
    ds = ClassificationDataset(torch.rand(10, 2), torch.arange(10))
    with pytest.raises(IndexError, match=r"idx must hold positions in \[-10, 10\) for a dataset "
                                         r"of 10 rows, got -20 at idx\[1\]\."):
        ds.subset([5, -20])
    with pytest.raises(IndexError, match=r"got 10 at idx\[2\]"):
        ds.get_batch([0, 9, 10, 30])
