"""EWC (strategies/regularization/ewc.py): the Fisher and the penalty against closed forms,
online mode's decay, bad input, and the accuracy on PermutedDigits and task-IL splits."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from accuracy_runs import mean_accuracy
from torch import nn

from cltutor import (
    EWC,
    EWCPlugin,
    MTSimpleMLP,
    SplitDigits,
    ewc_penalty,
    fisher_diagonal,
    merge_penalty_terms,
)
from cltutor.data import ClassificationDataset


def logistic_at_zero() -> nn.Linear:
    model = nn.Linear(1, 2)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    return model


def test_fisher_of_a_logistic_model_on_two_points_by_hand():
    """Softmax of W x + b at W = b = 0: p = (1/2, 1/2), so d log p_y / d W_c = (1[c=y] - 1/2) x.
    Point (x=1, y=0): W-grads (1/2, -1/2); point (x=2, y=1): (-1, 1). The mean of the
    squares is 0.625 for both weights and 0.25 for both biases."""
    data = ClassificationDataset(torch.tensor([[1.0], [2.0]]), torch.tensor([0, 1]))
    fisher = fisher_diagonal(logistic_at_zero(), data)
    torch.testing.assert_close(fisher["weight"], torch.tensor([[0.625], [0.625]]))
    torch.testing.assert_close(fisher["bias"], torch.tensor([0.25, 0.25]))


@pytest.mark.parametrize("kind", ["linear layers: closed form", "a conv layer: vmap"])
def test_fisher_is_per_sample_in_batches_of_any_size(kind):
    torch.manual_seed(0)
    first = nn.Linear(3, 4) if kind.startswith("linear") else nn.Sequential(
        nn.Unflatten(1, (1, 3)), nn.Conv1d(1, 4, 3), nn.Flatten())
    model = nn.Sequential(first, nn.Tanh(), nn.Linear(4, 3))
    data = ClassificationDataset(torch.randn(10, 3), torch.randint(0, 3, (10,)))
    loop = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for i in range(10):  # the definition: one sample at a time
        model.zero_grad()
        torch.log_softmax(model(data.x[i:i + 1]), 1)[0, data.y[i]].backward()
        for n, p in model.named_parameters():
            loop[n] += p.grad ** 2 / 10
    for batch_size in (1, 3, 256):
        fisher = fisher_diagonal(model, data, batch_size=batch_size)
        for n in loop:
            torch.testing.assert_close(fisher[n], loop[n])


def test_fisher_of_a_multi_head_model_uses_each_rows_head():
    bm = SplitDigits(5, scenario="task", seed=0)
    model = MTSimpleMLP(input_size=64, hidden_size=8, drop_rate=0.0)
    for exp in bm.train_stream[:2]:
        model.adaptation(exp)
    data = bm.train_stream[1].dataset
    fisher = fisher_diagonal(model, data)
    assert fisher["classifier.heads.1.weight"].abs().sum() > 0
    assert fisher["classifier.heads.0.weight"].abs().sum() == 0  # no row of task 0


def test_the_penalty_and_its_gradient_are_lambda_f_times_the_distance():
    model = logistic_at_zero()
    fisher = {"weight": torch.tensor([[2.0], [3.0]]), "bias": torch.tensor([0.5, 1.0])}
    anchor = {"weight": torch.tensor([[1.0], [-1.0]]), "bias": torch.tensor([0.0, 2.0])}
    penalty = ewc_penalty(model, [(fisher, anchor)], ewc_lambda=10.0)
    expected = 10.0 / 2 * (2 * 1 + 3 * 1 + 0.5 * 0 + 1.0 * 4)
    assert float(penalty.detach()) == pytest.approx(expected)
    penalty.backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, 10.0 * fisher[n] * (p.detach() - anchor[n]))


def test_the_merged_terms_give_the_same_penalty_and_gradient_as_every_pair():
    """The plugin sums one merged term per parameter instead of one per experience."""
    gen = torch.Generator().manual_seed(0)
    model = nn.Linear(3, 2)
    shapes = {n: p.shape for n, p in model.named_parameters()}
    saved = []
    for k in range(4):
        names = ["weight"] if k == 2 else ["weight", "bias"]  # a parameter missing in one
        fisher = {n: torch.rand(shapes[n], generator=gen) for n in names}
        fisher["weight"][0, 0] = 0.0  # an entry no experience finds important
        saved.append((fisher, {n: torch.randn(shapes[n], generator=gen) for n in names}))
    saved[1][0]["weight"][0, 0] = 0.0
    fisher, anchor, constant = merge_penalty_terms(saved)
    direct = ewc_penalty(model, saved, ewc_lambda=7.0)
    merged = ewc_penalty(model, [(fisher, anchor)], ewc_lambda=7.0) + 7.0 / 2 * constant
    torch.testing.assert_close(merged, direct)
    direct_grads = torch.autograd.grad(direct, list(model.parameters()))
    merged_grads = torch.autograd.grad(merged, list(model.parameters()))
    for a, b in zip(direct_grads, merged_grads, strict=True):
        torch.testing.assert_close(a, b)
    plugin = EWCPlugin(ewc_lambda=7.0)
    plugin.saved = saved  # the plugin merges what it holds, even a list set from outside
    torch.testing.assert_close(plugin.penalty(model), direct)
    plugin.saved = saved[:1]
    torch.testing.assert_close(plugin.penalty(model), ewc_penalty(model, saved[:1], 7.0))


def fake_strategy(model, x, y):
    return SimpleNamespace(model=model, adapted_dataset=ClassificationDataset(x, y),
                           device=torch.device("cpu"))


def test_separate_mode_keeps_one_pair_per_experience_online_mode_decays_one():
    model = logistic_at_zero()
    first = fake_strategy(model, torch.tensor([[1.0], [2.0]]), torch.tensor([0, 1]))
    second = fake_strategy(model, torch.tensor([[3.0]]), torch.tensor([1]))
    f1 = fisher_diagonal(model, first.adapted_dataset)
    f2 = fisher_diagonal(model, second.adapted_dataset)
    separate = EWCPlugin(1.0)
    online = EWCPlugin(1.0, mode="online", decay_factor=0.5)
    for plugin in (separate, online):
        plugin.after_training_exp(first)
        with torch.no_grad():
            model.weight += 1.0  # the parameters move during the second experience
        plugin.after_training_exp(second)
        with torch.no_grad():
            model.weight -= 1.0
    assert len(separate.saved) == 2 and len(online.saved) == 1
    fisher, anchor = online.saved[0]
    for n in f1:
        torch.testing.assert_close(fisher[n], f2[n] + 0.5 * f1[n])  # F <- decay F + F_k
    torch.testing.assert_close(anchor["weight"], torch.ones(2, 1))  # the latest parameters
    assert len(online.history) == 0
    kept = EWCPlugin(1.0, mode="online", decay_factor=0.5, keep_importance_data=True)
    kept.after_training_exp(first)
    kept.after_training_exp(second)
    assert len(kept.history) == 2 and len(kept.saved) == 1


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"ewc_lambda": -1}, ValueError, r"ewc_lambda must be a finite number >= 0, got -1"),
    ({"ewc_lambda": float("nan")}, ValueError, r"ewc_lambda must be a finite number >= 0"),
    ({"ewc_lambda": float("inf")}, ValueError, r"ewc_lambda must be a finite number >= 0"),
    ({"ewc_lambda": 1, "mode": "Online"}, ValueError, r"mode must be 'separate' or 'online', "
                                                      r"got 'Online'"),
    ({"ewc_lambda": 1, "decay_factor": 0.9}, ValueError, r"decay_factor is for mode='online' "
                                                         r"only, got 0.9"),
    ({"ewc_lambda": 1, "mode": "online"}, ValueError, r"decay_factor must be given with "
                                                      r"mode='online'"),
    ({"ewc_lambda": 1, "mode": "online", "decay_factor": 0}, ValueError,
     r"decay_factor must be a finite number > 0 and <= 1, got 0"),
    ({"ewc_lambda": 1, "mode": "online", "decay_factor": 1.5}, ValueError,
     r"decay_factor must be a finite number > 0 and <= 1, got 1.5"),
    ({"ewc_lambda": 1, "keep_importance_data": "yes"}, TypeError,
     r"keep_importance_data must be True or False, got 'yes'"),
])
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        EWCPlugin(**kwargs)


def test_ewc_strategy_runs_and_penalises_from_the_second_experience():
    bm = SplitDigits(5, scenario="domain", seed=0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    strategy = EWC(model, torch.optim.SGD(model.parameters(), lr=0.1), ewc_lambda=100,
                   train_mb_size=32, evaluator=None, device="cpu", seed=0)
    strategy.train(bm.train_stream[0])
    assert float(strategy.ewc_plugin.penalty(model).detach()) == 0.0
    strategy.train(bm.train_stream[1])
    assert float(strategy.ewc_plugin.penalty(model).detach()) > 0.0


# -- accuracy at the settings (mean of seeds 0-2) -----------------------------------
@pytest.mark.slow
def test_ewc_protects_permuted_digits_by_20_points():
    naive = mean_accuracy("permuted-digits", None, "naive")
    assert mean_accuracy("permuted-digits", None, "ewc", (("ewc_lambda", 100),)) >= naive + 0.2


@pytest.mark.slow
def test_ewc_task_incremental_no_worse_than_naive_and_at_least_093():
    ewc = mean_accuracy("split-digits", "task", "ewc", (("ewc_lambda", 100),))
    assert ewc >= mean_accuracy("split-digits", "task", "naive") and ewc >= 0.93
