"""Naive's training loop against a bare PyTorch loop over the same tensors and batches.

An MNIST-sized stream (60,000 train samples of 1x28x28 built from the bundled
digits, 5 class-incremental experiences), an MLP 784-400-400-10, SGD, one epoch
per experience, on the CPU. Both loops draw the same permutations, so they run
the very same minibatches (checked: the final weights are identical). Runs
alternate between the two loops and the table reports medians.

    python benchmarks/throughput.py            # 5 runs each, batch 32 and 128
    python benchmarks/throughput.py --runs 3 --batch-sizes 32
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

from cltutor import Naive, SimpleMLP  # noqa: E402
from cltutor.evaluation import EvaluationPlugin, accuracy_metrics, loss_metrics  # noqa: E402


def make_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return SimpleMLP(num_classes=10, input_size=784, hidden_size=400, hidden_layers=2,
                     drop_rate=0.0)


def experience_seeds(seed: int, n: int) -> list[int]:
    """The per-experience shuffling seeds that Naive(seed=seed) draws: each train() call
    draws one seed for torch's global generators (dropout), then one for the shuffle."""
    rng = torch.Generator().manual_seed(seed)
    return [int(torch.randint(2**62, (1,), generator=rng)) for _ in range(2 * n)][1::2]


def bare_loop(bm, batch_size: int, seed: int) -> tuple[float, torch.nn.Module]:
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    start = time.perf_counter()
    for exp, s in zip(bm.train_stream, experience_seeds(seed, bm.n_experiences), strict=True):
        x, y = exp.dataset.x, exp.dataset.y
        perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(s))
        for idx in perm.split(batch_size):
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
    return time.perf_counter() - start, model


def cltutor_loop(bm, batch_size: int, seed: int, evaluator) -> tuple[float, torch.nn.Module]:
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    strategy = Naive(model, opt, train_mb_size=batch_size, device="cpu", seed=seed,
                     evaluator=evaluator())
    start = time.perf_counter()
    for exp in bm.train_stream:
        strategy.train(exp)
    return time.perf_counter() - start, model


def training_metrics() -> EvaluationPlugin:
    """Accuracy and loss per epoch (what a learner watches), no printing."""
    return EvaluationPlugin(accuracy_metrics(epoch=True), loss_metrics(epoch=True))


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    args = parser.parse_args()
    bm = mnist_sized_benchmark(n_train=60000, seed=0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{sum(len(e.dataset) for e in bm.train_stream)} training samples\n")
    variants = {"Naive, no metrics": lambda: None, "Naive, epoch acc+loss": training_metrics}
    rows = []
    for bs in args.batch_sizes:
        times = {"bare": [], **{name: [] for name in variants}}
        for run in range(args.runs):
            t_bare, m_bare = bare_loop(bm, bs, seed=run)
            times["bare"].append(t_bare)
            for name, evaluator in variants.items():
                t, m = cltutor_loop(bm, bs, seed=run, evaluator=evaluator)
                times[name].append(t)
                if not same_weights(m, m_bare):
                    raise SystemExit(f"{name} ran different batches than the bare loop")
        bare = statistics.median(times["bare"])
        for name in variants:
            med = statistics.median(times[name])
            rows.append((bs, name, bare, med, med / bare))
    print("| batch | cltutor variant | bare PyTorch (s) | cltutor (s) | ratio |")
    print("|---:|---|---:|---:|---:|")
    for bs, name, bare, med, ratio in rows:
        print(f"| {bs} | {name} | {bare:.2f} | {med:.2f} | {ratio:.3f} |")
    print(f"\nmedians of {args.runs} runs; same weights at the end in every run: yes")


if __name__ == "__main__":
    main()
