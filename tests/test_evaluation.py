"""Tests of the accuracy-matrix metrics, EvaluationPlugin and the loggers.

The plugin is driven by a fake strategy (a SimpleNamespace) that fires the
callbacks in the documented order on the plugin and then on its loggers, calling
only those each says it overrides, as Naive does. Predictions are built so that a chosen number of
samples is right, so every expected value is hand-computed.
"""

from __future__ import annotations

import io
import math
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cltutor.callbacks import EVAL_CALLBACKS, TRAIN_CALLBACKS
from cltutor.data import ClassificationDataset, Experience, Stream
from cltutor.evaluation import (
    BaseLogger,
    EvaluationPlugin,
    InteractiveLogger,
    TextLogger,
    accuracy_metrics,
    bwt_metrics,
    default_evaluator,
    forgetting_metrics,
    forward_transfer_metrics,
    loss_metrics,
)
from cltutor.evaluation.metrics import (
    Tally,
    average_accuracy,
    average_forgetting,
    average_forward_transfer,
    backward_transfer,
    forgetting,
    forward_transfer,
    parse_metric_name,
    results_to_dataframe,
    seen_average_accuracy,
)

NAN = float("nan")
TOY = [[1.0, 0.0, 0.2], [0.8, 1.0, 0.0], [0.4, 0.5, 1.0]]  # reference section 7.3
MINE = [[0.9, 0.1, NAN, NAN], [0.6, 0.95, 0.2, NAN], [0.3, 0.5, 0.85, 0.1],
        [0.2, 0.4, 0.7, 0.8]]


# -- pure functions on hand-made matrices ---------------------------------------------
def test_toy_example_of_the_reference():
    assert forgetting(TOY, 1).tolist() == pytest.approx([0.2])
    assert forgetting(TOY).tolist() == pytest.approx([0.6, 0.5])
    assert average_forgetting(TOY) == pytest.approx(0.55)
    assert backward_transfer(TOY) == pytest.approx(-0.55)
    assert backward_transfer(TOY, 1) == pytest.approx(-0.2)
    assert average_accuracy(TOY) == pytest.approx((0.4 + 0.5 + 1.0) / 3)
    assert average_accuracy(TOY, 0) == pytest.approx(0.4)
    assert seen_average_accuracy(TOY, 1) == pytest.approx(0.9)
    assert seen_average_accuracy(TOY, 0) == pytest.approx(1.0)


def test_own_matrix_with_unmeasured_entries():
    assert forgetting(MINE).tolist() == pytest.approx([0.7, 0.55, 0.15])
    assert forgetting(MINE, 2).tolist() == pytest.approx([0.6, 0.45])
    assert average_forgetting(MINE) == pytest.approx(1.4 / 3)
    assert average_accuracy(MINE, 1) == pytest.approx((0.6 + 0.95 + 0.2) / 3)  # NaN skipped
    assert seen_average_accuracy(MINE, 1) == pytest.approx(0.775)
    assert seen_average_accuracy(MINE, -2) == pytest.approx(0.55)
    fwt = forward_transfer(MINE, [0.1, 0.25, 0.2, 0.3])
    assert math.isnan(fwt[0])
    assert fwt[1:].tolist() == pytest.approx([-0.15, 0.0, -0.2])
    assert average_forward_transfer(MINE, [0.1, 0.25, 0.2, 0.3]) == pytest.approx(-0.35 / 3)


def test_forgetting_is_avalanche_not_max_based():
    A = [[0.5, 0.0, 0.0], [0.9, 1.0, 0.0], [0.4, 0.5, 1.0]]
    assert forgetting(A)[0] == pytest.approx(0.1)  # A[0,0] - A[2,0]; max-based would be 0.5


def test_nothing_to_average_gives_nan():
    assert forgetting(TOY, 0).shape == (0,)
    assert math.isnan(average_forgetting(TOY, 0))
    assert math.isnan(average_accuracy([[NAN, NAN], [0.5, 0.5]], 0))
    assert math.isnan(average_forward_transfer(TOY, [NAN, NAN, NAN]))


