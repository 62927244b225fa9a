"""GDumb: a class-balanced memory after every update, a model back to its initial weights."""

from __future__ import annotations

import copy

import pytest
import torch
from accuracy_runs import mean_accuracy

from cltutor import (
    GDumb,
    GDumbPlugin,
    MTSimpleMLP,
    Naive,
    SimpleMLP,
    SplitDigits,
    SupervisedPlugin,
)
from cltutor.strategies import reset_weights


class StartSpy(SupervisedPlugin):
    """Weights, optimizer state and training set as each experience's training starts."""

    def __init__(self, gdumb):
        self.gdumb, self.starts = gdumb, []

    def before_training_exp(self, strategy, **kwargs):
        self.starts.append({
            "weights": copy.deepcopy(strategy.model.state_dict()),
            "momentum": len(strategy.optimizer.state),
            "rows": len(strategy.adapted_dataset),
            "counts": torch.bincount(self.gdumb.storage_policy.buffer.y, minlength=10).tolist(),
        })


def run(mem_size=50, n_exps=5):
    bm = SplitDigits(n_experiences=5, seed=0)
    torch.manual_seed(0)
    model = SimpleMLP(num_classes=10, input_size=64, hidden_size=32)
    initial = copy.deepcopy(model.state_dict())
    gdumb = GDumbPlugin(mem_size=mem_size, seed=0)
    spy = StartSpy(gdumb)
    strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                     train_mb_size=16, train_epochs=2, plugins=[gdumb, spy], evaluator=None,
                     device="cpu", seed=0)
    for exp in bm.train_stream[:n_exps]:
        strategy.train(exp)
    return bm, gdumb, spy, initial, strategy


def test_the_memory_is_class_balanced_after_every_update():
    bm, gdumb, spy, _, _ = run(mem_size=50)
    for k, start in enumerate(spy.starts):
        seen = [c for e in bm.train_stream[: k + 1] for c in e.classes_in_this_experience]
        counts = [start["counts"][c] for c in seen]
        assert sum(counts) == 50 and max(counts) - min(counts) <= 1  # 50 over 2, 4, ... classes
        assert all(start["counts"][c] == 0 for c in range(10) if c not in seen)


def test_each_experience_starts_from_the_initial_weights_with_no_momentum():
    _, _, spy, initial, strategy = run()
    for start in spy.starts:
        assert all(torch.equal(start["weights"][k], initial[k]) for k in initial)
        assert start["momentum"] == 0
    trained = strategy.model.state_dict()
    assert not all(torch.equal(trained[k], initial[k]) for k in initial)  # it did train


def test_it_trains_on_the_memory_only():
    _, _, spy, _, strategy = run(mem_size=50)
    assert [s["rows"] for s in spy.starts] == [50] * 5
    assert strategy.clock.train_iterations == 5 * 2 * -(-50 // 16)


def test_a_head_added_after_the_start_is_reset_too():
    model = MTSimpleMLP(input_size=64, hidden_size=16)
    bm = SplitDigits(n_experiences=5, seed=0, scenario="task")
    strategy = GDumb(model, torch.optim.SGD(model.parameters(), lr=0.05), mem_size=40,
                     train_mb_size=16, evaluator=None, device="cpu", seed=0)
    strategy.train(bm.train_stream[0])
    strategy.train(bm.train_stream[1])
    state = copy.deepcopy(model.state_dict())
    torch.manual_seed(1)
    reset_weights(model, strategy.gdumb_plugin.initial_state)
    after, initial = model.state_dict(), strategy.gdumb_plugin.initial_state
    heads = [k for k in after if k not in initial]  # created by model adaptation, later
    assert heads and all(k.startswith("classifier.heads.") for k in heads)
    assert all(torch.equal(after[k], initial[k]) for k in initial)
    assert all(not torch.equal(after[k], state[k]) for k in heads if k.endswith("weight"))


def test_bad_input():
    with pytest.raises(ValueError, match=r"mem_size must be a positive int, got 0"):
        GDumbPlugin(mem_size=0)


@pytest.mark.slow
def test_gdumb_reaches_the_issue_bar():
    accuracy = mean_accuracy("split-digits", "class", "gdumb", (("mem_size", 200),))
    print(f"GDumb(200), class-incremental SplitDigits: {accuracy:.3f}")
    assert accuracy >= 0.70
