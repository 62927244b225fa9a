"""EWC and LwF against bare PyTorch loops doing the same computation, on the MNIST-sized stream.

60,000 samples of 1x28x28 in 5 class-incremental experiences, MLP 784-400-400-10, SGD lr
0.01, batch 32, one epoch per experience, no metrics. Both loops draw the same
permutations, add the same penalty with the same pure functions (``ewc_penalty`` of the
pairs that ``fisher_diagonal`` gives at the end of each experience, merged into one term per
parameter by ``merge_penalty_terms`` as the plugin does; ``distillation_loss`` of a frozen copy
on the old classes), and end with the same weights (checked): the ratio is what
cltutor's loop, plugins and callbacks cost on top. Runs alternate; medians.

    python benchmarks/regularization_throughput.py --runs 5
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import mnist_sized_benchmark  # noqa: E402
from throughput import experience_seeds, make_model, same_weights  # noqa: E402

from cltutor import (  # noqa: E402
    EWC,
    LwF,
    distillation_loss,
    ewc_penalty,
    fisher_diagonal,
    merge_penalty_terms,
)

EWC_LAMBDA, ALPHA, T = 100.0, 1.0, 2.0


def bare_loop(bm, kind: str, batch_size: int, seed: int):
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    saved, merged, prev, old_classes = [], None, None, []
    start = time.perf_counter()
    for exp, s in zip(bm.train_stream, experience_seeds(seed, bm.n_experiences), strict=True):
        x, y = exp.dataset.x, exp.dataset.y
        units = torch.tensor(old_classes)
        for idx in torch.randperm(len(y), generator=torch.Generator().manual_seed(s)).split(
                batch_size):
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            if kind == "ewc" and saved:
                fisher, anchor, constant = merged
                loss = loss + ewc_penalty(model, [(fisher, anchor)], EWC_LAMBDA) \
                    + EWC_LAMBDA / 2 * constant
            if kind == "lwf" and prev is not None:
                with torch.no_grad():
                    old = prev(xb)
                loss = loss + ALPHA * distillation_loss(out.index_select(1, units),
                                                        old.index_select(1, units), T)
            loss.backward()
            opt.step()
        if kind == "ewc":
            fisher = fisher_diagonal(model, exp.dataset)
            saved.append((fisher, {n: p.detach().clone() for n, p in model.named_parameters()}))
            merged = merge_penalty_terms(saved)
        else:
            prev = copy.deepcopy(model).eval()
            for p in prev.parameters():
                p.requires_grad_(False)
            old_classes = sorted(set(old_classes) | set(exp.classes_in_this_experience))
    return time.perf_counter() - start, model


def cltutor_loop(bm, kind: str, batch_size: int, seed: int):
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    options = {"ewc_lambda": EWC_LAMBDA} if kind == "ewc" else {"alpha": ALPHA, "temperature": T}
    cls = EWC if kind == "ewc" else LwF
    strategy = cls(model, opt, train_mb_size=batch_size, device="cpu", seed=seed, evaluator=None,
                   **options)
    start = time.perf_counter()
    for exp in bm.train_stream:
        strategy.train(exp)
    return time.perf_counter() - start, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    bm = mnist_sized_benchmark(n_train=60000, seed=0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| strategy | bare PyTorch (s) | cltutor (s) | ratio |")
    print("|---|---:|---:|---:|")
    for kind in ("ewc", "lwf"):
        bare_times, cl_times = [], []
        for run in range(args.runs):
            t_bare, m_bare = bare_loop(bm, kind, args.batch_size, seed=run)
            t_cl, m_cl = cltutor_loop(bm, kind, args.batch_size, seed=run)
            if not same_weights(m_bare, m_cl):
                raise SystemExit(f"{kind}: cltutor and the bare loop ended with different weights")
            bare_times.append(t_bare)
            cl_times.append(t_cl)
        bare, cl = statistics.median(bare_times), statistics.median(cl_times)
        print(f"| {kind} | {bare:.2f} | {cl:.2f} | {cl / bare:.3f} |")
    print(f"\nmedians of {args.runs} runs, batch {args.batch_size}; "
          "same final weights in every run")


if __name__ == "__main__":
    main()
