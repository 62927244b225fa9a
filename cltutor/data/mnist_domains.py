"""Domain-incremental MNIST: every experience holds all 10 digits, seen differently.

``PermutedMNIST`` shuffles the 784 pixels with one permutation per experience,
``RotatedMNIST`` turns the images by one angle per experience. Both apply their
change once to the uint8 images of :func:`~cltutor.data.vision.mnist_train_test`
(files, downloads and their timeout as :func:`~cltutor.data.SplitMNIST`), with the
same bodies as the bundled ``PermutedDigits`` and ``RotatedDigits``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

from cltutor.data.benchmark import Benchmark
from cltutor.data.streams import permuted_benchmark, rotated_benchmark
from cltutor.data.vision import mnist_train_test

__all__ = ["PermutedMNIST", "RotatedMNIST"]


def PermutedMNIST(
    n_experiences: int = 5,
    return_task_id: bool = False,
    seed: int | None = 0,
    dataset_root: str | os.PathLike | None = None,
    download: bool = True,
    download_timeout: float | None = None,
) -> Benchmark:
    """Domain-incremental MNIST: all 10 digits in every experience, pixels permuted.

    Experience 0 shows the real digits; experience ``i >= 1`` its own permutation of
    the 784 pixels drawn from ``seed`` (Avalanche permutes every experience). Each
    permutation is applied once to the uint8 tensor; normalisation is per batch.

    Examples
    --------
    >>> bm = PermutedMNIST(n_experiences=3, seed=0)  # doctest: +SKIP

    Notebook ``02_forgetting.ipynb`` shows the digits version, PermutedDigits.
    """
    return permuted_benchmark(
        functools.partial(mnist_train_test, dataset_root, download, download_timeout),
        n_experiences, 28 * 28, seed=seed, return_task_id=return_task_id, name="PermutedMNIST",
    )  # fmt: skip


def RotatedMNIST(
    n_experiences: int = 5,
    rotations_list: Sequence[float] | None = None,
    return_task_id: bool = False,
    seed: int | None = 0,
    dataset_root: str | os.PathLike | None = None,
    download: bool = True,
    download_timeout: float | None = None,
) -> Benchmark:
    """Domain-incremental MNIST: all 10 digits in every experience, images rotated.

    Experience 0 is unrotated; experience ``i >= 1`` turns by an integer angle in
    [-180, 180] drawn from ``seed``, unless ``rotations_list`` gives one angle per
    experience (Avalanche rotates the first experience too). Each rotation is applied
    once, bilinear, to the whole uint8 tensor.

    Examples
    --------
    >>> bm = RotatedMNIST(n_experiences=3, rotations_list=[0, 45, 90])  # doctest: +SKIP

    Notebook ``02_forgetting.ipynb`` shows the digits version, RotatedDigits.
    """
    return rotated_benchmark(
        functools.partial(mnist_train_test, dataset_root, download, download_timeout),
        n_experiences, rotations_list, seed=seed, return_task_id=return_task_id,
        name="RotatedMNIST",
    )  # fmt: skip
