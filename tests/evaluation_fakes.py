"""A fake strategy for the evaluation tests: it fires the callbacks as Naive does.

A SimpleNamespace strategy fires the callbacks in the documented order on the
evaluator and then on its loggers, calling only those each says it overrides,
as Naive does. Predictions are built so that a chosen number of samples is
right, so every expected value is hand-computed.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F

from cltutor.callbacks import TRAIN_CALLBACKS
from cltutor.data import ClassificationDataset, Experience, Stream
from cltutor.evaluation import BaseLogger

NAN = float("nan")
TOY = [[1.0, 0.0, 0.2], [0.8, 1.0, 0.0], [0.4, 0.5, 1.0]]  # reference section 7.3


def make_stream(name, sizes, tasks=None, n_classes=4):
    exps = []
    for k, n in enumerate(sizes):
        y = torch.arange(n) % n_classes
        t = 0 if tasks is None else tasks[k]
        exps.append(Experience(ClassificationDataset(torch.zeros(n, 2), y, t), k))
    return Stream(name, exps)


def batches(exp, hits, batch_size, loss=1.0, n_classes=4):
    """(logits, y, loss) minibatches of ``exp`` whose first ``hits`` samples are right."""
    y = exp.dataset.y
    pred = y.clone()
    pred[hits:] = (y[hits:] + 1) % n_classes
    logits = F.one_hot(pred, n_classes).float()  # (N, n_classes)
    return [(lo, yb, torch.tensor(loss)) for lo, yb in
            zip(logits.split(batch_size), y.split(batch_size), strict=True)]


def new_strategy(eval_every=-1):
    return SimpleNamespace(experience=None, mb_output=None, mb_y=None, loss=None,
                           dataloader=None, is_training=False, train_epochs=1,
                           eval_every=eval_every,
                           clock=SimpleNamespace(train_iterations=0, train_exp_epochs=0))


def fire(plugin, name, s):
    """The evaluator, then its loggers, each only for the callbacks it overrides (as Naive)."""
    for p in (plugin, *plugin.loggers):
        if name in p.overridden_callbacks():
            getattr(p, name)(s)


def run_eval(plugin, s, stream, hits, batch_size=8):
    saved = (s.experience, s.is_training, s.dataloader)
    s.is_training = False
    fire(plugin, "before_eval", s)
    for exp, h in zip(stream, hits, strict=True):
        s.experience = exp
        fire(plugin, "before_eval_dataset_adaptation", s)
        fire(plugin, "after_eval_dataset_adaptation", s)
        mbatches = batches(exp, h, batch_size, loss=0.5 * (exp.current_experience + 1))
        s.dataloader = mbatches
        fire(plugin, "before_eval_exp", s)
        for s.mb_output, s.mb_y, s.loss in mbatches:
            for name in ("before_eval_iteration", "before_eval_forward", "after_eval_forward",
                         "after_eval_iteration"):
                fire(plugin, name, s)
        fire(plugin, "after_eval_exp", s)
    fire(plugin, "after_eval", s)
    s.experience, s.is_training, s.dataloader = saved
    return plugin.get_last_metrics()


def run_train(plugin, s, exps, epoch_batches, after_exp=None, before=None):
    """Train on ``exps``; ``after_exp(exp)`` runs inside after_training_exp (periodic eval)."""
    s.is_training = True
    fire(plugin, "before_training", s)
    if before is not None:
        before()
    for exp in exps:
        s.experience = exp
        for name in TRAIN_CALLBACKS[1:4]:  # dataset adaptation, then before_training_exp
            fire(plugin, name, s)
        s.clock.train_exp_epochs = 0
        for epoch in epoch_batches(exp):
            s.dataloader = epoch
            fire(plugin, "before_training_epoch", s)
            for s.mb_output, s.mb_y, s.loss in epoch:
                for name in TRAIN_CALLBACKS[5:13]:
                    fire(plugin, name, s)
                s.clock.train_iterations += 1  # the clock runs last
            fire(plugin, "after_training_epoch", s)
            s.clock.train_exp_epochs += 1
        fire(plugin, "after_training_exp", s)
        if after_exp is not None:
            after_exp(exp)
    fire(plugin, "after_training", s)
    s.is_training = False


def one_perfect_epoch(exp):
    return [batches(exp, len(exp.dataset), 4)]


# Sizes 10, 20, 30 and these hits give exactly the toy matrix TOY.
TOY_HITS = [[10, 0, 6], [8, 20, 0], [4, 10, 30]]


def toy_run(plugin, s=None):
    s = s or new_strategy()
    train, test = make_stream("train", [12, 12, 12]), make_stream("test", [10, 20, 30])
    results = []
    for t, exp in enumerate(train):
        run_train(plugin, s, [exp], one_perfect_epoch)
        results.append(run_eval(plugin, s, test, TOY_HITS[t]))
    return results


class Recorder(BaseLogger):
    """Logs every call; checks that the matrix is updated before after_eval reaches it."""

    def __init__(self):
        self.events = []

    def log_metrics(self, strategy, metrics):
        self.events.append(("log", dict(metrics)))

    def before_forward(self, strategy, **kwargs):
        self.events.append(("before_forward", None))

    def after_eval(self, strategy, **kwargs):
        self.events.append(("after_eval", self.accuracy_matrix.copy()))

