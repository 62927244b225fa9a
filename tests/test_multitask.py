"""Multi-head models (models/multitask.py) and task-incremental learning through every
strategy: heads added once, the optimizer sees them, mixed-task batches routed per row,
evaluation of the trained tasks only, and the three scenarios' accuracies."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from accuracy_runs import mean_accuracy

from cltutor import (
    AGEM,
    AR1,
    EvaluationPlugin,
    MTSimpleMLP,
    MultiHeadClassifier,
    MultiTaskModule,
    Naive,
    Replay,
    SimpleMLP,
    SplitDigits,
    SupervisedPlugin,
    accuracy_metrics,
    run_experiment,
)
from cltutor.data import ClassificationDataset, Experience
from cltutor.memory import make_storage_policy
from cltutor.strategies import ReplayPlugin


@pytest.fixture(scope="module")
def task_bm():
    return SplitDigits(n_experiences=5, scenario="task", seed=0)


def mt_model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return MTSimpleMLP(**{"input_size": 64, "hidden_size": 32, "drop_rate": 0.0, **kwargs})


def head_params(model, task):
    return [p.detach().clone() for p in model.classifier.heads[str(task)].parameters()]


# -- MultiHeadClassifier --------------------------------------------------------------------
def test_a_head_is_added_exactly_once_per_new_task(task_bm):
    heads = MultiHeadClassifier(in_features=8, initial_out_features=2)
    for exp in [task_bm.train_stream[0], task_bm.train_stream[0], task_bm.train_stream[1]]:
        heads.adaptation(exp)
    assert sorted(heads.heads) == ["0", "1"] and heads.known_train_tasks_labels == {0, 1}
    first = heads.heads["0"]
    heads.adaptation(task_bm.train_stream[0])
    assert heads.heads["0"] is first  # not replaced
    assert [h.out_features for h in heads.heads.values()] == [2, 2]


def test_a_head_is_as_wide_as_its_tasks_labels():
    heads = MultiHeadClassifier(in_features=4, initial_out_features=2)
    exp = Experience(ClassificationDataset(torch.rand(6, 4), torch.arange(6) % 3, 7), 0)
    heads.adaptation(exp)
    assert heads.heads["7"].out_features == 3


def test_naive_adds_each_head_to_the_optimizer_and_trains_only_that_head(task_bm):
    class InitialHead(SupervisedPlugin):  # the new head before the first step
        def before_training_epoch(self, strategy, **kwargs):
            task = strategy.experience.task_label
            if strategy.clock.train_exp_epochs == 0:
                self.initial = head_params(strategy.model, task)

    model, spy = mt_model(), InitialHead()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    assert len(optimizer.param_groups) == 1  # the trunk (no head yet)
    strategy = Naive(model, optimizer, train_mb_size=32, evaluator=None, device="cpu", seed=0,
                     plugins=[spy])
    strategy.train(task_bm.train_stream[0])
    head0 = head_params(model, 0)
    strategy.train(task_bm.train_stream[1])
    assert len(optimizer.param_groups) == 3  # trunk, head 0, head 1: each head once
    in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert {id(p) for p in model.parameters()} == in_optimizer
    assert optimizer.param_groups[2]["lr"] == 0.1 and optimizer.param_groups[2]["momentum"] == 0.9
    trained = head_params(model, 1)
    assert not any(torch.equal(a, b) for a, b in zip(spy.initial, trained, strict=True))
    # head 0 saw no row of task 1, so the optimizer left it as it was
    assert all(torch.equal(a, b) for a, b in zip(head0, head_params(model, 0), strict=True))


def test_a_mixed_task_batch_sends_each_row_to_its_own_head(task_bm):
    model = mt_model(seed=1)
    for exp in task_bm.train_stream[:3]:
        model.adaptation(exp)
    torch.manual_seed(2)
    x, t = torch.rand(9, 1, 8, 8), torch.tensor([2, 0, 1, 1, 0, 2, 2, 0, 1])
    y = torch.randint(0, 2, (9,))
    out = model(x, t)
    loss = F.cross_entropy(out, y, reduction="sum")
    grads = torch.autograd.grad(loss, list(model.parameters()))
    rows = torch.cat([model(x[i:i + 1], int(t[i])) for i in range(9)])  # one row at a time
    row_grads = torch.autograd.grad(F.cross_entropy(rows, y, reduction="sum"),
                                    list(model.parameters()))
    torch.testing.assert_close(out, rows)
    for g, h in zip(grads, row_grads, strict=True):
        torch.testing.assert_close(g, h)


def test_heads_of_different_widths_pad_with_minus_infinity():
    class Widths(MultiTaskModule):
        def forward_single_task(self, x, task_label):
            return x[:, : task_label + 1]

    out = Widths()(torch.ones(2, 3), torch.tensor([0, 2]))
    assert out[0].tolist() == [1.0, float("-inf"), float("-inf")] and out[1].tolist() == [1.0] * 3


def test_an_untrained_task_label_names_the_heads_and_the_fix(task_bm):
    model = mt_model()
    model.adaptation(task_bm.train_stream[0])
    with pytest.raises(ValueError, match=r"task label 3 has no head: this MultiHeadClassifier "
                                         r"has heads for tasks \[0\].*test_stream\[:1\]"):
        model(torch.rand(2, 1, 8, 8), torch.tensor([3, 3]))


def test_task_labels_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match=r"task_labels must hold one task label per row, "
                                         r"shape \(4,\), got shape \(2,\)"):
        mt_model()(torch.rand(4, 1, 8, 8), torch.zeros(2, dtype=torch.long))


def test_a_subclass_without_forward_single_task_says_what_to_define():
    with pytest.raises(NotImplementedError, match=r"must define forward_single_task"):
        MultiTaskModule()(torch.rand(2, 3), 0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"in_features": 0}, r"in_features must be a positive int, got 0"),
    ({"in_features": 4, "initial_out_features": True},
     r"initial_out_features must be a positive int, got True")])
def test_bad_classifier_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiHeadClassifier(**kwargs)


# -- through the strategies -----------------------------------------------------------------
def build(name, model, evaluator=None):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    common = dict(train_mb_size=32, train_epochs=2, device="cpu", seed=0, evaluator=evaluator)
    if name == "naive":
        return Naive(model, optimizer, **common)
    if name == "replay":
        return Replay(model, optimizer, mem_size=60, **common)
    if name == "replay-herding":
        buffer = make_storage_policy("parametric", 60, groupby="task", selection="herding",
                                     model=model)
        return Naive(model, optimizer, plugins=[ReplayPlugin(60, storage_policy=buffer)],
                     **common)
    return AGEM(model, optimizer, patterns_per_experience=40, sample_size=32, **common)


@pytest.mark.parametrize("name", ["naive", "replay", "replay-herding", "agem"])
def test_a_multi_head_model_through_every_strategy(task_bm, name):
    evaluator = EvaluationPlugin(accuracy_metrics(experience=True))
    model = mt_model()
    strategy = build(name, model, evaluator)
    for exp in task_bm.train_stream[:2]:
        strategy.train(exp)
        strategy.eval(task_bm.test_stream)
    A = evaluator.accuracy_matrix  # tasks 2-4 have no head yet: never measured, no column
    assert A.shape == (2, 2) and np.isnan(A[0, 1])
    assert (A[:, 0] > 0.8).all() and A[1, 1] > 0.8
    assert sorted(model.classifier.heads) == ["0", "1"]


def test_ar1_refuses_the_task_scenario_and_says_what_to_use(task_bm):
    with pytest.raises(ValueError, match=r"AR1 learns class- and domain-incremental streams.*"
                                         r"use Naive, Replay or AGEM with MTSimpleMLP"):
        AR1(lr=0.01, evaluator=None, device="cpu", num_classes=2).train(task_bm.train_stream[0])


def test_a_single_head_model_on_the_task_scenario_names_multiheadclassifier(task_bm):
    model = SimpleMLP(num_classes=2, input_size=64)
    strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.1), evaluator=None,
                     device="cpu")
    with pytest.raises(ValueError, match=r"task-incremental stream \(scenario='task'\).*SimpleMLP "
                                         r"takes no task labels.*MTSimpleMLP.*"
                                         r"MultiHeadClassifier"):
        strategy.train(task_bm.train_stream[0])


def test_evaluating_only_untrained_tasks_warns_and_measures_nothing(task_bm):
    model = mt_model()
    strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.1), evaluator=None,
                     device="cpu")
    with pytest.warns(UserWarning, match=r"eval\(\) measured nothing: MTSimpleMLP has heads "
                                         r"only for the tasks it was trained on, \[\]"):
        assert strategy.eval(task_bm.test_stream) == {}
    strategy.train(task_bm.train_stream[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # task 0 is measured: no warning
        strategy.eval(task_bm.test_stream)


def test_periodic_evaluation_before_a_task_is_trained_does_not_warn(task_bm):
    result = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run_experiment("split-digits", "replay", scenario="task", epochs=1,
                                eval_every=1, progress=False)
    assert result.config["scenario"] == "task"
    assert not np.isnan(np.diag(result.accuracy_matrix)).any()
    assert all(np.isfinite(v) for v in result.summary.values())  # accuracy, forgetting, BWT


# -- the three scenarios on one stream: the acceptance figures ----------------------
# (tests/accuracy_runs.py: MLP 64-256-256, SGD 0.05 momentum 0.9, batch 32, 5 epochs, seeds 0-2)
def test_naive_forgets_least_task_incrementally_and_most_class_incrementally():
    mean = {s: mean_accuracy("split-digits", s, "naive") for s in ("task", "domain", "class")}
    print({s: round(float(v), 3) for s, v in mean.items()})
    assert mean["task"] >= 0.85
    assert mean["class"] <= 0.30
    assert mean["class"] < mean["domain"] < mean["task"]


def test_replay_200_reaches_095_task_incrementally():
    mean = mean_accuracy("split-digits", "task", "replay", (("mem_size", 200),))
    assert mean >= 0.95, mean
