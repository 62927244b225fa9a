"""EWC's diagonal Fisher on 12,000 MNIST-sized rows: the closed form for Linear layers.

MLP 784-400-400-10 (SimpleMLP, 2 hidden layers), 12,000 random 1x28x28 inputs, batches of
256; median of ``--runs`` calls of ``fisher_diagonal``. The issue's target: under 1 s.

    python benchmarks/fisher.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from cltutor import SimpleMLP, fisher_diagonal
from cltutor.data import ClassificationDataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = SimpleMLP(num_classes=10, input_size=784, hidden_size=400, hidden_layers=2,
                      drop_rate=0.0)
    data = ClassificationDataset(torch.rand(12000, 1, 28, 28), torch.randint(0, 10, (12000,)))
    for threads in (1, torch.get_num_threads()):
        torch.set_num_threads(threads)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            fisher_diagonal(model, data)
            times.append(time.perf_counter() - start)
        print(f"{threads} thread(s): median {statistics.median(times):.3f} s "
              f"(runs {', '.join(f'{t:.3f}' for t in times)})")


if __name__ == "__main__":
    main()