def test_pure_functions_match_loop_definitions_on_random_matrices():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 7):
        A = rng.random((n, n))
        A_init = rng.random(n)
        for t in range(n):
            f = [A[k, k] - A[t, k] for k in range(t)]
            assert forgetting(A, t).tolist() == pytest.approx(f)
            bwt = sum(A[t, k] - A[k, k] for k in range(t)) / t if t else NAN
            assert backward_transfer(A, t) == pytest.approx(bwt, nan_ok=True)
            assert average_accuracy(A, t) == pytest.approx(sum(A[t]) / n)
            assert seen_average_accuracy(A, t) == pytest.approx(sum(A[t, : t + 1]) / (t + 1))
        fwt = [A[k - 1, k] - A_init[k] for k in range(1, n)]
        assert forward_transfer(A, A_init)[1:].tolist() == pytest.approx(fwt)


@pytest.mark.parametrize(
    ("A", "match"),
    [
        ([[1.0, 0.5, 0.2], [0.3, 0.4, 0.1]], r"square 2-D array .* got shape \(2, 3\)"),
        ([0.5, 0.4], r"square 2-D array .* got shape \(2,\)"),
        ([[1.0, 0.5], [0.3]], "does not convert to a 2-D float array"),
        ([[87.5, 0.0], [50.0, 90.0]], r"accuracies in \[0, 1\], got 87.5. Divide percentages"),
    ],
)
def test_bad_matrix(A, match):
    with pytest.raises(ValueError, match=match):
        forgetting(A)


def test_bad_row_and_init():
    with pytest.raises(ValueError, match=r"t must be in \[-3, 3\) for a 3x3 accuracy matrix"):
        average_accuracy(TOY, 3)
    with pytest.raises(TypeError, match="t must be an int row index, got 1.0"):
        forgetting(TOY, 1.0)
    with pytest.raises(ValueError, match=r"A_init must hold one accuracy per test experience, "
                                         r"shape \(3,\), got shape \(2,\)"):
        forward_transfer(TOY, [0.1, 0.2])


def test_tally_sums_with_one_sync():
    tally = Tally()
    tally.add(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]), torch.tensor([0.5]))
    tally.add(torch.tensor([1, 1]), torch.tensor([1, 0]), torch.tensor(0.25))  # labels, not logits
    assert tally.totals() == (2.0, pytest.approx(1.5), 4)
    assert Tally().totals()[2] == 0


def test_tally_folds_in_chunks_to_the_same_sums():
    gen = torch.Generator().manual_seed(0)
    outs = [torch.randn(32, 10, generator=gen) for _ in range(120)]  # 38,400 values: 2 folds
    ys = [torch.randint(10, (32,), generator=gen) for _ in range(120)]
    losses = [torch.rand((), generator=gen) for _ in range(120)]
    tally = Tally()
    for o, y, loss in zip(outs, ys, losses, strict=True):
        tally.add(o, y, loss)
    # a fold every 52 minibatches (52 x 320 values >= Tally.CHUNK_ELEMENTS = 16384)
    assert tally.n == 2 * 52 * 32 and len(tally.outputs) == 120 - 2 * 52
    correct = sum(int((o.argmax(1) == y).sum()) for o, y in zip(outs, ys, strict=True))
    c, loss_sum, n = tally.totals()
    assert (c, n) == (correct, 3840)
    assert loss_sum == pytest.approx(sum(32 * float(loss) for loss in losses))


def test_tally_with_changing_widths_and_no_loss():
    tally = Tally()
    tally.add(torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), torch.tensor([1, 2]), None)
    tally.add(torch.tensor([[0.0, 0.0, 0.0, 0.0, 9.0]]), torch.tensor([4]), torch.tensor(1.0))
    tally.add(torch.tensor([3, 3]), torch.tensor([3, 0]), torch.tensor(1.0))  # labels
    correct, loss_sum, n = tally.totals()
    assert (correct, n) == (3.0, 5) and math.isnan(loss_sum)  # one minibatch had no loss


# -- metric names ------------------------------------------------------------------------
def test_parse_metric_name():
    assert parse_metric_name("StreamForgetting/eval_phase/test_stream") == {
        "metric": "StreamForgetting", "phase": "eval", "stream": "test", "task": None,
        "exp": None}
    assert parse_metric_name("Loss_Epoch/train_phase/train_stream/Task002")["task"] == 2


