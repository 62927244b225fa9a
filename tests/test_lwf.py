"""LwF (strategies/regularization/lwf.py): the distillation loss against its formula, the
units it distils, bad input and the accuracy."""

from __future__ import annotations

import pytest
import torch
from accuracy_runs import mean_accuracy

from cltutor import LwF, LwFPlugin, MTSimpleMLP, SimpleMLP, SplitDigits, distillation_loss


def test_distillation_loss_is_the_mean_kl_of_the_softened_outputs():
    torch.manual_seed(0)
    new, old, T = torch.randn(4, 3), torch.randn(4, 3), 2.0
    q = torch.softmax(old / T, 1)
    p = torch.softmax(new / T, 1)
    expected = (q * (q.log() - p.log())).sum(1).mean()  # no T^2 factor
    torch.testing.assert_close(distillation_loss(new, old, T), expected)
    assert float(distillation_loss(old, old, T)) == pytest.approx(0.0, abs=1e-7)


def train(strategy, stream):
    for exp in stream:
        strategy.train(exp)
    return strategy


def test_distillation_loss_is_exactly_zero_when_the_outputs_agree():
    logits = torch.randn(64, 10, generator=torch.Generator().manual_seed(0)) * 5
    for temperature in (0.5, 1.0, 2.0, 8.0):
        assert float(distillation_loss(logits, logits.clone(), temperature)) == 0.0


def test_a_single_head_model_distils_only_the_old_classes():
    bm = SplitDigits(5, seed=0)
    model = SimpleMLP(num_classes=10, input_size=64, hidden_size=16, drop_rate=0.0)
    strategy = train(LwF(model, torch.optim.SGD(model.parameters(), lr=0.05), alpha=1,
                         temperature=2, train_mb_size=32, evaluator=None, device="cpu", seed=0),
                     bm.train_stream[:2])
    plugin = strategy.lwf_plugin
    assert plugin.old_classes == sorted(bm.train_stream[0].classes_in_this_experience
                                        + bm.train_stream[1].classes_in_this_experience)
    assert all(not p.requires_grad for p in plugin.prev_model.parameters())
    assert not plugin.prev_model.training


def test_a_multi_head_model_distils_every_old_head_on_the_new_data():
    bm = SplitDigits(5, scenario="task", seed=0)
    torch.manual_seed(0)
    model = MTSimpleMLP(input_size=64, hidden_size=16, drop_rate=0.0)
    strategy = train(LwF(model, torch.optim.SGD(model.parameters(), lr=0.05), alpha=1,
                         temperature=2, train_mb_size=32, evaluator=None, device="cpu", seed=0),
                     bm.train_stream[:2])
    strategy.mbatch = list(bm.train_stream[2].dataset.get_batch(torch.arange(8)))
    strategy.model.adaptation(bm.train_stream[2])
    strategy.mb_output = strategy.forward()
    x = strategy.mb_x
    with torch.no_grad():
        old = [strategy.lwf_plugin.prev_model(x, task) for task in (0, 1)]
    expected = sum(distillation_loss(model(x, task), old[task], 2.0) for task in (0, 1))
    torch.testing.assert_close(strategy.lwf_plugin.penalty(strategy), expected)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"alpha": -1}, r"alpha must be a finite number >= 0, got -1"),
    ({"alpha": float("inf")}, r"alpha must be a finite number >= 0"),
    ({"temperature": 0}, r"temperature must be a finite number > 0, got 0"),
    ({"temperature": -2}, r"temperature must be a finite number > 0, got -2"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LwFPlugin(**kwargs)


# -- accuracy at the settings (mean of seeds 0-2) -----------------------------------
LWF = (("alpha", 1.0), ("temperature", 2.0))


@pytest.mark.slow
def test_lwf_on_permuted_digits_beats_naive_by_8_points():
    naive = mean_accuracy("permuted-digits", None, "naive")
    assert mean_accuracy("permuted-digits", None, "lwf", LWF) >= naive + 0.08


@pytest.mark.slow
def test_lwf_task_incremental_beats_naive_by_3_points():
    naive = mean_accuracy("split-digits", "task", "naive")
    assert mean_accuracy("split-digits", "task", "lwf", LWF) >= naive + 0.03
