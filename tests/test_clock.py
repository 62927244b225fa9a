"""The bookkeeping around Naive's loop, for every strategy: faults that leave nothing
behind (bars closed, modes restored, the strategy usable), nested ``eval()`` from any
callback, and ``seed=`` alone reproducing a run without touching torch's generators."""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest
import torch
from tqdm import tqdm

from cltutor import (
    AGEM,
    AR1,
    DER,
    EvaluationPlugin,
    GDumb,
    ICaRL,
    InteractiveLogger,
    Naive,
    OnlineReplay,
    Replay,
    SimpleMLP,
    SplitDigits,
    SupervisedPlugin,
    accuracy_metrics,
)
from cltutor.data import Experience, Stream
from cltutor.strategies.clock import Clock, seeded_global_rng

STRATEGIES = ["naive", "replay", "agem", "ar1", "gdumb", "der", "online", "icarl"]


@pytest.fixture(scope="module")
def bm():
    return SplitDigits(n_experiences=5, seed=0)


def small_stream(bm, split="train", n_exps=2, rows=64):
    """The first experiences of ``bm``, cut to ``rows`` rows each (a fast run)."""
    stream = getattr(bm, f"{split}_stream")
    return Stream(stream.name, [
        Experience(exp.dataset.subset(list(range(rows))), exp.current_experience)
        for exp in stream[:n_exps]])


_MODEL = None


def initial_model():
    """One SimpleMLP with dropout (drop_rate 0.5, the default), copied for every run so
    each run starts from the same weights without seeding torch here."""
    global _MODEL
    if _MODEL is None:
        with seeded_global_rng(0, torch.device("cpu")):
            _MODEL = SimpleMLP(num_classes=10, input_size=64, hidden_size=32)
    return copy.deepcopy(_MODEL)


def build(name, evaluator=None, plugins=(), seed=3):
    common = dict(train_mb_size=16, device="cpu", evaluator=evaluator, plugins=list(plugins),
                  seed=seed)
    if name == "ar1":  # builds its own network from the first experience, from the seed
        return AR1(lr=0.01, rm_sz=32, num_classes=10, **common)
    model = initial_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if name == "naive":
        return Naive(model, optimizer, **common)
    if name == "replay":
        return Replay(model, optimizer, mem_size=40, **common)
    if name == "gdumb":
        return GDumb(model, optimizer, mem_size=40, **common)
    if name == "der":
        return DER(model, optimizer, mem_size=40, **common)
    if name == "online":
        return OnlineReplay(model, optimizer, mem_size=40, **common)
    if name == "icarl":
        return ICaRL(model.features, model.classifier, optimizer, memory_size=40, **common)
    return AGEM(model, optimizer, patterns_per_experience=20, sample_size=16, **common)


def evaluator_with_bars():
    return EvaluationPlugin(accuracy_metrics(epoch=True, experience=True, stream=True),
                            loggers=[InteractiveLogger(file=io.StringIO())])


def weights(strategy):
    return torch.cat([p.detach().flatten() for p in strategy.model.parameters()])


class Raise(SupervisedPlugin):
    """Raises ``error`` the first time ``event`` fires."""

    def __init__(self, event, error):
        self.error, self.armed = error, True
        setattr(self, event, self._raise)

    def _raise(self, strategy, **kwargs):
        if self.armed:
            self.armed = False
            raise self.error

    def overridden_callbacks(self):
        return [name for name in vars(self) if name.startswith(("before_", "after_"))]


class NestedEval(SupervisedPlugin):
    """Calls ``strategy.eval(stream)`` from the given training events."""

    def __init__(self, stream, events):
        self.stream, self.calls = stream, 0
        for event in events:
            setattr(self, event, self._eval)

    def _eval(self, strategy, **kwargs):
        self.calls += 1
        strategy.eval(self.stream)

    def overridden_callbacks(self):
        return [name for name in vars(self) if name.startswith(("before_", "after_"))]


@pytest.fixture
def open_bars():
    """Counts the tqdm bars opened during a test and still open; closes them after it."""
    before = set(tqdm._instances)
    yield lambda: len(set(tqdm._instances) - before)
    for bar in set(tqdm._instances) - before:
        bar.close()


# -- faults leave nothing behind ----------------------------------------------------------
@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()],
                         ids=["error", "ctrl-c"])
@pytest.mark.parametrize("event", ["before_forward", "after_backward", "after_training_exp",
                                   "after_eval_forward", "nested_eval"])
