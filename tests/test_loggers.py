"""Loggers: what they receive from the evaluator, what they print, the progress bars."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from evaluation_fakes import (
    TOY,
    Recorder,
    make_stream,
    new_strategy,
    one_perfect_epoch,
    run_eval,
    run_train,
    toy_run,
)

from cltutor.callbacks import EVAL_CALLBACKS, TRAIN_CALLBACKS
from cltutor.evaluation import (
    BaseLogger,
    EvaluationPlugin,
    InteractiveLogger,
    TextLogger,
    accuracy_metrics,
)


def test_loggers_receive_events_as_they_happen():
    recorder = Recorder()
    plugin = EvaluationPlugin(accuracy_metrics(epoch=True, stream=True), loggers=[recorder])
    assert recorder.evaluator is plugin
    toy_run(plugin)
    kinds = [kind for kind, _ in recorder.events]
    # per experience: 3 training iterations, the epoch's metrics, the eval's, then after_eval
    assert kinds == (["before_forward"] * 3 + ["log", "log", "after_eval"]) * 3
    assert list(recorder.events[3][1]) == ["Top1_Acc_Epoch/train_phase/train_stream/Task000"]
    np.testing.assert_allclose(recorder.events[-1][1], TOY)  # the row of this eval is in
    assert np.isnan(recorder.events[5][1][1:]).all()  # after the first eval, one row only


def test_logger_without_evaluator():
    with pytest.raises(RuntimeError, match="this Recorder is not attached to an EvaluationPlugin"):
        _ = Recorder().accuracy_matrix


def test_text_and_interactive_loggers_print_emitted_metrics():
    text, inter = io.StringIO(), io.StringIO()
    plugin = EvaluationPlugin(accuracy_metrics(epoch=True, experience=True, stream=True),
                              loggers=[TextLogger(text), InteractiveLogger(inter)])
    toy_run(plugin)
    lines = text.getvalue().splitlines()
    assert "Top1_Acc_Epoch/train_phase/train_stream/Task000 = 1.0000" in lines
    assert "Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp002 = 0.2000" in lines
    assert lines[-1] == "Top1_Acc_Stream/eval_phase/test_stream/Task000 = 0.7333"
    out = inter.getvalue()
    assert "eval_phase/test_stream/Task000/Exp001  Top1_Acc_Exp 0.5000" in out
    assert "epoch 1/1  train_phase/train_stream/Task000  Top1_Acc_Epoch 1.0000" in out
    assert "train exp 2 epoch 1/1" in out and "eval test exp 2" in out  # bar descriptions


def test_interactive_logger_mininterval():
    with pytest.raises(ValueError, match="mininterval must be a finite number >= 0, got -1"):
        InteractiveLogger(mininterval=-1)
    with pytest.raises(TypeError, match="mininterval must be a finite number >= 0, got '1'"):
        InteractiveLogger(mininterval="1")


class EveryCallback(BaseLogger):
    """Overrides all callbacks and records their names."""

    def __init__(self):
        self.calls = []


for _name in (*TRAIN_CALLBACKS, *EVAL_CALLBACKS):
    setattr(EveryCallback, _name,
            lambda self, strategy, _n=_name, **kw: self.calls.append(_n))


def test_every_callback_reaches_a_logger_in_the_documented_order():
    logger = EveryCallback()
    plugin = EvaluationPlugin(loggers=[logger])
    assert logger.overridden_callbacks() == [*TRAIN_CALLBACKS, *EVAL_CALLBACKS]
    s = new_strategy()
    exp = make_stream("train", [4])[0]
    run_train(plugin, s, [exp], one_perfect_epoch)
    run_eval(plugin, s, make_stream("test", [4]), [4])
    iteration = list(TRAIN_CALLBACKS[5:13])  # before_training_iteration .. after_training_it.
    assert logger.calls == [*TRAIN_CALLBACKS[:5], *iteration, *TRAIN_CALLBACKS[13:],
                            *EVAL_CALLBACKS]  # one minibatch each


def bar_renders(mininterval, n_iter=1000):
    """What an InteractiveLogger writes for one training epoch of ``n_iter`` minibatches."""
    out = io.StringIO()
    logger = InteractiveLogger(out, mininterval=mininterval)
    s = new_strategy()
    s.experience, s.dataloader = make_stream("train", [4])[0], range(n_iter)
    logger.before_training_epoch(s)
    for _ in range(n_iter):
        logger.after_training_iteration(s)
    logger.after_training_epoch(s)
    return out.getvalue()


def test_progress_bar_is_redrawn_at_most_every_mininterval():
    every_step = bar_renders(mininterval=0)
    assert "train exp 0 epoch 1/1:" in every_step and "500/1000" in every_step
    throttled = bar_renders(mininterval=60.0)  # the loop takes far less than a minute
    assert "0/1000" in throttled  # the bar is drawn when it opens
    counts = {int(m) for m in re.findall(r"(\d+)/1000", throttled)}
    assert counts == {0}  # and not again before it closes


def test_an_interactive_logger_given_to_a_new_evaluator_closes_its_bars_and_forgets():
    from tqdm import tqdm

    logger = InteractiveLogger(file=io.StringIO())
    EvaluationPlugin(loggers=[logger])
    logger._train_bar = tqdm(total=3, file=io.StringIO())
    logger._pending = {"Top1_Acc_Epoch/train_phase/train_stream/Task000": 0.5}
    second = EvaluationPlugin(loggers=[logger])
    assert logger.evaluator is second
    assert logger._train_bar is None and logger._pending == {}
    assert not [bar for bar in tqdm._instances if not bar.disable and bar.total == 3]


# -- CSVLogger and TensorboardLogger (issue 16) ------------------------------------------

def _logged_run(logger) -> np.ndarray:
    """A short real run (2 experiences, 1 epoch) with epoch and stream metrics, logged."""
    import torch

    from cltutor import SimpleMLP, SplitDigits
    from cltutor.strategies import Naive

    bm = SplitDigits(n_experiences=2, seed=0)
    model = SimpleMLP(num_classes=10, input_size=64)
    evaluator = EvaluationPlugin(accuracy_metrics(epoch=True, experience=True, stream=True),
                                 loggers=[logger])
    strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05), train_mb_size=64,
                     train_epochs=1, evaluator=evaluator, device="cpu", seed=0)
    for exp in bm.train_stream:
        strategy.train(exp)
        strategy.eval(bm.test_stream)
    logger.close()
    return evaluator.accuracy_matrix


def test_csv_logger_writes_every_value_once_in_avalanches_two_files(tmp_path):
    import pandas as pd

    from cltutor.evaluation import CSVLogger

    matrix = _logged_run(CSVLogger(tmp_path / "logs"))
    train = pd.read_csv(tmp_path / "logs" / "training_results.csv")
    evals = pd.read_csv(tmp_path / "logs" / "eval_results.csv")
    assert list(train.columns) == list(CSVLogger.COLUMNS) == list(evals.columns)
    assert train["metric"].unique().tolist() == ["Top1_Acc_Epoch"]
    assert train["trained_exps"].tolist() == [0, 1]  # one epoch in each experience
    assert (train["iteration"].diff().dropna() > 0).all()
    per_exp = evals[evals["metric"] == "Top1_Acc_Exp"]
    assert len(per_exp) == 4 and per_exp["stream"].eq("test").all()
    got = per_exp.pivot(index="trained_exps", columns="exp", values="value").to_numpy()
    np.testing.assert_allclose(got, matrix)  # row t: after t + 1 experiences
    assert evals[evals["metric"] == "Top1_Acc_Stream"]["name"].str.endswith("Task000").all()


def test_tensorboard_logger_writes_scalars_at_the_training_iteration(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from cltutor.evaluation import TensorboardLogger

    matrix = _logged_run(TensorboardLogger(tmp_path / "tb"))
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert "Top1_Acc_Stream/eval_phase/test_stream/Task000" in tags
    exp1 = events.Scalars("Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp001")
    assert [e.value for e in exp1] == pytest.approx(matrix[:, 1].tolist())
    assert exp1[0].step < exp1[1].step  # steps are training iterations so far


def test_tensorboard_logger_names_the_missing_package(monkeypatch, tmp_path):
    import sys

    from cltutor.evaluation import TensorboardLogger

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"TensorboardLogger needs the tensorboard package.*"
                                          r"pip install tensorboard"):
        TensorboardLogger(tmp_path / "tb")
    assert not (tmp_path / "tb").exists()
