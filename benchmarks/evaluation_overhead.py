"""Cost of the evaluation plugin per training iteration, and of a whole eval.

Part 1 drives the training callbacks of the evaluator and then of its loggers the way
Naive dispatches them (only the callbacks each overrides), over one epoch of 60,000 samples in
minibatches of 32 and of 128 with ready-made outputs, so only the evaluator's own work is
timed: its tally of predictions and losses, the single sync at the epoch end,
and for ``default_evaluator()`` the InteractiveLogger's progress bar (written
to /dev/null). The figure is microseconds per iteration above an empty loop.

Part 2 (``--naive``, slower) times Naive end to end on an MNIST-sized
class-incremental stream (MLP 784-400-400-10, batch 32, one epoch per
experience, CPU) with ``evaluator=None`` and with ``default_evaluator()``,
runs alternating.

    python benchmarks/evaluation_overhead.py             # part 1, 7 runs
    python benchmarks/evaluation_overhead.py --naive --runs 3 --n-train 12000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import mnist_sized_benchmark  # noqa: E402

from cltutor import SimpleMLP  # noqa: E402
from cltutor.evaluation import (  # noqa: E402
    EvaluationPlugin,
    InteractiveLogger,
    accuracy_metrics,
    default_evaluator,
    loss_metrics,
)
from cltutor.strategies import Naive  # noqa: E402

DEVNULL = open(os.devnull, "w")  # the bars and lines of every run go here


def quiet_default() -> EvaluationPlugin:
    """default_evaluator() with its progress bars and lines sent to /dev/null."""
    ev = default_evaluator()
    for logger in ev.loggers:
        if isinstance(logger, InteractiveLogger):
            logger.file = DEVNULL
    return ev


VARIANTS = {
    "EvaluationPlugin() (evaluator=None)": EvaluationPlugin,
    "epoch accuracy + loss, no logger": lambda: EvaluationPlugin(
        accuracy_metrics(epoch=True), loss_metrics(epoch=True)),
    "default_evaluator() + InteractiveLogger": quiet_default,
}


def fake_epoch(n_iter: int, batch: int, n_classes: int = 10):
    gen = torch.Generator().manual_seed(0)
    outs = [torch.randn(batch, n_classes, generator=gen) for _ in range(n_iter)]
    ys = [torch.randint(n_classes, (batch,), generator=gen) for _ in range(n_iter)]
    losses = [torch.rand((), generator=gen) for _ in range(n_iter)]
    return outs, ys, losses


def time_epoch(make, epoch, exp) -> float:
    """Seconds for one epoch of dispatch through the overridden callbacks of the evaluator
    and its loggers."""
    ev = make()
    s = SimpleNamespace(experience=exp, dataloader=epoch[0], train_epochs=1, loss=None,
                        clock=SimpleNamespace(train_iterations=0, train_exp_epochs=0))
    plugins = [ev, *ev.loggers]
    calls = {name: [getattr(p, name) for p in plugins if name in p.overridden_callbacks()]
             for name in ("before_training_exp", "before_training_epoch",
                          "after_training_iteration", "after_training_epoch")}
    start = time.perf_counter()
    for fn in calls["before_training_exp"] + calls["before_training_epoch"]:
        fn(s)
    per_iter = calls["after_training_iteration"]
    for s.mb_output, s.mb_y, s.loss in zip(*epoch, strict=True):
        for fn in per_iter:
            fn(s)
    for fn in calls["after_training_epoch"]:
        fn(s)
    return time.perf_counter() - start


def part1(runs: int) -> None:
    from cltutor.data import ClassificationDataset, Experience, Stream

    exp = Stream("train", [Experience(ClassificationDataset(torch.zeros(4, 1), [0, 1, 2, 3]),
                                      0)])[0]
    print(f"Part 1: evaluator work per training iteration, 60,000 samples, median of {runs}\n")
    print("| evaluator | batch 32: us / iteration | batch 128: us / iteration |")
    print("|---|---:|---:|")
    cells = {name: [] for name in VARIANTS}
    for batch in (32, 128):
        n_iter = 60000 // batch
        epoch = fake_epoch(n_iter, batch)
        times = {name: [] for name in ["empty loop", *VARIANTS]}
        for _ in range(runs):
            times["empty loop"].append(time_epoch(lambda: SimpleNamespace(
                overridden_callbacks=lambda: [], loggers=[]), epoch, exp))
            for name, make in VARIANTS.items():
                times[name].append(time_epoch(make, epoch, exp))
        base = statistics.median(times["empty loop"])
        for name in VARIANTS:
            cells[name].append((statistics.median(times[name]) - base) / n_iter * 1e6)
    for name, (a, b) in cells.items():
        print(f"| {name} | {a:.1f} | {b:.1f} |")
    print("\n(above an empty loop over the same minibatches)")


def part2(runs: int, n_train: int) -> None:
    bm = mnist_sized_benchmark(n_train=n_train, n_test=max(10, n_train // 6), seed=0)
    variants = {"evaluator=None": lambda: None, "default_evaluator()": quiet_default}
    times = {name: [] for name in variants}
    iters = sum(-(-len(e.dataset) // 32) for e in bm.train_stream)
    for run in range(runs):
        for name, make in variants.items():
            torch.manual_seed(run)
            model = SimpleMLP(num_classes=10, input_size=784, hidden_size=400,
                              hidden_layers=2, drop_rate=0.0)
            strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.01),
                             train_mb_size=32, device="cpu", seed=run, evaluator=make())
            start = time.perf_counter()
            for exp in bm.train_stream:
                strategy.train(exp)
            times[name].append(time.perf_counter() - start)
    none, default = (statistics.median(times[n]) for n in variants)
    print(f"\nPart 2: Naive training, {n_train} samples, {iters} iterations of 32, "
          f"median of {runs}\n")
    print("| evaluator | seconds | us / iteration | ratio to evaluator=None |")
    print("|---|---:|---:|---:|")
    for name in variants:
        med = statistics.median(times[name])
        print(f"| {name} | {med:.2f} | {med / iters * 1e6:.0f} | {med / none:.3f} |")
    print(f"\ndefault_evaluator() costs {(default - none) / iters * 1e6:.1f} us per iteration")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--naive", action="store_true", help="also time Naive end to end")
    parser.add_argument("--n-train", type=int, default=12000)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    part1(args.runs)
    if args.naive:
        part2(args.runs, args.n_train)


if __name__ == "__main__":
    main()