@pytest.mark.parametrize("name", STRATEGIES)
def test_a_fault_closes_bars_restores_modes_and_leaves_the_strategy_usable(
        bm, name, event, error, open_bars):
    train, test = small_stream(bm), small_stream(bm, "test")
    strategy = build(name, evaluator_with_bars())
    strategy.train(train[0])
    strategy.model.train()
    modes = [m.training for m in strategy.model.modules()]
    raiser = Raise("after_eval_forward" if event == "nested_eval" else event, error)
    strategy.plugins.insert(0, raiser)
    if event == "nested_eval":  # the fault happens inside an eval() called from training
        strategy.plugins.insert(1, NestedEval(test, ["before_training_iteration"]))
    with pytest.raises(type(error)):
        if event == "after_eval_forward":
            strategy.eval(test)
        else:
            strategy.train(train[1])
    assert open_bars() == 0
    assert [m.training for m in strategy.model.modules()] == modes
    assert strategy.is_training is False and strategy.mbatch is None
    del strategy.plugins[: 2 if event == "nested_eval" else 1]
    strategy.train(train[1])  # the strategy still trains and evaluates
    assert strategy.eval(test)["Top1_Acc_Stream/eval_phase/test_stream/Task000"] >= 0
    assert open_bars() == 0


def test_a_failing_clean_up_warns_and_the_first_error_is_the_one_raised(bm):
    class BadCleanUp(SupervisedPlugin):
        def on_exception(self, strategy, exception):
            raise ValueError("clean-up failed")

    strategy = build("naive", plugins=[Raise("before_forward", RuntimeError("first")),
                                       BadCleanUp()])
    with pytest.warns(RuntimeWarning, match=r"BadCleanUp.on_exception failed while cleaning up "
                                            r"after RuntimeError: ValueError\('clean-up failed'"):
        with pytest.raises(RuntimeError, match="first"):
            strategy.train(small_stream(bm)[0])


# -- nested eval() from any training callback ----------------------------------------------
NESTED_EVENTS = ["before_training_iteration", "before_forward", "after_forward",
                 "after_backward", "after_update", "after_training_epoch", "after_training_exp"]


@pytest.mark.parametrize("name", STRATEGIES)
def test_nested_eval_from_every_training_callback_changes_nothing(bm, name):
    train, test = small_stream(bm), small_stream(bm, "test")

    def run(nested):
        strategy = build(name, plugins=[NestedEval(test, NESTED_EVENTS)] if nested else [])
        strategy.train(train)
        if nested:
            assert strategy.plugins[0].calls > 20
        return weights(strategy)

    assert torch.equal(run(nested=False), run(nested=True))


# -- seed= alone reproduces a run ---------------------------------------------------------
def accuracy_matrix(bm, name, global_seed, seed=3):
    torch.manual_seed(global_seed)  # a different global state before each run
    before = torch.random.get_rng_state()
    evaluator = EvaluationPlugin(accuracy_metrics(experience=True))
    strategy = build(name, evaluator, seed=seed)
    test = small_stream(bm, "test", n_exps=3)
    for exp in small_stream(bm, n_exps=3):
        strategy.train(exp)
        strategy.eval(test)
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's generator untouched
    return evaluator.accuracy_matrix


@pytest.mark.parametrize("name", STRATEGIES)
def test_seed_alone_reproduces_the_accuracy_matrix_bit_for_bit(bm, name):
    first, second = accuracy_matrix(bm, name, 123), accuracy_matrix(bm, name, 456)
    assert first.shape == (3, 3) and not np.isnan(first).any()
    assert np.array_equal(first, second)
    assert not np.array_equal(first, accuracy_matrix(bm, name, 123, seed=4))  # seed matters


def test_dropout_draws_from_the_seeded_generator(bm):
    """Naive with dropout: without the seeded generators the two runs above would differ."""
    runs = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        strategy = build("naive", seed=None)
        strategy.train(small_stream(bm)[0])
        runs.append(weights(strategy))
    assert not torch.equal(*runs)  # seed=None: dropout follows the global generator


@pytest.mark.parametrize("name", STRATEGIES)
def test_train_on_a_stream_equals_train_on_each_experience(bm, name):
    train = small_stream(bm, n_exps=3)
    once, each = build(name), build(name)
    once.train(train)
    for exp in train:
        each.train(exp)
    assert torch.equal(weights(once), weights(each))


def test_clock_counts_iterations_epochs_and_experiences(bm):
    strategy = build("naive")
    strategy.train_epochs = 2
    strategy.train(small_stream(bm))  # 2 experiences x 2 epochs x 4 minibatches of 16
    clock = strategy.clock
    assert isinstance(clock, Clock)
    assert (clock.train_iterations, clock.train_exp_counter, clock.train_exp_epochs,
            clock.train_exp_iterations, clock.train_epoch_iterations) == (16, 2, 2, 8, 4)
