"""The upper bounds (strategies/bounds.py): Cumulative trains on the union of the
experiences so far, JointTraining on every sample once per epoch; their accuracy."""

from __future__ import annotations

import pytest
import torch
from accuracy_runs import mean_accuracy
from torch import nn

from cltutor import Cumulative, JointTraining, SupervisedPlugin
from cltutor.data import ClassificationDataset, Experience, Stream


def id_stream(sizes):
    """Experiences whose inputs are their rows' ids (0, 1, 2, ...)."""
    exps, start = [], 0
    for k, n in enumerate(sizes):
        ids = torch.arange(start, start + n, dtype=torch.float32)[:, None]
        exps.append(Experience(ClassificationDataset(ids, torch.full((n,), k)), k))
        start += n
    return Stream("train", exps)


class SeenRows(SupervisedPlugin):
    def __init__(self):
        self.epochs: list[list[int]] = []

    def before_training_epoch(self, strategy, **kwargs):
        self.epochs.append([])

    def after_forward(self, strategy, **kwargs):
        self.epochs[-1] += strategy.mb_x[:, 0].long().tolist()


def build(cls, plugin, epochs=1):
    model = nn.Linear(1, 3)
    return cls(model, torch.optim.SGD(model.parameters(), lr=0.01), train_mb_size=4,
               train_epochs=epochs, plugins=[plugin], evaluator=None, device="cpu", seed=0)


def test_cumulative_trains_each_experience_on_the_union_so_far():
    seen, stream = SeenRows(), id_stream([5, 3, 4])
    strategy = build(Cumulative, seen)
    for exp in stream:
        strategy.train(exp)
    assert [sorted(rows) for rows in seen.epochs] == [list(range(5)), list(range(8)),
                                                      list(range(12))]
    assert len(strategy.seen_dataset) == 12


@pytest.mark.parametrize("eval_every", [-1, 0, 1])
def test_cumulative_never_trains_on_what_it_is_evaluated_on(eval_every):
    """Evaluating, after an experience or during one, adds nothing to the training union
    (once it did: the evaluation's dataset adaptation went through Cumulative's)."""
    stream = id_stream([5, 3, 4])
    test_stream = Stream("test", [Experience(ClassificationDataset(
        torch.full((6,), 100.0 + k)[:, None], torch.full((6,), k)), k) for k in range(3)])
    seen = SeenRows()
    model = nn.Linear(1, 3)
    strategy = Cumulative(model, torch.optim.SGD(model.parameters(), lr=0.01), train_mb_size=4,
                          train_epochs=2, plugins=[seen], evaluator=None, device="cpu", seed=0,
                          eval_every=eval_every)
    for exp in stream:
        strategy.train(exp, eval_streams=[test_stream] if eval_every > -1 else None)
        strategy.eval(test_stream)
    assert [sorted(rows) for rows in seen.epochs[::2]] == [list(range(5)), list(range(8)),
                                                           list(range(12))]
    assert len(strategy.seen_dataset) == 12


def test_joint_training_sees_every_sample_once_per_epoch():
    seen, stream = SeenRows(), id_stream([5, 3, 4])
    strategy = build(JointTraining, seen, epochs=2)
    strategy.train(stream)
    assert [sorted(rows) for rows in seen.epochs] == [list(range(12))] * 2
    assert strategy.clock.train_exp_counter == 1
    with pytest.raises(RuntimeError, match=r"JointTraining trains once, on the whole stream"):
        strategy.train(stream)


# -- accuracy at the settings (mean of seeds 0-2) -----------------------------------
@pytest.mark.slow
def test_cumulative_and_joint_training_are_upper_bounds_class_incrementally():
    assert mean_accuracy("split-digits", "class", "cumulative") >= 0.95
    assert mean_accuracy("split-digits", "class", "joint") >= 0.93