def test_metric_selections_and_their_errors():
    assert [str(m) for m in accuracy_metrics(minibatch=True, epoch=True, experience=True,
                                             stream=True)] == [
        "Top1_Acc_MB", "Top1_Acc_Epoch", "Top1_Acc_Exp", "Top1_Acc_Stream"]
    assert [str(m) for m in loss_metrics(epoch=True, stream=True)] == ["Loss_Epoch", "Loss_Stream"]
    assert [str(m) for m in forgetting_metrics(experience=True, stream=True)] == [
        "ExperienceForgetting", "StreamForgetting"]
    assert accuracy_metrics() == []
    with pytest.raises(TypeError, match=r"accuracy_metrics got unknown option\(s\) "
                                        r"\['epoch_running'\]; choose from minibatch"):
        accuracy_metrics(epoch_running=True)
    with pytest.raises(TypeError, match="stream must be True or False, got 'yes'"):
        forgetting_metrics(stream="yes")
    with pytest.raises(TypeError, match="metrics must come from accuracy_metrics.*got 'acc'"):
        EvaluationPlugin("acc")
    with pytest.raises(TypeError, match="loggers must be BaseLogger instances, got object"):
        EvaluationPlugin(loggers=[object()])
    with pytest.raises(ValueError, match="mininterval must be a finite number >= 0, got -1"):
        InteractiveLogger(mininterval=-1)


# -- a fake strategy firing the callbacks ----------------------------------------------------
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


def test_matrix_forgetting_and_pattern_weighted_stream_accuracy():
    plugin = EvaluationPlugin(accuracy_metrics(experience=True, stream=True),
                              forgetting_metrics(experience=True, stream=True),
                              bwt_metrics(stream=True))
    results = toy_run(plugin)
    np.testing.assert_allclose(plugin.accuracy_matrix, TOY)
    assert np.isnan(plugin.init_accuracy).all()
    last = results[-1]
    # (4 + 10 + 30) / 60 samples, not the plain mean (0.4 + 0.5 + 1) / 3 of the row
    assert last["Top1_Acc_Stream/eval_phase/test_stream/Task000"] == pytest.approx(44 / 60)
    assert results[0]["Top1_Acc_Stream/eval_phase/test_stream/Task000"] == pytest.approx(16 / 60)
    assert last["Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp001"] == pytest.approx(0.5)
    forget = {k: v for k, v in last.items() if k.startswith("ExperienceForgetting")}
    assert forget == {
        "ExperienceForgetting/eval_phase/test_stream/Task000/Exp000": pytest.approx(0.6),
        "ExperienceForgetting/eval_phase/test_stream/Task000/Exp001": pytest.approx(0.5)}
    assert last["StreamForgetting/eval_phase/test_stream"] == pytest.approx(0.55)
    assert last["StreamBWT/eval_phase/test_stream"] == pytest.approx(-0.55)
    assert results[1]["StreamForgetting/eval_phase/test_stream"] == pytest.approx(0.2)
    assert not any(k.startswith("StreamForgetting") for k in results[0])  # nothing forgotten yet
    xs, values = plugin.get_all_metrics()["StreamForgetting/eval_phase/test_stream"]
    assert xs == [6, 9] and values == pytest.approx([0.2, 0.55])  # after 2 and 3 x 3 iterations


