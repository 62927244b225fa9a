"""DER++ against a bare PyTorch loop doing the same computation, and the online-replay update.

1. DER++ (alpha 0.1, beta 0.5, memory 200) on the MNIST-sized stream: 60,000 samples of
   1x28x28 in 5 class-incremental experiences, MLP 784-400-400-10, SGD lr 0.01, batch 32,
   one epoch per experience, no metrics. The bare loop draws the same permutations, keeps
   the same :class:`~cltutor.memory.ReservoirMemory` (same seed, same draws), adds the same
   ``der_loss`` of one forward pass over both memory draws, and ends with the same weights
   (checked): the ratio is what cltutor's loop, plugin and callbacks cost on top. Runs
   alternate; medians.
2. One online-replay minibatch's memory work (Algorithm R update of 10 rows of 784 floats
   into a full 200-slot memory, and the draw of 10 rows), median over 2,000 minibatches.

    python benchmarks/replay_family_throughput.py --runs 5
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
from throughput import experience_seeds, make_model, same_weights  # noqa: E402

from cltutor import DER, der_loss  # noqa: E402
from cltutor.memory import ReservoirMemory  # noqa: E402

MEM, ALPHA, BETA = 200, 0.1, 0.5


def bare_loop(bm, batch_size: int, seed: int):
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    memory = ReservoirMemory(MEM, seed=(seed + 1) % 2**64)  # the seed DER(seed=) gives its plugin
    start = time.perf_counter()
    for exp, s in zip(bm.train_stream, experience_seeds(seed, bm.n_experiences), strict=True):
        x, y, t = exp.dataset.x, exp.dataset.y, exp.dataset.t
        for idx in torch.randperm(len(y), generator=torch.Generator().manual_seed(s)).split(
                batch_size):
            xb, yb, tb = x.index_select(0, idx), y.index_select(0, idx), t.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            if len(memory):
                first, second = memory.sample(batch_size), memory.sample(batch_size)
                mem_out = model(torch.cat([first["x"], second["x"]]))
                n = len(first["x"])
                loss = loss + der_loss(mem_out[:n], first["logits"], mem_out[n:], second["y"],
                                       ALPHA, BETA)
            loss.backward()
            opt.step()
            memory.update(x=xb, y=yb, t=tb, logits=out.detach())
    return time.perf_counter() - start, model


def cltutor_loop(bm, batch_size: int, seed: int):
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    strategy = DER(model, opt, mem_size=MEM, alpha=ALPHA, beta=BETA, train_mb_size=batch_size,
                   device="cpu", seed=seed, evaluator=None)
    start = time.perf_counter()
    for exp in bm.train_stream:
        strategy.train(exp)
    return time.perf_counter() - start, model


def online_update_times(n: int = 2000, batch: int = 10) -> tuple[float, float]:
    """Median microseconds of one Algorithm R update, and of one update plus one draw."""
    memory = ReservoirMemory(MEM, seed=0)
    x = torch.rand(batch, 784)
    y = torch.randint(10, (batch,))
    t = torch.zeros(batch, dtype=torch.long)
    for _ in range(MEM // batch + 5):  # full memory: the steady state
        memory.update(x=x, y=y, t=t)
    update, both = [], []
    for _ in range(n):
        start = time.perf_counter()
        memory.update(x=x, y=y, t=t)
        middle = time.perf_counter()
        memory.sample(batch)
        end = time.perf_counter()
        update.append(middle - start)
        both.append(end - start)
    return statistics.median(update) * 1e6, statistics.median(both) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    update_us, both_us = online_update_times()
    print(f"online replay, memory {MEM}, batch 10 of 784 floats: Algorithm R update "
          f"{update_us:.0f} us, update + draw {both_us:.0f} us (median of 2000)\n")
    bm = mnist_sized_benchmark(n_train=60000, seed=0)
    bare_times, cl_times = [], []
    for run in range(args.runs):
        t_bare, m_bare = bare_loop(bm, args.batch_size, seed=run)
        t_cl, m_cl = cltutor_loop(bm, args.batch_size, seed=run)
        if not same_weights(m_bare, m_cl):
            raise SystemExit("DER++: cltutor and the bare loop ended with different weights")
        bare_times.append(t_bare)
        cl_times.append(t_cl)
    bare, cl = statistics.median(bare_times), statistics.median(cl_times)
    print("| strategy | bare PyTorch (s) | cltutor (s) | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| DER++ (memory {MEM}) | {bare:.2f} | {cl:.2f} | {cl / bare:.3f} |")
    print(f"\nmedians of {args.runs} runs, batch {args.batch_size}; "
          "same final weights in every run")


if __name__ == "__main__":
    main()
