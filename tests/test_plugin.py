"""EvaluationPlugin: the accuracy matrix, the metrics it derives, and Naive end to end.

The plugin is driven by the fake strategy of ``evaluation_fakes`` (the callbacks
in the documented order, as Naive fires them), with hand-computed expectations.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from evaluation_fakes import (
    NAN,
    TOY,
    TOY_HITS,
    Recorder,
    batches,
    make_stream,
    new_strategy,
    one_perfect_epoch,
    run_eval,
    run_train,
    toy_run,
)

from cltutor.evaluation import (
    EvaluationPlugin,
    accuracy_metrics,
    bwt_metrics,
    default_evaluator,
    forgetting_metrics,
    forward_transfer_metrics,
    loss_metrics,
)
from cltutor.evaluation.metrics import average_forgetting


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


def test_bad_metrics_and_loggers():
    with pytest.raises(TypeError, match="metrics must come from accuracy_metrics.*got 'acc'"):
        EvaluationPlugin("acc")
    with pytest.raises(TypeError, match="loggers must be BaseLogger instances, got object"):
        EvaluationPlugin(loggers=[object()])


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



def test_an_evaluator_given_to_a_second_strategy_starts_clean():
    from cltutor import SimpleMLP, SplitDigits, TextLogger
    from cltutor.strategies.base import Naive

    bm = SplitDigits(n_experiences=5, seed=0)
    text = TextLogger(io.StringIO())
    evaluator = EvaluationPlugin(accuracy_metrics(stream=True), loggers=[text])

    def run(n_exps, evaluator=evaluator):
        model = SimpleMLP(num_classes=10, input_size=64, hidden_size=16, drop_rate=0.0)
        strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.1), train_mb_size=32,
                         evaluator=evaluator, device="cpu", seed=0)
        for exp in bm.train_stream[:n_exps]:
            strategy.train(exp)
            strategy.eval(bm.test_stream)
        return strategy

    def measured_rows(ev):
        return int((~np.isnan(ev.accuracy_matrix)).any(axis=1).sum())

    torch.manual_seed(0)
    first = run(3)
    assert measured_rows(evaluator) == 3  # one strategy: rows accumulate
    text._pending = {"left over": 1.0}
    torch.manual_seed(1)
    run(1)  # a cell run again: the same evaluator, a new strategy
    fresh = EvaluationPlugin(accuracy_metrics(stream=True))
    torch.manual_seed(1)
    run(1, fresh)
    assert measured_rows(evaluator) == 1
    np.testing.assert_array_equal(evaluator.accuracy_matrix, fresh.accuracy_matrix)
    assert evaluator.get_all_metrics() == fresh.get_all_metrics()
    assert "left over" not in text._pending
    assert first.evaluator is evaluator
