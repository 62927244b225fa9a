"""Exemplar selection: herding and closest-to-center against brute-force references,
feature extraction, seeded random selection, and every error message."""

from __future__ import annotations

import pytest
import torch
from memory_helpers import FlatFeatures, brute_herding

from cltutor import SimpleMLP
from cltutor.data import ClassificationDataset
from cltutor.memory.selection import (
    HerdingSelectionStrategy,
    RandomExemplarsSelectionStrategy,
    closest_to_center_order,
    extract_features,
    herding_order,
    make_selection_strategy,
)


def test_herding_and_closest_to_center_match_brute_force():
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        f = torch.randn(40, 6, generator=gen)
        assert herding_order(f, 25).tolist() == brute_herding(f, 25)
        assert herding_order(f).tolist() == brute_herding(f, 40)
        dist = ((f.double() - f.double().mean(0)) ** 2).sum(1)
        assert closest_to_center_order(f, 10).tolist() == dist.argsort()[:10].tolist()


def test_extract_features_stops_early_restores_mode_and_batches():
    model = FlatFeatures(4)
    calls = []
    model.classifier.register_forward_hook(lambda *a: calls.append(1))
    model.train()
    model.features.eval()  # a mixed state must come back as it was
    data = ClassificationDataset(torch.rand(11, 4), torch.zeros(11))
    feats = extract_features(model, "features", data, batch_size=3)
    assert torch.equal(feats, data.x) and not feats.requires_grad
    assert calls == [] and model.training and not model.features.training


def test_random_selection_is_seeded():
    ds = ClassificationDataset(torch.rand(20, 2), torch.zeros(20))
    a = RandomExemplarsSelectionStrategy(seed=3).make_sorted_indices(None, ds, 5)
    b = RandomExemplarsSelectionStrategy(seed=3).make_sorted_indices(None, ds, 5)
    assert torch.equal(a, b) and len(set(a.tolist())) == 5


@pytest.mark.parametrize(("build", "match"), [
    (lambda: make_selection_strategy("kmeans"),
     r"selection must be one of \['random', 'herding', 'closest-to-center'\], got 'kmeans'"),
    (lambda: make_selection_strategy("herding"), r"selection='herding' .* needs model="),
    (lambda: HerdingSelectionStrategy(FlatFeatures(3), "fc7"),
     r"layer_name must name a submodule of the model, got 'fc7'"),
    (lambda: herding_order(torch.rand(4, 2), -1), r"k must be an int >= 0, got -1\. Use k=None"),
])
def test_value_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_type_errors():
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got str"):
        HerdingSelectionStrategy("model", "features")


def test_u24_a_model_that_does_not_fit_the_data_names_model_shape_and_fix():
    from cltutor.models import SimpleMLP

    model = SimpleMLP(input_size=784)
    model.train()
    data = ClassificationDataset(torch.rand(10, 1, 8, 8), torch.zeros(10))
    with pytest.raises(ValueError, match=r"model SimpleMLP cannot compute features at "
                       r"layer_name='features' for data of per-sample shape \(1, 8, 8\).*"
                       r"input_size=64"):
        extract_features(model, "features", data)
    assert model.training  # the mode comes back even after the error


@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), ("1", TypeError)])
def test_selection_seed_is_checked(seed, error):
    with pytest.raises(error, match=r"seed must be an int"):
        RandomExemplarsSelectionStrategy(seed=seed)


def test_extract_features_batch_size_is_checked():
    data = ClassificationDataset(torch.rand(4, 3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1, got 0\. Try batch_size"):
        extract_features(FlatFeatures(3), "features", data, batch_size=0)


def test_herding_can_normalise_the_features_first_as_icarl():
    model = SimpleMLP(num_classes=2, input_size=6, hidden_size=8)
    g = torch.Generator().manual_seed(0)
    f = torch.rand(30, 8, generator=g) * torch.arange(1, 31.0)[:, None]  # lengths differ
    unit = f / f.norm(dim=1, keepdim=True)
    plain = HerdingSelectionStrategy(model, "features")
    icarl = HerdingSelectionStrategy(model, "features", normalize=True)
    assert plain.make_sorted_indices_from_features(f, 10).tolist() == brute_herding(f, 10)
    assert icarl.make_sorted_indices_from_features(f, 10).tolist() == brute_herding(unit, 10)
    with pytest.raises(TypeError, match=r"normalize must be True or False, got 1"):
        HerdingSelectionStrategy(model, "features", normalize=1)
