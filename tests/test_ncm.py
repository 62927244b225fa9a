"""The nearest-class-mean classifier, checked against nearest means worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cltutor import NCMClassifier, TrainEvalModel
from cltutor.models import class_means

# Two classes in 2-D: class 0 around (0, 0) - mean (0, 1); class 1 at (4, 0) and (6, 2) -
# mean (5, 1).
F_TOY = torch.tensor([[0.0, 0.0], [0.0, 2.0], [4.0, 0.0], [6.0, 2.0]])
Y_TOY = torch.tensor([0, 0, 1, 1])


def test_class_means_of_a_2d_toy_by_hand():
    means = class_means(F_TOY, Y_TOY, normalize=False)
    assert means[0].tolist() == [0.0, 1.0] and means[1].tolist() == [5.0, 1.0]
    unit = class_means(F_TOY, Y_TOY, normalize=True)
    # unit rows: (0,0) stays 0, (0,1); (1,0), (3,1)/sqrt(10); then the means renormalised
    m1 = torch.tensor([1 + 3 / math.sqrt(10), 1 / math.sqrt(10)]) / 2
    assert torch.allclose(unit[0], torch.tensor([0.0, 1.0]))
    assert torch.allclose(unit[1], m1 / m1.norm())


def test_ncm_labels_each_point_by_the_nearest_mean_by_hand():
    ncm = NCMClassifier(normalize=False)
    ncm.replace_class_means_dict(class_means(F_TOY, Y_TOY, normalize=False))
    x = torch.tensor([[2.4, 1.0], [2.6, 1.0], [5.0, -3.0]])
    logits = ncm(x)
    # distances to (0, 1) and (5, 1): 2.4 vs 2.6; 2.6 vs 2.4; sqrt(25 + 16) vs 4
    expected = -torch.tensor([[2.4, 2.6], [2.6, 2.4], [math.sqrt(41), 4.0]])
    assert torch.allclose(logits, expected)
    assert logits.argmax(1).tolist() == [0, 1, 1]


def test_normalised_ncm_compares_directions_only():
    ncm = NCMClassifier(normalize=True)
    ncm.replace_class_means_dict({0: torch.tensor([1.0, 0.0]), 1: torch.tensor([0.0, 1.0])})
    x = torch.tensor([[100.0, 1.0], [0.01, 0.02]])
    assert ncm(x).argmax(1).tolist() == [0, 1]


def test_a_class_without_a_mean_is_never_predicted():
    ncm = NCMClassifier(normalize=False)
    ncm.update_class_means_dict({0: torch.zeros(2), 3: torch.ones(2) * 10})
    logits = ncm(torch.tensor([[1.0, 1.0]]))
    assert logits.shape == (1, 4)
    assert torch.isinf(logits[0, 1:3]).all() and logits.argmax(1).item() == 0


def test_update_with_momentum_keeps_a_share_of_the_old_mean():
    ncm = NCMClassifier(normalize=False)
    ncm.update_class_means_dict({0: torch.zeros(2)})
    ncm.update_class_means_dict({0: torch.ones(2)}, momentum=0.25)
    assert ncm.class_means_dict[0].tolist() == [0.75, 0.75]
    ncm.replace_class_means_dict({1: torch.ones(2)})
    assert list(ncm.class_means_dict) == [1]


@pytest.mark.parametrize("call, error, match", [
    (lambda n: n(torch.zeros(1, 2)), RuntimeError, r"no class means yet"),
    (lambda n: n.update_class_means_dict({0: torch.zeros(2)}, momentum=2), ValueError,
     r"momentum must be in \[0, 1\], got 2"),
    (lambda n: n.update_class_means_dict({0: torch.zeros(2), 1: torch.zeros(3)}), ValueError,
     r"one length .*got \{0: 2, 1: 3\}"),
    (lambda n: n.update_class_means_dict({-1: torch.zeros(2)}), ValueError,
     r"class ids must be >= 0, got -1"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(NCMClassifier())


def test_train_eval_model_uses_one_head_to_train_and_the_other_to_test():
    head = nn.Linear(2, 2)
    ncm = NCMClassifier(normalize=False)
    ncm.replace_class_means_dict({0: torch.zeros(2), 1: torch.ones(2)})
    model = TrainEvalModel(nn.Identity(), head, ncm)
    x = torch.tensor([[0.9, 0.9]])
    assert torch.equal(model.train()(x), head(x))
    assert torch.equal(model.eval()(x), ncm(x))
    with pytest.raises(TypeError, match=r"eval_classifier must be a torch nn.Module, got str"):
        TrainEvalModel(nn.Identity(), head, "ncm")
