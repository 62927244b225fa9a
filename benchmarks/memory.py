"""Replay-memory speed: buffer updates and exemplar selection on MNIST-sized data.

* Buffer update: one 12,000-sample experience (1x28x28 float32, from the
  MNIST-sized stream of ``common.py``) into a 2,000-slot memory that is already
  full from earlier experiences. Each run feeds a fresh buffer the 5 experiences;
  the first update (which allocates the storage) is reported apart.
  Target: reservoir and class-balanced medians <= 5 ms.
* Herding: choose 2,000 exemplars among 12,000 random 400-d feature vectors.
  Target: median <= 1 s.

    python benchmarks/memory.py              # 5 runs, torch's default threads
    python benchmarks/memory.py --threads 1  # the figures without thread contention
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_time, mnist_sized_benchmark  # noqa: E402

from cltutor.memory import (  # noqa: E402
    ClassBalancedBuffer,
    ExperienceBalancedBuffer,
    ParametricBuffer,
    ReservoirSamplingBuffer,
)
from cltutor.memory.selection import closest_to_center_order, herding_order  # noqa: E402

MEM_SIZE = 2000
BUFFERS = {
    "ReservoirSamplingBuffer": ReservoirSamplingBuffer,
    "ClassBalancedBuffer": ClassBalancedBuffer,
    "ExperienceBalancedBuffer": ExperienceBalancedBuffer,
    "ParametricBuffer(groupby='class'), random": lambda m, seed: ParametricBuffer(
        m, groupby="class", seed=seed),
}
TARGETS = {"ReservoirSamplingBuffer": 5.0, "ClassBalancedBuffer": 5.0}


def update_times(make, stream, runs: int, read_buffer: bool) -> tuple[list[float], list[float]]:
    """Times (ms) of the allocating first update and of the updates into a full memory."""
    first, full = [], []
    for run in range(runs):
        buf = make(MEM_SIZE, seed=run)
        for i, exp in enumerate(stream):
            state = SimpleNamespace(experience=exp)
            start = time.perf_counter()
            buf.update(state)
            if read_buffer:
                len(buf.buffer)  # the view a replay loader reads after each update
            (first if i == 0 else full).append(1e3 * (time.perf_counter() - start))
    return first, full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    stream = mnist_sized_benchmark(n_train=60000, seed=0).train_stream
    sizes = sorted({len(e.dataset) for e in stream})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; experiences of "
          f"{sizes} samples, x {tuple(stream[0].dataset.x.shape[1:])}, memory {MEM_SIZE}\n")
    update_times(ReservoirSamplingBuffer, stream, 1, False)  # warm-up
    print("| buffer | first update (ms) | update into a full memory, median (ms) | "
          "same + reading .buffer (ms) | target |")
    print("|---|---:|---:|---:|---|")
    for name, make in BUFFERS.items():
        first, full = update_times(make, stream, args.runs, read_buffer=False)
        _, full_read = update_times(make, stream, args.runs, read_buffer=True)
        target = TARGETS.get(name)
        verdict = "-" if target is None else (
            f"<= {target:g} ms: {'met' if statistics.median(full) <= target else 'MISSED'}")
        print(f"| {name} | {statistics.median(first):.2f} | {statistics.median(full):.2f} | "
              f"{statistics.median(full_read):.2f} | {verdict} |")
    print(f"\n(update medians over {args.runs} runs x 4 updates into a full memory)\n")

    features = torch.randn(12000, 400, generator=torch.Generator().manual_seed(0))
    herding_order(features[:500], 50)  # warm-up
    print("| selection of 2,000 among 12,000 400-d features | median (s) | runs (s) | target |")
    print("|---|---:|---|---|")
    for name, fn, target in (
        ("herding_order", lambda: herding_order(features, 2000), 1.0),
        ("closest_to_center_order", lambda: closest_to_center_order(features, 2000), None),
    ):
        med, times = median_time(fn, repeats=max(3, args.runs // 2 + 1))
        verdict = "-" if target is None else (
            f"<= {target:g} s: {'met' if med <= target else 'MISSED'}")
        print(f"| {name} | {med:.3f} | {[round(t, 3) for t in times]} | {verdict} |")


if __name__ == "__main__":
    main()
