"""Shared by the memory tests: small experiences with row ids, and known features."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from cltutor.data import ClassificationDataset, Experience
from cltutor.memory import ExemplarsBuffer


def make_exp(classes: list[int], per_class: int, index: int = 0, start: int = 0,
             t: int = 0, dim: int = 3) -> Experience:
    """An experience with ``per_class`` rows of each class; x[:, 0] is a unique row id."""
    y = torch.tensor(classes).repeat_interleave(per_class)
    x = torch.rand(len(y), dim)
    x[:, 0] = torch.arange(start, start + len(y), dtype=torch.float32)
    return Experience(ClassificationDataset(x, y, t), index)


def sized_exp(sizes: dict[int, int], index: int = 0, start: int = 0) -> Experience:
    """An experience with ``sizes[c]`` rows of class c."""
    y = torch.cat([torch.full((n,), c) for c, n in sizes.items()])
    x = torch.zeros(len(y), 2)
    x[:, 0] = torch.arange(start, start + len(y), dtype=torch.float32)
    return Experience(ClassificationDataset(x, y), index)


def feed(buf: ExemplarsBuffer, exp: Experience) -> None:
    buf.update(SimpleNamespace(experience=exp))


def group_sizes(buf) -> dict[int, int]:
    return {k: len(g) for k, g in buf.buffer_groups.items()}


class FlatFeatures(nn.Module):
    """A model whose ``features`` are the flattened inputs: features are known exactly."""

    def __init__(self, d: int, n_classes: int = 3) -> None:
        super().__init__()
        self.features = nn.Flatten()
        self.classifier = nn.Linear(d, n_classes)

    def forward(self, x):
        return self.classifier(self.features(x))



def brute_herding(features: torch.Tensor, k: int) -> list[int]:
    """iCaRL herding as written in Avalanche: candidate centres, full distances."""
    f = features.double()
    mu, centre, chosen = f.mean(0), torch.zeros(f.shape[1], dtype=torch.float64), []
    for i in range(k):
        candidates = centre * i / (i + 1) + f / (i + 1)
        dist = ((candidates - mu) ** 2).sum(1)
        dist[chosen] = float("inf")
        j = int(dist.argmin())
        chosen.append(j)
        centre = candidates[j]
    return chosen