def test_rows_follow_experiences_in_a_single_train_call():
    plugin = EvaluationPlugin(accuracy_metrics(stream=True),
                              forward_transfer_metrics(experience=True, stream=True))
    s = new_strategy(eval_every=0)
    train, test = make_stream("train", [12, 12, 12]), make_stream("test", [10, 20, 30])
    run_train(plugin, s, train, one_perfect_epoch,
              before=lambda: run_eval(plugin, s, test, [1, 4, 3]),  # init: .1, .2, .1
              after_exp=lambda e: run_eval(plugin, s, test, TOY_HITS[e.current_experience]))
    np.testing.assert_allclose(plugin.accuracy_matrix, TOY)
    np.testing.assert_allclose(plugin.init_accuracy, [0.1, 0.2, 0.1])
    last = plugin.get_last_metrics()
    # FWT_1 = A[0,1] - init[1] = 0 - .2; FWT_2 = A[1,2] - init[2] = 0 - .1
    assert last["ExperienceForwardTransfer/eval_phase/test_stream/Task000/Exp001"] == \
        pytest.approx(-0.2)
    assert last["ExperienceForwardTransfer/eval_phase/test_stream/Task000/Exp002"] == \
        pytest.approx(-0.1)
    assert last["StreamForwardTransfer/eval_phase/test_stream"] == pytest.approx(-0.15)
    df = plugin.to_dataframe()
    assert list(df.columns) == ["stream", "trained_exp", "eval_exp", "accuracy", "loss",
                                "n_samples", "iteration"]
    assert len(df) == 12 and sorted(set(df.trained_exp)) == [-1, 0, 1, 2]
    row = df[(df.trained_exp == 2) & (df.eval_exp == 1)].iloc[0]
    assert (row.accuracy, row.n_samples, row.loss, row.iteration) == (0.5, 20, 1.0, 9)


def test_forward_transfer_needs_an_init_eval():
    plugin = EvaluationPlugin(forward_transfer_metrics(stream=True))
    s = new_strategy()
    exp = make_stream("train", [4])[0]
    with pytest.raises(ValueError, match="forward_transfer_metrics needs the accuracy of the "
                                         "untrained model, but eval_every=-1"):
        run_train(plugin, s, [exp], one_perfect_epoch)
    run_eval(plugin, s, make_stream("test", [4]), [2])  # an eval first makes it fine
    run_train(plugin, s, [exp], one_perfect_epoch)
    np.testing.assert_allclose(plugin.init_accuracy, [0.5])


def test_epoch_and_minibatch_training_metrics():
    plugin = EvaluationPlugin(accuracy_metrics(minibatch=True, epoch=True),
                              loss_metrics(minibatch=True, epoch=True))
    s = new_strategy()
    exp = make_stream("train", [10])[0]

    def epochs(exp):  # sizes 4, 4, 2 with 4, 2, 1 right; losses 1, 2, 4
        b = batches(exp, 10, 4)
        b[1] = (F.one_hot((b[1][1] + torch.tensor([0, 0, 1, 1])) % 4, 4).float(), b[1][1],
                torch.tensor([2.0]))
        b[2] = (F.one_hot((b[2][1] + torch.tensor([0, 1])) % 4, 4).float(), b[2][1],
                torch.tensor(4.0))
        return [b]

    run_train(plugin, s, [exp], epochs)
    scope = "train_phase/train_stream/Task000"
    last = plugin.get_last_metrics()
    assert last[f"Top1_Acc_Epoch/{scope}"] == pytest.approx(0.7)
    assert last[f"Loss_Epoch/{scope}"] == pytest.approx((4 * 1 + 4 * 2 + 2 * 4) / 10)
    xs, accs = plugin.get_all_metrics()[f"Top1_Acc_MB/{scope}"]
    assert xs == [0, 1, 2] and accs == pytest.approx([1.0, 0.5, 0.5])
    assert plugin.get_all_metrics()[f"Loss_MB/{scope}"][1] == pytest.approx([1.0, 2.0, 4.0])


def test_callbacks_reach_only_what_is_needed():
    matrix_only = EvaluationPlugin().overridden_callbacks()
    assert matrix_only == ["before_training_exp", "before_eval", "before_eval_exp",
                           "after_eval_iteration", "after_eval_exp", "after_eval"]
    assert "after_training_iteration" in default_evaluator().overridden_callbacks()
    # a logger's callbacks are the strategy's to dispatch, not the evaluator's to pass on
    assert EvaluationPlugin(loggers=[Recorder()]).overridden_callbacks() == matrix_only


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


