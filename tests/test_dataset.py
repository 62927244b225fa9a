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
