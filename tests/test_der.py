"""DER and DER++: the loss by hand, logits stored as the model gave them, the accuracy bar."""

from __future__ import annotations

import pytest
import torch
from accuracy_runs import mean_accuracy
from torch.nn import functional as F

from cltutor import DER, DERPlugin, Naive, SimpleMLP, SplitDigits, SupervisedPlugin, der_loss


def test_der_loss_is_alpha_mse_plus_beta_ce_by_hand():
    out = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    stored = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    # MSE: (1 + 0 + 0 + 4) / 4 = 1.25
    assert float(der_loss(out, stored, alpha=0.2)) == pytest.approx(0.25)
    labels_out, labels = torch.tensor([[0.0, 0.0]]), torch.tensor([1])
    ce = float(F.cross_entropy(labels_out, labels))  # log 2
    total = der_loss(out, stored, labels_out, labels, alpha=0.2, beta=0.5)
    assert float(total) == pytest.approx(0.25 + 0.5 * ce)


class OutputSpy(SupervisedPlugin):
    """The model's output on every row as it trains on it (before that step's update)."""

    def __init__(self):
        self.logits = {}

    def after_forward(self, strategy, **kwargs):
        n = len(strategy.mb_y)
        for x, out in zip(strategy.mb_x[:n], strategy.mb_output.detach(), strict=True):
            self.logits[tuple(x.flatten().tolist())] = out.clone()


def der_run(alpha=0.1, beta=0.5, seed=0, epochs=1, mem_size=40):
    bm = SplitDigits(n_experiences=5, seed=0)
    torch.manual_seed(0)
    model = SimpleMLP(num_classes=10, input_size=64, hidden_size=32, drop_rate=0.0)
    spy = OutputSpy()
    strategy = DER(model, torch.optim.SGD(model.parameters(), lr=0.05), mem_size=mem_size,
                   alpha=alpha, beta=beta, train_mb_size=16, train_epochs=epochs,
                   plugins=[spy], evaluator=None, device="cpu", seed=seed)
    for exp in bm.train_stream[:2]:
        strategy.train(exp)
    return model, spy, strategy


def test_der_stores_the_logits_the_model_gave_when_it_trained_on_the_row():
    model, spy, strategy = der_run()
    memory = strategy.der_plugin.memory
    assert len(memory) == 40 and memory.fields["logits"].shape == (40, 10)
    for x, logits in zip(memory.fields["x"], memory.fields["logits"], strict=True):
        assert torch.equal(logits, spy.logits[tuple(x.flatten().tolist())])
    with torch.no_grad():  # not the final model's answers: those changed since
        now = model(memory.fields["x"])
    assert not torch.allclose(now, memory.fields["logits"])


def test_with_alpha_and_beta_zero_der_trains_exactly_as_naive():
    model, _, _ = der_run(alpha=0.0, beta=0.0)
    bm = SplitDigits(n_experiences=5, seed=0)
    torch.manual_seed(0)
    naive_model = SimpleMLP(num_classes=10, input_size=64, hidden_size=32, drop_rate=0.0)
    naive = Naive(naive_model, torch.optim.SGD(naive_model.parameters(), lr=0.05),
                  train_mb_size=16, evaluator=None, device="cpu", seed=0)
    for exp in bm.train_stream[:2]:
        naive.train(exp)
    for a, b in zip(model.parameters(), naive_model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_the_memory_terms_change_the_update():
    a, _, _ = der_run(alpha=0.0, beta=0.0)
    b, _, _ = der_run(alpha=0.1, beta=0.5)
    assert not torch.allclose(a.classifier.weight, b.classifier.weight)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"alpha": -1}, ValueError, r"alpha must be a finite number >= 0.0, got -1"),
    ({"beta": "0.5"}, TypeError, r"beta must be a finite number >= 0.0, got '0.5'"),
    ({"mem_size": 0}, ValueError, r"mem_size must be a positive int, got 0"),
])
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        DERPlugin(**kwargs)


@pytest.mark.slow
def test_der_plus_plus_reaches_the_issue_bar_next_to_replay():
    der = mean_accuracy("split-digits", "class", "der", (("mem_size", 200), ("alpha", 0.1),
                                                         ("beta", 0.5)))
    replay = mean_accuracy("split-digits", "class", "replay", (("mem_size", 200),))
    print(f"class-incremental SplitDigits, memory 200: DER++ {der:.3f}, Replay {replay:.3f}")
    assert der >= 0.85 and der >= replay - 0.03