def test_matrices_are_kept_per_stream_and_task_labels_name_experiences():
    plugin = EvaluationPlugin(accuracy_metrics(experience=True, stream=True))
    s = new_strategy()
    train = make_stream("train", [4, 4], tasks=[0, 1])
    run_train(plugin, s, [train[0]], one_perfect_epoch)
    run_eval(plugin, s, train, [4, 1])
    test = make_stream("test", [4, 4], tasks=[0, 1])
    last = run_eval(plugin, s, test, [2, 0])
    assert last["Top1_Acc_Exp/eval_phase/test_stream/Task001/Exp001"] == 0.0
    assert last["Top1_Acc_Stream/eval_phase/test_stream"] == 0.25  # two tasks: no task part
    assert plugin.evaluated_streams == ["train", "test"]
    np.testing.assert_allclose(plugin.accuracy_matrix, [[0.5, 0.0], [NAN, NAN]])
    np.testing.assert_allclose(plugin.get_accuracy_matrix("train"), [[1.0, 0.25], [NAN, NAN]])
    with pytest.raises(ValueError, match=r"stream must be one of the evaluated streams "
                                         r"\['train', 'test'\], got 'valid'"):
        plugin.get_accuracy_matrix("valid")


def test_results_to_dataframe():
    plugin = EvaluationPlugin(accuracy_metrics(experience=True, stream=True))
    df = results_to_dataframe(toy_run(plugin))
    exp_rows = df[df.metric == "Top1_Acc_Exp"]
    table = exp_rows.pivot(index="step", columns="exp", values="value").to_numpy()
    np.testing.assert_allclose(table, TOY)  # the tutorial's results list is the matrix
    assert set(df.stream) == {"test"} and set(df.phase) == {"eval"}
    with pytest.raises(TypeError, match="results must be a dict of metric values or a list"):
        results_to_dataframe(3)


# -- end to end with Naive ----------------------------------------------------------------
def test_naive_fills_the_same_matrix_either_way():
    from cltutor import SimpleMLP, SplitDigits
    from cltutor.strategies.base import Naive

    bm = SplitDigits(n_experiences=5, seed=0)

    def run(loop: bool):
        torch.manual_seed(0)
        model = SimpleMLP(num_classes=10, input_size=64, hidden_size=32)
        evaluator = EvaluationPlugin(accuracy_metrics(experience=True, stream=True),
                                     forgetting_metrics(stream=True))
        strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.1), train_mb_size=32,
                         evaluator=evaluator, device="cpu", seed=0,
                         eval_every=-1 if loop else 0)
        if loop:
            for exp in bm.train_stream:
                strategy.train(exp)
                strategy.eval(bm.test_stream)
        else:
            strategy.train(bm.train_stream, eval_streams=[bm.test_stream])
        return model, evaluator

    model, ev_loop = run(loop=True)
    _, ev_once = run(loop=False)
    A = ev_loop.accuracy_matrix
    assert A.shape == (5, 5) and not np.isnan(A).any()
    np.testing.assert_array_equal(ev_once.accuracy_matrix, A)  # rows by experience, not call
    assert not np.isnan(ev_once.init_accuracy).any()
    model.eval()
    with torch.no_grad():  # oracle: the last row straight from the model
        accs = [(model(e.dataset.x).argmax(1) == e.dataset.y).double().mean().item()
                for e in bm.test_stream]
        sizes = [len(e.dataset) for e in bm.test_stream]
    np.testing.assert_allclose(A[-1], accs)
    last = ev_loop.get_last_metrics()
    assert last["Top1_Acc_Stream/eval_phase/test_stream/Task000"] == pytest.approx(
        np.dot(accs, sizes) / sum(sizes))
    assert last["StreamForgetting/eval_phase/test_stream"] == pytest.approx(
        average_forgetting(A))


def test_naive_with_default_and_no_evaluator(capsys):
    from cltutor import SimpleMLP, SplitDigits
    from cltutor.strategies.base import Naive

    bm = SplitDigits(n_experiences=5, seed=0)
    for evaluator, expected in (("default", "Loss_Stream/eval_phase/test_stream/Task000"),
                                (None, None)):
        model = SimpleMLP(num_classes=10, input_size=64, hidden_size=32)
        strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.1), train_mb_size=64,
                         evaluator=evaluator, device="cpu")
        train_res = strategy.train(bm.train_stream[0])
        res = strategy.eval(bm.test_stream[:2])
        if expected is None:
            assert res == {} and strategy.evaluator.accuracy_matrix.shape == (2, 2)
        else:
            assert "Top1_Acc_Epoch/train_phase/train_stream/Task000" in train_res
            assert expected in res
    assert "Top1_Acc_Exp 0." in capsys.readouterr().out


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
