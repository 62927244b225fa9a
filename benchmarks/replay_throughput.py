"""Replay's training loop against a bare PyTorch replay loop with the same batches.

The MNIST-sized stream of ``common.py`` (60,000 train samples of 1x28x28, 5
class-incremental experiences), an MLP 784-400-400-10, SGD, one epoch per
experience, on the CPU, memory of 200 rows. Both loops compose every minibatch
the same way: ``batch_size`` rows of the experience (one shuffled pass), then
``batch_size`` rows of the memory (reshuffled and cycled), and both keep an
experience-balanced random memory updated after each experience. The script
checks that both ran the same number of minibatches of the same sizes. Runs
alternate between the two loops; the table reports medians.

    python benchmarks/replay_throughput.py              # 3 runs, batch 32 and 128
    python benchmarks/replay_throughput.py --runs 5 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import mnist_sized_benchmark  # noqa: E402

from cltutor import Replay, SimpleMLP, SupervisedPlugin  # noqa: E402

MEM_SIZE = 200


def make_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return SimpleMLP(num_classes=10, input_size=784, hidden_size=400, hidden_layers=2,
                     drop_rate=0.0)


def bare_loop(bm, batch_size: int, seed: int) -> tuple[float, list[tuple[int, int]]]:
    """Replay written directly in PyTorch: tensors, randperm, index_select, a list memory."""
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(seed)
    mem_x, mem_y, shapes = [], [], []  # memory: one (x, y) pair per past experience
    start = time.perf_counter()
    for exp in bm.train_stream:
        x, y = exp.dataset.x, exp.dataset.y
        if mem_x:
            mx, my = torch.cat(mem_x), torch.cat(mem_y)
            n_batches = -(-len(y) // batch_size)
            passes = -(-n_batches * batch_size // len(my))
            mem_order = torch.cat([torch.randperm(len(my), generator=gen) for _ in range(passes)])
        for step, idx in enumerate(torch.randperm(len(y), generator=gen).split(batch_size)):
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            if mem_x:
                midx = mem_order[step * batch_size : (step + 1) * batch_size]
                xb = torch.cat([xb, mx.index_select(0, midx)])
                yb = torch.cat([yb, my.index_select(0, midx)])
            shapes.append((len(idx), len(yb) - len(idx)))
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        # experience-balanced memory: a random subset of the new experience, old ones cut
        quota = [MEM_SIZE // (len(mem_x) + 1) + (i < MEM_SIZE % (len(mem_x) + 1))
                 for i in range(len(mem_x) + 1)]
        keep = torch.randperm(len(y), generator=gen)[: quota[-1]]
        mem_x.append(x.index_select(0, keep))
        mem_y.append(y.index_select(0, keep))
        mem_x = [m[:q] for m, q in zip(mem_x, quota, strict=True)]
        mem_y = [m[:q] for m, q in zip(mem_y, quota, strict=True)]
    return time.perf_counter() - start, shapes


class BatchShapes(SupervisedPlugin):
    """Records (data rows, memory rows) of every minibatch (memory = past classes)."""

    def __init__(self) -> None:
        self.shapes = []

    def before_forward(self, strategy, **kwargs):
        new = torch.tensor(strategy.experience.classes_in_this_experience)
        n_new = int(torch.isin(strategy.mb_y, new).sum())
        self.shapes.append((n_new, len(strategy.mb_y) - n_new))


def cltutor_loop(bm, batch_size: int, seed: int, record: bool) -> tuple[float, list]:
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    probe = BatchShapes()
    strategy = Replay(model, opt, mem_size=MEM_SIZE, train_mb_size=batch_size, device="cpu",
                      seed=seed, evaluator=None, plugins=[probe] if record else None)
    start = time.perf_counter()
    for exp in bm.train_stream:
        strategy.train(exp)
    return time.perf_counter() - start, probe.shapes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bm = mnist_sized_benchmark(n_train=60000, seed=0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{sum(len(e.dataset) for e in bm.train_stream)} training samples, memory "
          f"{MEM_SIZE}\n")
    rows = []
    for bs in args.batch_sizes:
        _, bare_shapes = bare_loop(bm, bs, seed=0)  # warm-up, and the batch check
        _, ours_shapes = cltutor_loop(bm, bs, seed=0, record=True)
        if bare_shapes != ours_shapes:
            raise SystemExit(f"batch {bs}: the two loops composed different minibatches")
        bare, ours = [], []
        for run in range(args.runs):
            bare.append(bare_loop(bm, bs, seed=run)[0])
            ours.append(cltutor_loop(bm, bs, seed=run, record=False)[0])
        rows.append((bs, len(ours_shapes), statistics.median(bare), statistics.median(ours),
                     bare, ours))
    print("| batch (data + memory) | minibatches | bare PyTorch (s) | cltutor Replay (s) | "
          "ratio | runs bare / Replay (s) |")
    print("|---|---:|---:|---:|---:|---|")
    for bs, n, bare, ours, all_bare, all_ours in rows:
        runs = f"{[round(t, 2) for t in all_bare]} / {[round(t, 2) for t in all_ours]}"
        print(f"| {bs} + {bs} | {n} | {bare:.2f} | {ours:.2f} | {ours / bare:.3f} | {runs} |")
    print(f"\nmedians of {args.runs} runs; same minibatch composition in both loops: yes")


if __name__ == "__main__":
    main()
