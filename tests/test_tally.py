"""Tally: hits and losses summed on the device, read back with one sync."""

from __future__ import annotations

import math

import pytest
import torch

from cltutor.evaluation.tally import Tally


def test_tally_sums_with_one_sync():
    tally = Tally()
    tally.add(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]), torch.tensor([0.5]))
    tally.add(torch.tensor([1, 1]), torch.tensor([1, 0]), torch.tensor(0.25))  # labels, not logits
    assert tally.totals() == (2.0, pytest.approx(1.5), 4)
    assert Tally().totals()[2] == 0


def test_tally_folds_in_chunks_to_the_same_sums():
    gen = torch.Generator().manual_seed(0)
    outs = [torch.randn(32, 10, generator=gen) for _ in range(120)]  # 38,400 values: 2 folds
    ys = [torch.randint(10, (32,), generator=gen) for _ in range(120)]
    losses = [torch.rand((), generator=gen) for _ in range(120)]
    tally = Tally()
    for o, y, loss in zip(outs, ys, losses, strict=True):
        tally.add(o, y, loss)
    # a fold every 52 minibatches (52 x 320 values >= Tally.CHUNK_ELEMENTS = 16384)
    assert tally.n == 2 * 52 * 32 and len(tally.outputs) == 120 - 2 * 52
    correct = sum(int((o.argmax(1) == y).sum()) for o, y in zip(outs, ys, strict=True))
    c, loss_sum, n = tally.totals()
    assert (c, n) == (correct, 3840)
    assert loss_sum == pytest.approx(sum(32 * float(loss) for loss in losses))


def test_tally_with_changing_widths_and_no_loss():
    tally = Tally()
    tally.add(torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), torch.tensor([1, 2]), None)
    tally.add(torch.tensor([[0.0, 0.0, 0.0, 0.0, 9.0]]), torch.tensor([4]), torch.tensor(1.0))
    tally.add(torch.tensor([3, 3]), torch.tensor([3, 0]), torch.tensor(1.0))  # labels
    correct, loss_sum, n = tally.totals()
    assert (correct, n) == (3.0, 5) and math.isnan(loss_sum)  # one minibatch had no loss
