"""Naive and its training loop: callback order, reproducibility, forgetting, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cltutor import (
    BaseLogger,
    EvaluationPlugin,
    Naive,
    SimpleMLP,
    SplitDigits,
    SupervisedPlugin,
    accuracy_metrics,
)
from cltutor.callbacks import CALLBACKS
from cltutor.data import ClassificationDataset, Experience, Stream
from cltutor.strategies.arguments import resolve_device


class Recorder(SupervisedPlugin):
    """Logs every callback it receives, with the strategy state worth checking."""

    def __init__(self):
        self.events = []


for _name in CALLBACKS:
    setattr(Recorder, _name, (lambda n: lambda self, strategy, **kw: self.events.append(n))(_name))


def tiny_stream(n_exps=2, n=20, seed=0, name="train"):
    g = torch.Generator().manual_seed(seed)
    exps = [
        Experience(ClassificationDataset(torch.rand(n, 1, 8, 8, generator=g),
                                         torch.randint(2 * k, 2 * k + 2, (n,), generator=g)), k)
        for k in range(n_exps)
    ]
    return Stream(name, exps)


def tiny_strategy(plugins=(), evaluator=None, **kwargs):
    torch.manual_seed(0)
    model = SimpleMLP(num_classes=4, input_size=64, hidden_size=16, drop_rate=0.0)
    kwargs = {"train_mb_size": 10, "device": "cpu", **kwargs}
    return Naive(model, torch.optim.SGD(model.parameters(), lr=0.1), plugins=list(plugins),
                 evaluator=evaluator, **kwargs)


def expected_train_events(n_exps, n_epochs, n_batches):
    iteration = ["before_training_iteration", "before_forward", "after_forward",
                 "before_backward", "after_backward", "before_update", "after_update",
                 "after_training_iteration"]
    events = ["before_training"]
    for _ in range(n_exps):
        events += ["before_train_dataset_adaptation", "after_train_dataset_adaptation",
                   "before_training_exp"]
        for _ in range(n_epochs):
            events += ["before_training_epoch", *iteration * n_batches, "after_training_epoch"]
        events.append("after_training_exp")
    return events + ["after_training"]


def expected_eval_events(n_exps, n_batches):
    iteration = ["before_eval_iteration", "before_eval_forward", "after_eval_forward",
                 "after_eval_iteration"]
    events = ["before_eval"]
    for _ in range(n_exps):
        events += ["before_eval_dataset_adaptation", "after_eval_dataset_adaptation",
                   "before_eval_exp", *iteration * n_batches, "after_eval_exp"]
    return events + ["after_eval"]


def test_recording_plugin_sees_every_callback_in_order():
    rec = Recorder()
    strategy = tiny_strategy([rec], train_epochs=2)
    stream = tiny_stream(n_exps=2, n=20)  # 2 batches of 10 per epoch
    strategy.train(stream)
    strategy.eval(stream)
    expected = expected_train_events(2, 2, 2) + expected_eval_events(2, 2)
    assert rec.events == expected
    assert set(rec.events) == set(CALLBACKS)  # every seed-001 callback was seen


def test_plugins_run_before_evaluator_and_clock_reads_last():
    seen = []

    class ReadClock(SupervisedPlugin):
        def after_training_iteration(self, strategy, **kw):
            seen.append(strategy.clock.train_iterations)

    strategy = tiny_strategy([ReadClock()])
    strategy.train(tiny_stream(1, n=30))
    assert seen == [0, 1, 2]  # the clock has not counted the iteration yet
    assert strategy.clock.train_iterations == 3
    assert strategy.clock.train_exp_counter == 1


def test_only_overriding_plugins_are_dispatched():
    class OnlyUpdate(SupervisedPlugin):
        def after_update(self, strategy, **kw):
            pass

    strategy = tiny_strategy([OnlyUpdate()])
    strategy.train(tiny_stream(1))
    owners = {name: [cb.__self__ for cb in cbs] for name, cbs in strategy._dispatch.items()}
    assert any(isinstance(p, OnlyUpdate) for p in owners["after_update"])
    assert not any(isinstance(p, OnlyUpdate) for p in owners["before_forward"])


class RecordingLogger(BaseLogger):
    """A logger overriding every callback; notes what the evaluator had emitted by then."""

    def __init__(self):
        self.events = []
        self.emitted_before = {}  # event -> metric names already emitted when it ran

    def record(self, name):
        self.events.append(name)
        self.emitted_before.setdefault(name, set(self.evaluator.get_last_metrics()))


for _name in CALLBACKS:
    setattr(RecordingLogger, _name,
            (lambda n: lambda self, strategy, **kw: self.record(n))(_name))


def test_naive_calls_each_logger_callback_once_right_after_the_evaluator():
    logger = RecordingLogger()
    evaluator = EvaluationPlugin(accuracy_metrics(epoch=True, experience=True),
                                 loggers=[logger])
    rec = Recorder()
    strategy = tiny_strategy([rec], evaluator=evaluator, train_epochs=2)
    # the evaluator generates no per-callback forwarding: it defines only its metric work
    assert [n for n in CALLBACKS if n in vars(EvaluationPlugin)] == [
        "before_training", "before_training_exp", "before_training_epoch",
        "after_training_iteration", "after_training_epoch", "before_eval", "before_eval_exp",
        "after_eval_iteration", "after_eval_exp", "after_eval"]
    assert "before_forward" not in evaluator.overridden_callbacks()
    stream = tiny_stream(n_exps=2, n=20)
    strategy.train(stream)
    strategy.eval(stream)
    assert logger.events == rec.events  # every event, exactly once each time it fires
    for name, callbacks in strategy._dispatch.items():  # user plugin, evaluator, logger, clock
        owners = [cb.__self__ for cb in callbacks]
        expected = [rec, *([evaluator] if name in evaluator.overridden_callbacks() else []),
                    logger, *([strategy.clock] if name in strategy.clock.overridden_callbacks()
                              else [])]
        assert owners == expected, name
    # the evaluator's own callback of the same event ran first: its values are in
    assert "Top1_Acc_Epoch/train_phase/train_stream/Task000" in \
        logger.emitted_before["after_training_epoch"]
    assert "Top1_Acc_Exp/eval_phase/train_stream/Task000/Exp000" in \
        logger.emitted_before["after_eval_exp"]


def test_no_evaluator_and_an_empty_one_cost_no_per_iteration_callback():
    per_iteration = ["before_training_iteration", "before_forward", "after_forward",
                     "before_backward", "after_backward", "before_update", "after_update",
                     "after_training_iteration"]
    for evaluator in (None, EvaluationPlugin()):
        strategy = tiny_strategy(evaluator=evaluator)
        strategy.train(tiny_stream(1))
        owners = {name: [cb.__self__ for cb in strategy._dispatch[name]] for name in per_iteration}
        assert owners == {name: [strategy.clock] if name == "after_training_iteration" else []
                          for name in per_iteration}


def test_model_mode_after_train_and_eval():
    strategy = tiny_strategy()
    stream = tiny_stream(1)
    strategy.train(stream)
    assert strategy.model.training  # stays in train mode, as Avalanche
    strategy.model.eval()
    strategy.eval(stream)
    assert not strategy.model.training  # eval() restores the mode it found


@pytest.mark.parametrize("eval_every, n_evals", [(-1, 0), (0, 4), (1, 8), (2, 6)])
def test_eval_every_counts_as_avalanche(eval_every, n_evals):
    """Reference 6.4: 3 epochs x 2 train() calls give 4, 8 and 6 evaluations."""
    rec = Recorder()
    strategy = tiny_strategy([rec], train_epochs=3, eval_every=eval_every)
    stream = tiny_stream(1)
    strategy.train(stream)
    strategy.train(stream)
    assert rec.events.count("before_eval") == n_evals
    assert rec.events.count("after_training_epoch") == 6  # training went on


def test_stop_training_ends_the_experience_early():
    class StopAfterTwo(SupervisedPlugin):
        def after_training_iteration(self, strategy, **kw):
            if strategy.clock.train_exp_iterations == 1:
                strategy.stop_training()

    strategy = tiny_strategy([StopAfterTwo()], train_epochs=5)
    strategy.train(tiny_stream(1, n=50))
    assert strategy.clock.train_exp_iterations == 2


def accuracy_matrix_of_run(seed):
    torch.manual_seed(seed)
    bm = SplitDigits(n_experiences=5, seed=0)
    model = SimpleMLP(num_classes=10, input_size=64, hidden_size=64)
    evaluator = EvaluationPlugin(accuracy_metrics(experience=True))
    strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                     train_mb_size=32, train_epochs=1, device="cpu", evaluator=evaluator)
    for exp in bm.train_stream[:2]:
        strategy.train(exp)
        strategy.eval(bm.test_stream[:2])
    return evaluator.accuracy_matrix


def test_same_seed_same_matrix_bit_for_bit_and_other_seed_differs():
    a, b, c = accuracy_matrix_of_run(1), accuracy_matrix_of_run(1), accuracy_matrix_of_run(2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_strategy_seed_fixes_the_batches_without_global_seed():
    weights = []
    for global_seed in (0, 1):
        strategy = tiny_strategy(seed=7)  # same initial weights (seeded in tiny_strategy)
        torch.manual_seed(global_seed)  # would change the shuffling without seed=7
        strategy.train(tiny_stream(1, n=40))
        weights.append(torch.cat([p.flatten() for p in strategy.model.parameters()]))
    assert torch.equal(*weights)


def test_naive_learns_each_experience_then_forgets_split_digits():
    torch.manual_seed(0)
    bm = SplitDigits(n_experiences=5, seed=0)
    model = SimpleMLP(num_classes=10, input_size=64, hidden_size=256, drop_rate=0.0)
    evaluator = EvaluationPlugin(accuracy_metrics(experience=True, stream=True))
    strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                     train_mb_size=32, train_epochs=5, eval_mb_size=256, device="cpu",
                     evaluator=evaluator, seed=0)
    for exp in bm.train_stream:  # the usual loop, SplitDigits for SplitMNIST
        strategy.train(exp)
        strategy.eval(bm.test_stream)
    A = evaluator.accuracy_matrix
    assert A.shape == (5, 5)
    assert np.all(np.diag(A) > 0.9), np.diag(A)
    assert A[-1].mean() < 0.3
    assert A[-1, 0] < 0.1  # the first experience collapsed


def test_seed_004_tutorial_loop_runs_as_written():
    from cltutor import InteractiveLogger

    scenario = SplitDigits(5)
    model = SimpleMLP(num_classes=scenario.n_classes)
    interactive_logger = InteractiveLogger()
    eval_plugin = EvaluationPlugin(accuracy_metrics(experience=True, stream=True),
                                   loggers=[interactive_logger])
    cl_strategy = Naive(model, torch.optim.Adam(model.parameters(), lr=0.001),
                        train_mb_size=100, train_epochs=1, eval_mb_size=100,
                        evaluator=eval_plugin)
    results = []
    for experience in scenario.train_stream:
        cl_strategy.train(experience)
        results.append(cl_strategy.eval(scenario.test_stream))
    assert len(results) == 5
    stream_acc = results[-1]["Top1_Acc_Stream/eval_phase/test_stream/Task000"]
    exp_accs = [results[-1][f"Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp{k:03d}"]
                for k in range(5)]
    assert stream_acc == pytest.approx(np.average(exp_accs, weights=[
        len(e.dataset) for e in scenario.test_stream]))


def test_device_auto_resolves():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert tiny_strategy(device="auto").device.type == expected


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"train_mb_size": 0}, ValueError, r"train_mb_size must be a positive int, got 0"),
        ({"train_mb_size": -4}, ValueError, r"train_mb_size must be a positive int, got -4"),
        ({"train_mb_size": 2.5}, ValueError, r"train_mb_size must be a positive int, got 2.5"),
        ({"train_epochs": 0}, ValueError, r"train_epochs must be a positive int, got 0"),
        ({"eval_mb_size": -1}, ValueError, r"eval_mb_size must be a positive int"),
        ({"device": "gpu"}, ValueError, r"device must be 'auto', 'cpu', 'cuda'.*got 'gpu'"),
        ({"device": 3}, TypeError, r"device must be a string or torch.device"),
        ({"eval_every": -2}, ValueError, r"eval_every must be an int >= -1, got -2"),
        ({"evaluator": "verbose"}, TypeError, r"evaluator must be an EvaluationPlugin"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        tiny_strategy(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a CPU-only machine")
def test_cuda_without_gpu_names_the_fix():
    with pytest.raises(ValueError, match=r"device='cuda' asks for a GPU.*device='auto'"):
        tiny_strategy(device="cuda")


def test_plugin_that_is_not_a_supervised_plugin():
    class NotAPlugin:
        def after_update(self, strategy, **kw):
            pass

    with pytest.raises(TypeError, match=r"plugins must be SupervisedPlugin instances, got "
                                        r"NotAPlugin"):
        tiny_strategy([NotAPlugin()])


def test_model_and_optimizer_types():
    model = SimpleMLP(input_size=64)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got function"):
        Naive(lambda x: x, opt)
    with pytest.raises(TypeError, match=r"optimizer must be a torch.optim.Optimizer, got list"):
        Naive(model, [0.1])


def test_empty_stream_and_wrong_types_to_train_and_eval():
    strategy = tiny_strategy()
    with pytest.raises(ValueError, match=r"experiences is empty"):
        strategy.eval([])
    with pytest.raises(ValueError, match=r"experiences is empty"):
        strategy.train(Stream("train"))
    with pytest.raises(TypeError, match=r"experiences must hold Experience objects, got int"):
        strategy.eval([1, 2])
    with pytest.raises(TypeError, match=r"experiences must be an Experience or a list"):
        strategy.train(42)


def test_loss_penalty_added_in_before_backward_is_used():
    class DoubleLoss(SupervisedPlugin):
        def before_backward(self, strategy, **kw):
            strategy.loss = strategy.loss * 0.0  # no gradient: weights must not move

    strategy = tiny_strategy([DoubleLoss()])
    before = [p.detach().clone() for p in strategy.model.parameters()]
    strategy.train(tiny_stream(1))
    assert all(torch.equal(a, b) for a, b in zip(before, strategy.model.parameters(), strict=True))


def test_custom_criterion_is_used():
    calls = []

    def criterion(out, y):
        calls.append(len(y))
        return nn.functional.cross_entropy(out, y)

    strategy = tiny_strategy(criterion=criterion)
    strategy.train(tiny_stream(1, n=25))
    assert calls == [10, 10, 5]
