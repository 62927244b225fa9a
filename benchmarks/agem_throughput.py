"""A-GEM in cltutor against a bare PyTorch A-GEM loop over the same batches and memory draws.

The MNIST-sized stream (60,000 train samples of 1x28x28, 5 class-incremental
experiences), an MLP 784-256-10, SGD, one epoch per experience, on the CPU.
Both loops draw the same minibatch permutations and the same random memory
batches (``sample_size // n`` patterns per past experience, remainder to the
first), so they compute the very same updates: the script checks that the
final weights are identical. Runs alternate between the two loops; the table
reports medians.

    python benchmarks/agem_throughput.py               # 3 runs, batch 32
    python benchmarks/agem_throughput.py --runs 5 --batch-sizes 32 128
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

from cltutor import AGEM, SimpleMLP  # noqa: E402

PATTERNS_PER_EXPERIENCE, SAMPLE_SIZE, LR = 256, 64, 0.05


def make_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return SimpleMLP(num_classes=10, input_size=784, hidden_size=256, drop_rate=0.0)


def experience_seeds(seed: int, n: int) -> list[int]:
    """The per-experience shuffling seeds that Naive(seed=seed) draws: each train() call
    draws one seed for torch's global generators (dropout), then one for the shuffle."""
    rng = torch.Generator().manual_seed(seed)
    return [int(torch.randint(2**62, (1,), generator=rng)) for _ in range(2 * n)][1::2]


def memory_batch(memory, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """sample_size // n random patterns from each past experience (remainder to the first)."""
    q, r = divmod(SAMPLE_SIZE, len(memory))
    xs, ys = [], []
    for i, (mx, my) in enumerate(memory):
        k = min(q + (i < r), len(my))
        if k:
            j = torch.randperm(len(my), generator=gen)[:k]
            xs.append(mx.index_select(0, j))
            ys.append(my.index_select(0, j))
    return torch.cat(xs), torch.cat(ys)


def flat_grad(params) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in params])


def bare_agem(bm, batch_size: int, seed: int) -> tuple[float, torch.nn.Module]:
    model = make_model(seed)
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=LR)
    gen = torch.Generator().manual_seed(seed)  # memory choice and memory batches
    memory: list[tuple[torch.Tensor, torch.Tensor]] = []
    start = time.perf_counter()
    for exp, s in zip(bm.train_stream, experience_seeds(seed, bm.n_experiences), strict=True):
        x, y = exp.dataset.x, exp.dataset.y
        perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(s))
        for idx in perm.split(batch_size):
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            if memory:
                opt.zero_grad(set_to_none=True)
                x_ref, y_ref = memory_batch(memory, gen)
                F.cross_entropy(model(x_ref), y_ref).backward()
                g_ref = flat_grad(params)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xb), yb).backward()
            if memory:
                g = flat_grad(params)
                dot = torch.dot(g, g_ref)
                if dot < 0:
                    g = g - dot / torch.dot(g_ref, g_ref) * g_ref
                    for p, chunk in zip(params, g.split([p.numel() for p in params]),
                                        strict=True):
                        p.grad.copy_(chunk.view_as(p))
            opt.step()
        keep = torch.randperm(len(y), generator=gen)[:PATTERNS_PER_EXPERIENCE]
        memory.append((x.index_select(0, keep), y.index_select(0, keep)))
    return time.perf_counter() - start, model


def cltutor_agem(bm, batch_size: int, seed: int) -> tuple[float, torch.nn.Module]:
    model = make_model(seed)
    strategy = AGEM(model, torch.optim.SGD(model.parameters(), lr=LR),
                    patterns_per_experience=PATTERNS_PER_EXPERIENCE, sample_size=SAMPLE_SIZE,
                    train_mb_size=batch_size, device="cpu", seed=seed, evaluator=None)
    start = time.perf_counter()
    for exp in bm.train_stream:
        strategy.train(exp)
    return time.perf_counter() - start, model


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bm = mnist_sized_benchmark(n_train=60000, seed=0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{sum(len(e.dataset) for e in bm.train_stream)} training samples, "
          f"patterns_per_experience={PATTERNS_PER_EXPERIENCE}, sample_size={SAMPLE_SIZE}\n")
    print("| batch | bare PyTorch A-GEM (s) | cltutor AGEM (s) | ratio | runs (bare / cltutor) |")
    print("|---:|---:|---:|---:|---|")
    for bs in args.batch_sizes:
        bare, ours = [], []
        for run in range(args.runs):
            t_bare, m_bare = bare_agem(bm, bs, seed=run)
            t_ours, m_ours = cltutor_agem(bm, bs, seed=run)
            if not same_weights(m_bare, m_ours):
                raise SystemExit("cltutor's AGEM computed different updates than the bare loop")
            bare.append(t_bare)
            ours.append(t_ours)
        b, o = statistics.median(bare), statistics.median(ours)
        runs = f"{[round(t, 2) for t in bare]} / {[round(t, 2) for t in ours]}"
        print(f"| {bs} | {b:.2f} | {o:.2f} | {o / b:.3f} | {runs} |")
    print(f"\nmedians of {args.runs} runs; same weights at the end in every run: yes")


if __name__ == "__main__":
    main()
