"""Synaptic Intelligence (strategies/regularization/si.py): the importance of a quadratic loss
with a known path, the penalty, bad input, AR1's use of it, and the accuracy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from accuracy_runs import mean_accuracy
from torch import nn

from cltutor import SynapticIntelligence, SynapticIntelligencePlugin


class OneParameter(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([value]))


def test_importance_on_a_quadratic_loss_with_a_known_path():
    """L = a/2 theta^2 under plain SGD: theta_t = theta_0 (1 - lr a)^t, the gradient is
    a theta_t and the step -lr a theta_t, so the path integral is -lr a^2 sum theta_t^2 and
    Omega = lr a^2 sum_t theta_t^2 / ((theta_N - theta_0)^2 + eps)."""
    a, lr, theta0, steps, eps = 2.0, 0.1, 3.0, 7, 0.1
    model = OneParameter(theta0)
    strategy = SimpleNamespace(model=model)
    si = SynapticIntelligencePlugin(si_lambda=1.0, eps=eps)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    si.before_training_exp(strategy)
    for _ in range(steps):
        si.before_training_iteration(strategy)
        optimizer.zero_grad()
        (a / 2 * model.theta ** 2).sum().backward()
        optimizer.step()
        si.after_training_iteration(strategy)
    si.after_training_exp(strategy)
    path = [theta0 * (1 - lr * a) ** t for t in range(steps + 1)]
    expected = lr * a ** 2 * sum(p ** 2 for p in path[:-1]) / ((path[-1] - theta0) ** 2 + eps)
    assert float(si.importance["theta"]) == pytest.approx(expected, rel=1e-5)
    assert float(si.anchor["theta"]) == pytest.approx(path[-1], rel=1e-5)
    with torch.no_grad():
        model.theta += 0.5  # the penalty is si_lambda * Omega * (theta - theta*)^2
    assert float(si.penalty().detach()) == pytest.approx(expected * 0.25, rel=1e-5)


def test_importance_accumulates_over_experiences_and_is_never_negative():
    model = OneParameter(1.0)
    strategy = SimpleNamespace(model=model)
    si = SynapticIntelligencePlugin(si_lambda=1.0)
    for _ in range(2):
        si.before_training_exp(strategy)
        si.before_training_iteration(strategy)
        model.theta.grad = torch.tensor([1.0])  # a step up the loss: the loss went up
        with torch.no_grad():
            model.theta += 0.5
        si.after_training_iteration(strategy)
        si.after_training_exp(strategy)
    assert float(si.cum_trajectory["theta"]) == pytest.approx(2 * 0.5 / (0.25 + 0.1))
    assert float(si.importance["theta"]) == 0.0  # -cum < 0: clamped at 0, never a reward


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"si_lambda": -1}, r"si_lambda must be a finite number >= 0, got -1"),
    ({"si_lambda": float("nan")}, r"si_lambda must be a finite number >= 0"),
    ({"si_lambda": 1, "eps": 0}, r"eps must be a finite number > 0, got 0"),
    ({"si_lambda": 1, "clip_to": -1.0}, r"clip_to must be a finite number > 0, got -1.0"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SynapticIntelligencePlugin(**kwargs)


def test_ar1_uses_the_same_plugin_with_its_own_settings():
    from cltutor import AR1

    plugin = AR1(ewc_lambda=2.0, evaluator=None, device="cpu").plugins[0]
    assert type(plugin) is SynapticIntelligencePlugin
    assert (plugin.si_lambda, plugin.eps, plugin.clip_to, plugin.excluded_parameters) == (
        1.0, 1e-7, 1e-3, ("output",))


def test_the_strategy_appends_the_plugin():
    model = nn.Linear(2, 2)
    strategy = SynapticIntelligence(model, torch.optim.SGD(model.parameters(), lr=0.1),
                                    si_lambda=3.0, evaluator=None, device="cpu")
    assert strategy.plugins[-1] is strategy.si_plugin and strategy.si_plugin.si_lambda == 3.0


# -- accuracy at the settings (mean of seeds 0-2) -----------------------------------
@pytest.mark.slow
def test_si_protects_permuted_digits_by_20_points():
    naive = mean_accuracy("permuted-digits", None, "naive")
    assert mean_accuracy("permuted-digits", None, "si", (("si_lambda", 1.0),)) >= naive + 0.2


@pytest.mark.slow
def test_si_task_incremental_no_worse_than_naive_and_at_least_093():
    si = mean_accuracy("split-digits", "task", "si", (("si_lambda", 10.0),))
    assert si >= mean_accuracy("split-digits", "task", "naive") and si >= 0.93
