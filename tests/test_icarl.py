"""iCaRL: its loss by hand, herded exemplars within the memory, nearest-mean evaluation."""

from __future__ import annotations

import pytest
import torch
from accuracy_runs import mean_accuracy
from torch.nn import functional as F

from cltutor import ICaRL, SimpleMLP, SplitDigits, icarl_loss
from cltutor.memory.selection import herding_order
from cltutor.models import class_means


def test_icarl_loss_by_hand():
    logits = torch.tensor([[0.0, 2.0, -1.0]])
    plain = icarl_loss(logits, torch.tensor([1]))
    targets = torch.tensor([[0.0, 1.0, 0.0]])
    assert float(plain) == pytest.approx(float(F.binary_cross_entropy(torch.sigmoid(logits),
                                                                       targets)))
    old = torch.tensor([[3.0, -3.0, 0.0]])
    distilled = icarl_loss(logits, torch.tensor([2]), old, old_classes=[0, 1])
    targets = torch.tensor([[torch.sigmoid(torch.tensor(3.0)), torch.sigmoid(torch.tensor(-3.0)),
                             1.0]])
    assert float(distilled) == pytest.approx(float(F.binary_cross_entropy(torch.sigmoid(logits),
                                                                          targets)))


def icarl_run(n_exps=2, memory_size=40, fixed_memory=True):
    bm = SplitDigits(n_experiences=5, seed=0)
    torch.manual_seed(0)
    net = SimpleMLP(num_classes=10, input_size=64, hidden_size=32, drop_rate=0.0)
    strategy = ICaRL(net.features, net.classifier, torch.optim.SGD(net.parameters(), lr=0.05),
                     memory_size=memory_size, fixed_memory=fixed_memory, train_mb_size=16,
                     evaluator=None, device="cpu", seed=0)
    for exp in bm.train_stream[:n_exps]:
        strategy.train(exp)
    return bm, net, strategy


def test_a_fixed_memory_is_shared_by_the_classes_seen_and_shrinks_by_prefix():
    bm, net, strategy = icarl_run(n_exps=1)
    first = {c: d.x.clone() for c, d in strategy.exemplars.items()}
    assert {c: len(d) for c, d in first.items()} == {c: 20 for c in first}
    for exp in bm.train_stream[1:3]:
        strategy.train(exp)
    sizes = {c: len(d) for c, d in strategy.exemplars.items()}
    assert sum(sizes.values()) == 40 and sorted(sizes.values()) == [6] * 2 + [7] * 4
    for c, x in first.items():  # an old class keeps the first rows of its herding order
        assert torch.equal(strategy.exemplars[c].x, x[: sizes[c]])


def test_memory_size_is_per_class_without_a_fixed_memory():
    _, _, strategy = icarl_run(n_exps=2, memory_size=15, fixed_memory=False)
    assert [len(d) for d in strategy.exemplars.values()] == [15] * 4


def test_new_exemplars_are_the_herding_order_of_the_normalised_features():
    bm, net, strategy = icarl_run(n_exps=1)
    data = bm.train_stream[0].dataset
    net.eval()
    with torch.no_grad():
        for c, rows in strategy.exemplars.items():
            f = net.features(data.x[data.y == c])
            unit = f / f.norm(dim=1, keepdim=True)
            expected = data.x[data.y == c][herding_order(unit, 20)]
            assert torch.equal(rows.x, expected)


def test_evaluation_is_the_nearest_mean_of_the_exemplars():
    bm, net, strategy = icarl_run(n_exps=2)
    exemplars = list(strategy.exemplars.values())
    x = torch.cat([d.x for d in exemplars])
    y = torch.cat([d.y for d in exemplars])
    net.eval()
    with torch.no_grad():
        means = class_means(net.features(x), y)
        test = bm.test_stream[0].dataset.x
        f = net.features(test)
        f = f / f.norm(dim=1, keepdim=True)
        classes = sorted(means)
        dist = torch.cdist(f, torch.stack([means[c] for c in classes]))
        expected = torch.tensor(classes)[dist.argmin(1)]
    strategy.model.eval()
    with torch.no_grad():
        got = strategy.model(test).argmax(1)
    assert torch.equal(got, expected)


def test_training_uses_exemplars_and_distils_from_a_frozen_copy():
    bm, net, strategy = icarl_run(n_exps=2)
    assert strategy.old_classes == sorted(strategy.exemplars)
    assert all(not p.requires_grad for p in strategy.old_model.parameters())
    assert strategy.old_model[0] is not net.features  # a copy, not the live network
    with pytest.raises(TypeError, match=r"ICaRL has its own criterion"):
        ICaRL(net.features, net.classifier, torch.optim.SGD(net.parameters(), lr=0.1),
              criterion=torch.nn.CrossEntropyLoss())


@pytest.mark.parametrize("kwargs, error, match", [
    ({"memory_size": 0}, ValueError, r"memory_size must be a positive int, got 0"),
    ({"fixed_memory": "yes"}, TypeError, r"fixed_memory must be True or False"),
])
def test_bad_input(kwargs, error, match):
    net = SimpleMLP(num_classes=10, input_size=64, hidden_size=8)
    with pytest.raises(error, match=match):
        ICaRL(net.features, net.classifier, torch.optim.SGD(net.parameters(), lr=0.1), **kwargs)


@pytest.mark.slow
def test_icarl_reaches_the_issue_bar():
    accuracy = mean_accuracy("split-digits", "class", "icarl", (("memory_size", 200),))
    print(f"iCaRL(200), class-incremental SplitDigits: {accuracy:.3f}")
    assert accuracy >= 0.68
