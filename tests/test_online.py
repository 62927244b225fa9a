"""Online experience replay: memory rows in every minibatch, the reservoir updated after it."""

from __future__ import annotations

import pytest
import torch
from accuracy_runs import mean_accuracy

from cltutor import (
    Naive,
    OnlineReplay,
    OnlineReplayPlugin,
    SimpleMLP,
    SplitDigits,
    SupervisedPlugin,
    split_online_stream,
)


class BatchSpy(SupervisedPlugin):
    """The minibatch each forward pass sees, and the memory's size at that moment."""

    def __init__(self, er):
        self.er, self.seen = er, []

    def before_forward(self, strategy, **kwargs):
        self.seen.append((len(strategy.mb_x), len(self.er.memory), strategy.mb_y.clone()))


def online_run(mem_size=30, batch=10, rows=None, **kwargs):
    bm = SplitDigits(n_experiences=5, seed=0)
    torch.manual_seed(0)
    model = SimpleMLP(num_classes=10, input_size=64, hidden_size=32)
    er = OnlineReplayPlugin(mem_size=mem_size, seed=0, **kwargs)
    spy = BatchSpy(er)
    strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05), train_mb_size=batch,
                     plugins=[er, spy], evaluator=None, device="cpu", seed=0)
    return bm, er, spy, strategy


def test_every_minibatch_gets_memory_rows_once_the_memory_holds_any():
    bm, er, spy, strategy = online_run()
    exp = bm.train_stream[0]
    strategy.train(exp)
    sizes = [(b, m) for b, m, _ in spy.seen]
    assert sizes[0] == (10, 0)  # nothing to replay yet
    assert sizes[1] == (20, 10) and sizes[2] == (20, 20)  # 10 new + 10 memory rows
    assert all(b == 10 + min(10, m) for b, m in sizes[:-1])
    assert er.memory.n_seen == len(exp.dataset)  # each new row offered once, memory rows never


def test_the_memory_is_updated_after_every_minibatch_with_the_new_rows_only():
    bm, er, spy, strategy = online_run(mem_size=500)  # large: keeps every row it is given
    strategy.train(bm.train_stream[0])
    n = len(bm.train_stream[0].dataset)
    assert len(er.memory) == n
    assert sorted(er.memory.fields["y"].tolist()) == sorted(bm.train_stream[0].dataset.y.tolist())


def test_batch_size_mem_sets_the_memory_share():
    bm, er, spy, strategy = online_run(batch_size_mem=4)
    strategy.train(bm.train_stream[0])
    assert {b for b, m, _ in spy.seen[1:-1]} == {14}


def test_online_replay_trains_on_online_pieces_like_on_one_pass():
    bm = SplitDigits(n_experiences=5, seed=0)
    pieces = split_online_stream(bm.train_stream[:2], experience_size=10, shuffle=False)
    model = SimpleMLP(num_classes=10, input_size=64, hidden_size=32)
    strategy = OnlineReplay(model, torch.optim.SGD(model.parameters(), lr=0.05), mem_size=50,
                            train_mb_size=10, evaluator=None, device="cpu", seed=0)
    strategy.train(pieces)
    assert strategy.replay_plugin.memory.n_seen == sum(len(e.dataset) for e in bm.train_stream[:2])
    assert strategy.clock.train_exp_counter == len(pieces)


@pytest.mark.parametrize("kwargs, match", [
    ({"mem_size": 0}, r"mem_size must be a positive int, got 0"),
    ({"batch_size_mem": -1}, r"batch_size_mem must be a positive int or None, got -1"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OnlineReplayPlugin(**kwargs)


@pytest.mark.slow
def test_online_replay_learns_a_stream_seen_once():
    """The issue's bar: 1 epoch, batch 10, memory 200; mean of seeds 0-2."""
    naive = mean_accuracy("split-digits", "class", "naive", (("online", True),))
    er = mean_accuracy("split-digits", "class", "online_replay", (("online", True),
                                                                  ("mem_size", 200)))
    print(f"online, class-incremental SplitDigits: Naive {naive:.3f}, ER {er:.3f}")
    assert er >= 0.55 and er >= naive + 0.40
