"""Shared pieces of the benchmark scripts: an MNIST-sized stream built offline.

``mnist_sized_benchmark()`` stands in for SplitMNIST in throughput measurements
without any download: the bundled 8x8 digits are upsampled to 28x28 (bilinear),
repeated to 60,000 train and 10,000 test images and given Gaussian noise, so every
copy differs. Five class-incremental experiences, float32 ``(N, 1, 28, 28)``
in [0, 1], labels 0..9.

Run ``python benchmarks/common.py`` to time the build.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import Tensor

from cltutor.data import (
    Benchmark,
    ClassificationDataset,
    class_incremental_benchmark,
    digits_train_test,
)

__all__ = ["mnist_sized_benchmark", "median_time"]

NOISE_STD = 0.1


def _row_dataset(ds: ClassificationDataset, n: int) -> ClassificationDataset:
    """``n`` rows cycling through ``ds``; x holds only each row's source index, (n, 1)."""
    rows = torch.arange(n) % len(ds)
    return ClassificationDataset(rows[:, None], ds.y.index_select(0, rows))


def _materialise(exp_ds: ClassificationDataset, big: Tensor, gen: torch.Generator) -> None:
    """Replace the source indices of one experience by noisy 28x28 images, in place."""
    x = big.index_select(0, exp_ds.x[:, 0])  # (n, 1, 28, 28), the only full-size copy
    noise = torch.empty_like(x[:8192])  # reused: no second full-size buffer
    for chunk in x.split(8192):
        chunk.add_(noise[: len(chunk)].normal_(0.0, NOISE_STD, generator=gen)).clamp_(0.0, 1.0)
    exp_ds.x = x


def mnist_sized_benchmark(n_train: int = 60000, seed: int = 0, n_test: int = 10000) -> Benchmark:
    """An MNIST-sized, 5-experience class-incremental stream from the bundled digits.

    The class split runs on row indices first, so each experience's images are
    gathered and noised exactly once (about 0.2 GB for 60,000 float32 images).

    Parameters
    ----------
    n_train, n_test : int
        Number of train and test images (60,000 and 10,000 as MNIST).
    seed : int
        Fixes the digits split, the noise and the class order.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 10:
            raise ValueError(f"{name} must be an int >= 10, got {value!r}. Try {name}=60000.")
    gen = torch.Generator().manual_seed(seed)
    train_ds, test_ds = digits_train_test(seed)
    bm = class_incremental_benchmark(
        _row_dataset(train_ds, n_train), _row_dataset(test_ds, n_test), 5, seed=seed,
        name="MNISTSizedDigits",
    )  # fmt: skip
    for stream, ds in ((bm.train_stream, train_ds), (bm.test_stream, test_ds)):
        big = F.interpolate(ds.x, size=(28, 28), mode="bilinear", align_corners=False)
        for exp in stream:
            _materialise(exp.dataset, big, gen)
    return bm


def median_time(fn, repeats: int = 3) -> tuple[float, list[float]]:
    """Median wall time of ``fn()`` over ``repeats`` runs, and all the times."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], times


def _tensor_bytes(bm: Benchmark) -> int:
    storages = {}
    for stream in bm.streams.values():
        for exp in stream:
            for t in (exp.dataset.x, exp.dataset.y, exp.dataset.t):
                s = t.untyped_storage()
                storages[s.data_ptr()] = s.nbytes()
    return sum(storages.values())


def _report(x: Tensor) -> str:
    return f"{tuple(x.shape)} {x.dtype} [{float(x.min()):.2f}, {float(x.max()):.2f}]"


if __name__ == "__main__":
    mnist_sized_benchmark(n_train=1000, n_test=100)  # warm-up: sklearn import and file read
    med, times = median_time(mnist_sized_benchmark, repeats=3)
    bm = mnist_sized_benchmark()
    print(f"mnist_sized_benchmark(): median {med:.2f} s over {[round(t, 2) for t in times]}")
    print(f"  {bm}")
    print(f"  train x of experience 0: {_report(bm.train_stream[0].dataset.x)}")
    print(f"  train sizes {[len(e.dataset) for e in bm.train_stream]}")
    print(f"  tensor storage {_tensor_bytes(bm) / 2**20:.0f} MiB")
