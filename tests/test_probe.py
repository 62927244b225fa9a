"""linear_probe: refit the head on frozen features, never touching the model."""

from __future__ import annotations

import copy

import pytest
import torch

from cltutor import MTSimpleMLP, Naive, SimpleMLP, SplitDigits, linear_probe
from cltutor.models import NCMClassifier, class_means


@pytest.fixture(scope="module")
def trained():
    """Naive after the class-incremental digits (plain SGD, dropout on): its head forgets."""
    bm = SplitDigits(n_experiences=5, seed=0)
    torch.manual_seed(0)
    model = SimpleMLP(num_classes=10, input_size=64, hidden_size=64)
    strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05),
                     train_mb_size=32, train_epochs=3, evaluator=None, device="cpu", seed=0)
    for exp in bm.train_stream:
        strategy.train(exp)
    return bm, model


def test_the_probe_never_changes_the_model(trained):
    bm, model = trained
    model.train()
    before = copy.deepcopy(model.state_dict())
    linear_probe(model, bm)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training and all(m.training for m in model.modules())


def test_the_probe_reads_the_features_of_the_head_and_beats_the_forgotten_head(trained):
    bm, model = trained
    result = linear_probe(model, bm)
    assert all(0.0 <= v <= 1.0 for v in (result.head, result.probe, result.ncm))
    assert result.head < 0.35  # class-incremental Naive answers mostly the last classes
    assert result.probe > result.head + 0.3  # the features still separate the old ones
    assert repr(result).startswith("ProbeResult(head=0.")


def test_the_ncm_part_is_the_nearest_mean_of_the_training_features(trained):
    bm, model = trained
    train = [e.dataset for e in bm.train_stream]
    test = [e.dataset for e in bm.test_stream]
    model.eval()
    with torch.no_grad():
        f_train = torch.cat([model.features(d.x) for d in train])
        f_test = torch.cat([model.features(d.x) for d in test])
    ncm = NCMClassifier()
    ncm.replace_class_means_dict(class_means(f_train, torch.cat([d.y for d in train])))
    expected = (ncm(f_test).argmax(1) == torch.cat([d.y for d in test])).float().mean()
    assert linear_probe(model, bm).ncm == pytest.approx(float(expected), abs=1e-6)


def test_the_probe_is_deterministic(trained):
    bm, model = trained
    assert linear_probe(model, bm) == linear_probe(model, bm)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"head": "fc"}, ValueError, r"head must name the model's output layer, got 'fc'; its "
                                 r"linear layers are \['features.1', 'classifier'\]"),
    ({"benchmark": [1]}, TypeError, r"benchmark must be a cltutor Benchmark, got list"),
    ({"model": MTSimpleMLP(input_size=64)}, TypeError, r"one head per task"),
    ({"max_iter": 0}, ValueError, r"max_iter must be a positive int, got 0"),
])
def test_bad_input(trained, kwargs, error, match):
    bm, model = trained
    args = {"model": model, "benchmark": bm, **kwargs}
    with pytest.raises(error, match=match):
        linear_probe(**args)
