"""StoredRows: rows, groups and priorities stay aligned through subset and concat, and a
record is never changed by building the next one."""

from __future__ import annotations

import pytest
import torch

from cltutor.data import ClassificationDataset
from cltutor.memory.storage import StoredRows


def rows(ids: list[int], group: list[int]) -> StoredRows:
    """Rows whose x[:, 0] and priority are their ids."""
    x = torch.tensor(ids, dtype=torch.float32).unsqueeze(1)
    data = ClassificationDataset(x, torch.tensor(group))
    return StoredRows(data, torch.tensor(group), torch.tensor(ids, dtype=torch.float64))


def test_subset_then_concat_keeps_rows_groups_and_priorities_aligned():
    old, new = rows([0, 1, 2], [0, 1, 0]), rows([10, 11], [1, 1])
    keep = torch.tensor([True, False, True, False, True])  # over old then new
    kept = old.subset(keep[:3]).concat(new.subset(keep[3:]))
    assert kept.data.x[:, 0].tolist() == [0, 2, 11]
    assert kept.group.tolist() == kept.data.y.tolist() == [0, 0, 1]
    assert kept.priority.tolist() == [0, 2, 11]
    assert len(old) == 3 and old.data.x[:, 0].tolist() == [0, 1, 2]  # unchanged


def test_empty_like_has_the_format_of_its_model():
    data = ClassificationDataset(torch.zeros(4, 2, 3, dtype=torch.uint8), torch.zeros(4))
    empty = StoredRows.empty_like(data)
    assert len(empty) == 0 and empty.data.x.shape == (0, 2, 3)
    assert empty.data.x.dtype == torch.uint8 and empty.priority.dtype == torch.float64
    assert empty.concat(rows([5], [0])).group.tolist() == [0]


def test_check_format_refuses_another_shape_dtype_or_transform():
    stored = rows([0, 1], [0, 0])
    stored.check_format(rows([2], [0]).data)  # same format: accepted
    with pytest.raises(ValueError, match=r"stores inputs of shape \(1,\) torch.float32 but "
                                         r"the experience has \(1,\) torch.float64"):
        stored.check_format(ClassificationDataset(torch.zeros(2, 1, dtype=torch.float64),
                                                  torch.zeros(2)))
    with pytest.raises(ValueError, match=r"different transform from the rows already stored"):
        stored.check_format(stored.data.with_transform(lambda x: x))
