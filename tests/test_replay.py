"""ReplayPlugin and Replay: minibatch composition inside Naive, memory updates, the
accuracy they buy on SplitDigits against Naive, and every error message."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cltutor import SimpleMLP, SplitDigits, SupervisedPlugin
from cltutor.data import ClassificationDataset, Experience, Stream
from cltutor.memory.buffers import ClassBalancedBuffer, ExperienceBalancedBuffer
from cltutor.memory.loaders import BatchLoader, ReplayDataLoader
from cltutor.strategies.base import Naive
from cltutor.strategies.replay import Replay, ReplayPlugin


def stream(n_exps: int = 3, per_exp: int = 40, tasks: bool = False) -> Stream:
    """Experience i holds ``per_exp`` rows of class i (task i when ``tasks``)."""
    exps = []
    for i in range(n_exps):
        ds = ClassificationDataset(torch.rand(per_exp, 4), torch.full((per_exp,), i),
                                   i if tasks else 0)
        exps.append(Experience(ds, i))
    return Stream("train", exps)


class BatchProbe(SupervisedPlugin):
    """Records the labels of every minibatch, per experience."""

    def __init__(self) -> None:
        self.labels: list[list[list[int]]] = []
        self.loaders: list[object] = []

    def before_training_exp(self, strategy, **kwargs):
        self.labels.append([])
        self.loaders.append(strategy.dataloader)

    def before_forward(self, strategy, **kwargs):
        self.labels[-1].append(strategy.mb_y.tolist())


def naive(plugins, train_mb_size=8, seed=0, **kwargs):
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 5))
    return Naive(model, torch.optim.SGD(model.parameters(), lr=0.1),
                 train_mb_size=train_mb_size, plugins=plugins, evaluator=None, device="cpu",
                 seed=seed, **kwargs)


def test_minibatches_are_8_data_then_8_memory_rows_from_the_second_experience():
    probe = BatchProbe()
    strategy = naive([ReplayPlugin(mem_size=12, seed=0), probe])
    for exp in stream(3):
        strategy.train(exp)
    first, second, third = probe.labels
    assert first == [[0] * 8] * 5  # no memory yet: the strategy's own loader
    assert isinstance(probe.loaders[0], BatchLoader)
    for exp_id, batches in ((1, second), (2, third)):
        assert len(batches) == 5  # the epoch is one pass over the 40 new rows
        assert isinstance(probe.loaders[exp_id], ReplayDataLoader)
        for labels in batches:
            assert len(labels) == 16 and labels[:8] == [exp_id] * 8
            assert all(c < exp_id for c in labels[8:])  # memory rows: past classes only
    # after experience 1 the memory holds classes 0 and 1 (6 each): both get replayed
    assert {c for labels in third for c in labels[8:]} == {0, 1}


def test_batch_size_and_batch_size_mem_and_epochs():
    probe = BatchProbe()
    strategy = naive([ReplayPlugin(mem_size=10, batch_size=4, batch_size_mem=6, seed=0),
                      probe], train_epochs=2)
    for exp in stream(2):
        strategy.train(exp)
    assert [len(b) for b in probe.labels[1]] == [10] * 20  # 2 epochs of ceil(40 / 4)


def test_memory_is_updated_after_each_experience():
    plugin = ReplayPlugin(mem_size=9, seed=0)
    strategy = naive([plugin])
    sizes = []
    for exp in stream(3):
        strategy.train(exp)
        sizes.append({k: len(g) for k, g in plugin.storage_policy.buffer_groups.items()})
    assert sizes == [{0: 9}, {0: 5, 1: 4}, {0: 3, 1: 3, 2: 3}]
    assert isinstance(plugin.storage_policy, ExperienceBalancedBuffer)
    assert {k: len(v) for k, v in plugin.ext_mem.items()} == {0: 3, 1: 3, 2: 3}


def test_custom_storage_policy_and_task_balanced_memory():
    probe = BatchProbe()
    plugin = ReplayPlugin(mem_size=12, batch_size_mem=6, task_balanced_dataloader=True,
                          storage_policy=ClassBalancedBuffer(12, seed=0), seed=0)
    strategy = naive([plugin, probe])
    for exp in stream(4, tasks=True):
        strategy.train(exp)
    for labels in probe.labels[3]:  # memory classes 0, 1, 2 = tasks 0, 1, 2
        assert labels[8:] == [0, 0, 1, 1, 2, 2]


def test_seeded_replay_is_reproducible():
    def final_weights(seed):
        torch.manual_seed(0)
        strategy = naive([ReplayPlugin(mem_size=12, seed=seed)], seed=seed)
        for exp in stream(3):
            strategy.train(exp)
        return strategy.model[1].weight.detach().clone()
    assert torch.equal(final_weights(3), final_weights(3))
    assert not torch.equal(final_weights(3), final_weights(4))


def test_replay_strategy_appends_its_plugin_after_the_users():
    probe = BatchProbe()
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 5))
    strategy = Replay(model, torch.optim.SGD(model.parameters(), lr=0.1), mem_size=6,
                      batch_size_mem=3, plugins=[probe], train_mb_size=8, evaluator=None,
                      device="cpu", seed=0)
    assert strategy.plugins == [probe, strategy.replay_plugin]
    assert strategy.replay_plugin.mem_size == 6
    for exp in stream(2):
        strategy.train(exp)
    assert all(len(b) == 11 for b in probe.labels[1])


def average_accuracy(model: nn.Module, test_stream) -> float:
    model.eval()
    with torch.no_grad():
        accs = [float((model(e.dataset.x).argmax(1) == e.dataset.y).float().mean())
                for e in test_stream]
    return sum(accs) / len(accs)


def split_digits_run(use_replay: bool, seed: int) -> float:
    torch.manual_seed(seed)
    bm = SplitDigits(n_experiences=5, seed=seed)
    model = SimpleMLP(num_classes=10, input_size=64, hidden_size=128, drop_rate=0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    kwargs = dict(train_mb_size=32, train_epochs=5, evaluator=None, device="cpu", seed=seed)
    strategy = Replay(model, opt, mem_size=200, **kwargs) if use_replay else Naive(
        model, opt, **kwargs)
    for exp in bm.train_stream:
        strategy.train(exp)
    return average_accuracy(model, bm.test_stream)


def test_replay_beats_naive_on_split_digits():
    replay = [split_digits_run(True, seed) for seed in range(3)]
    naive_acc = [split_digits_run(False, seed) for seed in range(3)]
    assert sum(replay) / 3 >= 0.75, replay
    assert sum(naive_acc) / 3 < 0.3, naive_acc  # Naive only knows the last 2 classes


@pytest.mark.bad_input("R6")
@pytest.mark.parametrize(("build", "error", "match"), [
    (lambda: ReplayPlugin(mem_size=-3), ValueError,
     r"mem_size must be a positive int, got -3\. Use mem_size=200"),
    (lambda: ReplayPlugin(batch_size=0), ValueError,
     r"batch_size must be a positive int or None, got 0\. None uses the strategy's "
     r"train_mb_size"),
    (lambda: ReplayPlugin(batch_size_mem=-2), ValueError,
     r"batch_size_mem must be a positive int or None, got -2\. None uses the strategy's "
     r"train_mb_size"),
    (lambda: ReplayPlugin(task_balanced_dataloader="yes"), TypeError,
     r"task_balanced_dataloader must be True or False, got 'yes'"),
    (lambda: ReplayPlugin(task_balanced_dataloader=1), TypeError,  # R6: strict bool
     r"task_balanced_dataloader must be True or False, got 1"),
    (lambda: ReplayPlugin(mem_size=True), ValueError,
     r"mem_size must be a positive int, got True"),
    (lambda: ReplayPlugin(batch_size=float("inf")), ValueError,
     r"batch_size must be a positive int or None, got inf"),
    (lambda: Replay(nn.Linear(2, 2), torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1),
                    seed="0"), TypeError,
     r"seed must be an int or None, got '0'"),
    (lambda: ReplayPlugin(mem_size=100, storage_policy=ClassBalancedBuffer(50)), ValueError,
     r"storage_policy.max_size \(50\) must equal mem_size \(100\); build the buffer with "
     r"max_size=100"),
    (lambda: ReplayPlugin(storage_policy="class"), TypeError,
     r"storage_policy must be an ExemplarsBuffer, got str"),
])
def test_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()
