"""The bundled benchmarks: scikit-learn's 8x8 handwritten digits, offline.

1,797 images ship with scikit-learn, so these streams need no download and train
in seconds on a CPU: :func:`SplitDigits` (class-, task- or domain-incremental
splits of the ten digits), :func:`PermutedDigits` and :func:`RotatedDigits`
(domain-incremental: all ten digits in every experience, seen through a new pixel
permutation or rotation). The train/test split is stratified 80/20, fixed by ``seed``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from cltutor._checks import resolve_seed
from cltutor.data.benchmark import Benchmark
from cltutor.data.dataset import ClassificationDataset
from cltutor.data.streams import class_incremental_benchmark, permuted_benchmark, rotated_benchmark

__all__ = ["digits_train_test", "SplitDigits", "PermutedDigits", "RotatedDigits"]


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_digits  # lazy: sklearn is slow to import

    data = load_digits()
    x = torch.from_numpy(data.images).float().div_(16).unsqueeze(1)  # (1797, 1, 8, 8) in [0, 1]
    return x, torch.from_numpy(data.target).long()


def digits_train_test(
    seed: int | None = 0,
) -> tuple[ClassificationDataset, ClassificationDataset]:
    """scikit-learn's 1,797 digits as a stratified 80/20 train/test pair fixed by ``seed``.

    Images are float32 ``(N, 1, 8, 8)`` in [0, 1]; 1,437 train and 360 test rows.
    """
    from sklearn.model_selection import train_test_split

    seed = resolve_seed(seed)
    x, y = _digits()
    train_idx, test_idx = train_test_split(
        np.arange(len(y)), test_size=0.2, stratify=y.numpy(), random_state=seed
    )
    train_idx, test_idx = torch.from_numpy(train_idx), torch.from_numpy(test_idx)
    return (
        ClassificationDataset(x.index_select(0, train_idx), y.index_select(0, train_idx)),
        ClassificationDataset(x.index_select(0, test_idx), y.index_select(0, test_idx)),
    )


def SplitDigits(
    n_experiences: int = 5,
    return_task_id: bool | None = None,
    seed: int | None = 0,
    fixed_class_order: Sequence[int] | None = None,
    class_ids_from_zero_in_each_exp: bool | None = None,
    scenario: str | None = None,
) -> Benchmark:
    """Split handwritten digits, offline: SplitMNIST's little sibling.

    scikit-learn's bundled 8x8 digits (1,797 images, nothing downloads) split 80/20
    into train and test, stratified by class, then into ``n_experiences`` groups
    of classes by :func:`class_incremental_benchmark`.

    Parameters
    ----------
    n_experiences : int, default 5
        Must divide 10: 1, 2, 5 or 10.
    return_task_id : bool, optional
        True gives experience ``i`` task label ``i``. None: as ``scenario``.
    seed : int or None, default 0
        Fixes the train/test split and the class order; None draws both from
        torch's global generator. An int must be in [0, 2**32 - 1], the seeds
        scikit-learn's ``train_test_split`` takes (checked here, before it runs).
    fixed_class_order : sequence of int, optional
        A permutation of 0..9 used instead of a random order.
    class_ids_from_zero_in_each_exp : bool, optional
        Relabel classes 0, 1, ... inside each experience. None: as ``scenario``.
    scenario : "class", "task" or "domain", optional
        The same experiences asked three ways. "class" (the default): labels 0-9, no
        task labels, one head for all digits. "task": experience ``i`` is task ``i``, its
        labels are 0 and 1 and the task label is given at test time too (train a
        multi-head model such as ``MTSimpleMLP``). "domain": labels 0 and 1, no task
        label ("the first or the second digit of the pair?", one 2-output head).

    Returns
    -------
    Benchmark
        Inputs float32 ``(N, 1, 8, 8)`` in [0, 1]; 1,437 train and 360 test images.

    Examples
    --------
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> bm.n_experiences, bm.n_classes
    (5, 10)
    >>> bm.train_stream[0].dataset.x.shape[1:]
    torch.Size([1, 8, 8])
    >>> task = SplitDigits(n_experiences=5, scenario="task", seed=0)
    >>> task.n_classes, task.train_stream[3].task_label, task.train_stream[3].dataset.classes
    (2, 3, [0, 1])

    Notebook ``01_quickstart.ipynb`` trains on it; ``02_forgetting.ipynb`` shows
    what Naive forgets.
    """
    seed = resolve_seed(seed)
    train_ds, test_ds = digits_train_test(seed)
    return class_incremental_benchmark(
        train_ds,
        test_ds,
        n_experiences,
        return_task_id=return_task_id,
        seed=seed,
        fixed_class_order=fixed_class_order,
        class_ids_from_zero_in_each_exp=class_ids_from_zero_in_each_exp,
        name="SplitDigits",
        scenario=scenario,
    )


def PermutedDigits(
    n_experiences: int = 5, return_task_id: bool = False, seed: int | None = 0
) -> Benchmark:
    """Domain-incremental digits: every experience all 10 classes, pixels permuted.

    Experience 0 shows the real digits (identity permutation) so learners first
    see images they recognise; experience ``i >= 1`` applies its own permutation
    of the 64 pixels, drawn from ``seed``. (Avalanche's PermutedMNIST permutes
    every experience, the first one included.) Each permutation is applied once to
    the whole tensor.

    Examples
    --------
    >>> bm = PermutedDigits(n_experiences=3, seed=0)
    >>> [e.classes_in_this_experience == list(range(10)) for e in bm.train_stream]
    [True, True, True]

    Notebook ``02_forgetting.ipynb`` contrasts it with SplitDigits.
    """
    seed = resolve_seed(seed)
    return permuted_benchmark(
        functools.partial(digits_train_test, seed), n_experiences, 64,
        seed=seed, return_task_id=return_task_id, name="PermutedDigits",
    )  # fmt: skip


def RotatedDigits(
    n_experiences: int = 5,
    rotations_list: Sequence[float] | None = None,
    return_task_id: bool = False,
    seed: int | None = 0,
) -> Benchmark:
    """Domain-incremental digits: every experience all 10 classes, images rotated.

    Experience 0 is unrotated (0 degrees); experience ``i >= 1`` rotates by an
    integer angle in [-180, 180] drawn from ``seed``, unless ``rotations_list``
    gives one angle per experience. (Avalanche's RotatedMNIST rotates the first
    experience too.) Each rotation is applied once, to the whole tensor.

    Examples
    --------
    >>> bm = RotatedDigits(n_experiences=3, rotations_list=[0, 90, 180])
    >>> bm.n_experiences, bm.n_classes
    (3, 10)

    Notebook ``02_forgetting.ipynb`` uses it for domain-incremental learning.
    """
    seed = resolve_seed(seed)
    return rotated_benchmark(
        functools.partial(digits_train_test, seed), n_experiences, rotations_list,
        seed=seed, return_task_id=return_task_id, name="RotatedDigits",
    )  # fmt: skip
