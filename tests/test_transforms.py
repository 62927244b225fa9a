"""The batch transforms' parameter checks (their outputs are tested in test_vision.py and
test_streams.py, beside the benchmarks that use them)."""

from __future__ import annotations

import pytest
import torch

from cltutor.data import NormalizeBatch, RandomCropFlip


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"flip": "no"}, TypeError, r"flip must be True or False, got 'no'\. Write flip=False"),
        ({"flip": 1}, TypeError, r"flip must be True or False, got 1"),
        ({"padding": 2.0}, ValueError, r"padding must be an int >= 0, got 2\.0\. CIFAR uses"),
        ({"padding": True}, ValueError, r"padding must be an int >= 0, got True"),
        ({"seed": -1}, ValueError, r"seed must be an int in \[0, 2\*\*64 - 1\] or None, got -1"),
        ({"seed": "0"}, TypeError, r"seed must be an int or None, got '0'"),
    ],
)
def test_random_crop_flip_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        RandomCropFlip(**kwargs)


def test_random_crop_flip_seed_draws_the_same_crops_without_touching_the_global_generator():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    before = torch.get_rng_state()
    first = RandomCropFlip(padding=2, seed=3)(x)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(RandomCropFlip(padding=2, seed=3)(x), first)


def test_normalize_batch_scales_uint8_and_keeps_floats_in_unit_range():
    norm = NormalizeBatch(mean=(0.5, 0.0), std=(0.5, 2.0))
    x = torch.tensor([0, 255], dtype=torch.uint8).view(1, 2, 1, 1)
    assert norm(x).flatten().tolist() == [-1.0, 0.5]  # (0 - 0.5) / 0.5, (1 - 0) / 2
    assert norm(x.float() / 255).flatten().tolist() == [-1.0, 0.5]
