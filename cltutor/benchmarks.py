"""Continual-learning benchmarks: streams of tensor datasets.

Every benchmark here is a :class:`~cltutor.data.Benchmark` whose experiences hold
plain tensors. Class-incremental streams (:func:`class_incremental_benchmark`,
:func:`SplitDigits`) split the classes into groups, one group per experience.
Domain-incremental streams (:func:`PermutedDigits`, :func:`RotatedDigits`) show
all classes in every experience, each experience through its own fixed pixel
permutation or rotation, applied once to the whole tensor.

The ``*Digits`` benchmarks use scikit-learn's bundled 8x8 handwritten digits, so
they work offline. The torchvision ones (``SplitMNIST`` and co.) live in
:mod:`cltutor.vision`; :func:`get_benchmark` builds any of them by name.
"""

from __future__ import annotations

import functools
import importlib
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from cltutor.data import Benchmark, ClassificationDataset, Experience, Stream
from cltutor.loaders import make_generator
from cltutor.transforms import permute_pixels, rotate_images

__all__ = [
    "class_incremental_benchmark",
    "domain_incremental_benchmark",
    "digits_train_test",
    "SplitDigits",
    "PermutedDigits",
    "RotatedDigits",
    "BENCHMARKS",
    "get_benchmark",
]


# -- argument checks -----------------------------------------------------------
def _check_seed(seed: int | None) -> None:
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise TypeError(
            f"seed must be an int or None, got {seed!r}. Use seed=0 for a fixed stream, "
            f"or None to draw from torch's global generator."
        )


def _check_bool(name: str, value: bool) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}.")


def _check_n_experiences(n_experiences: int, n_classes: int | None = None) -> None:
    if not isinstance(n_experiences, int) or isinstance(n_experiences, bool):
        raise TypeError(f"n_experiences must be an int, got {n_experiences!r}. Try 5.")
    if n_classes is None:
        if n_experiences < 1:
            raise ValueError(f"n_experiences must be >= 1, got {n_experiences}. Try 5.")
        return
    if not 1 <= n_experiences <= n_classes:
        raise ValueError(
            f"n_experiences must be in [1, {n_classes}] (the number of classes), got "
            f"{n_experiences}. Use a divisor of {n_classes}, e.g. {_divisors(n_classes)}."
        )
    if n_classes % n_experiences:
        raise ValueError(
            f"n_experiences must divide the {n_classes} classes evenly, got {n_experiences}. "
            f"Use one of {_divisors(n_classes)}."
        )


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _check_dataset(name: str, ds: ClassificationDataset) -> None:
    if not isinstance(ds, ClassificationDataset):
        raise TypeError(
            f"{name} must be a cltutor ClassificationDataset, got {type(ds).__name__}. "
            f"Wrap tensors with ClassificationDataset(x, y)."
        )
    if len(ds) == 0:
        raise ValueError(f"{name} is empty; a benchmark needs at least one sample.")


def _resolve_seed(seed: int | None) -> int:
    """``seed`` itself, or one int drawn from torch's global generator when None."""
    _check_seed(seed)
    return int(torch.randint(0, 2**31 - 1, (1,))) if seed is None else seed


# -- class-incremental ---------------------------------------------------------
def _class_order(classes: Tensor, fixed_class_order, seed: int | None) -> Tensor:
    """The class order: ``fixed_class_order`` checked, or a permutation from ``seed``."""
    if fixed_class_order is None:
        return classes[torch.randperm(len(classes), generator=make_generator(seed))]
    if isinstance(fixed_class_order, (str, bytes)) or not hasattr(fixed_class_order, "__len__"):
        raise TypeError(
            f"fixed_class_order must be a sequence of class ids, got {fixed_class_order!r}."
        )
    order = torch.as_tensor(np.asarray(fixed_class_order))
    given = order.tolist()
    if order.dtype.is_floating_point or order.dtype == torch.bool or order.ndim != 1:
        raise TypeError(f"fixed_class_order must be a 1-D sequence of ints, got {given!r}.")
    if len(order) != len(classes) or not torch.equal(order.sort().values, classes):
        raise ValueError(
            f"fixed_class_order must be a permutation of the classes {classes.tolist()} "
            f"(each once), got {given}. Leave it None for a random order drawn from seed."
        )
    return order.long()


def _class_split(
    ds: ClassificationDataset, order: Tensor, per_exp: int, task_ids: bool, relabel: bool
) -> list[ClassificationDataset]:
    """Group the rows of ``ds`` by experience with one gather per tensor.

    Rows keep their relative order inside an experience; each experience's
    tensors are contiguous slices of the one gathered block.
    """
    sorted_classes, pos = order.sort()  # pos[i]: rank in the order of the i-th smallest class
    rank = pos.to(ds.device)[torch.searchsorted(sorted_classes.to(ds.device), ds.y)]  # (N,)
    exp_of_row, n_exp = rank // per_exp, len(order) // per_exp  # (N,)
    rows = torch.argsort(exp_of_row, stable=True)  # (N,) grouped by experience
    counts = torch.bincount(exp_of_row, minlength=n_exp).tolist()
    xs = ds.x.index_select(0, rows).split(counts)
    ys = (rank % per_exp if relabel else ds.y).index_select(0, rows).split(counts)
    ts = exp_of_row.index_select(0, rows).split(counts) if task_ids else [0] * n_exp
    parts = zip(xs, ys, ts, strict=True)
    return [ClassificationDataset(x, y, t, ds.transform) for x, y, t in parts]


def class_incremental_benchmark(
    train_ds: ClassificationDataset,
    test_ds: ClassificationDataset,
    n_experiences: int,
    *,
    return_task_id: bool = False,
    seed: int | None = 0,
    fixed_class_order: Sequence[int] | None = None,
    class_ids_from_zero_in_each_exp: bool = False,
    name: str = "ClassIncremental",
) -> Benchmark:
    """Split the classes of a train/test dataset pair into a stream of experiences.

    Avalanche's ``nc_benchmark`` idea on tensors: the classes are put in an order,
    cut into ``n_experiences`` equal groups, and experience ``i`` holds the rows of
    the ``i``-th group (train rows in the train stream, test rows in the test stream).

    Parameters
    ----------
    train_ds, test_ds : ClassificationDataset
        The test classes must be among the train classes.
    n_experiences : int
        Must divide the number of classes.
    return_task_id : bool, default False
        True: experience ``i`` has task label ``i`` (task-incremental); False: all 0.
    seed : int or None, default 0
        Draws the class order from a local generator (no global side effect, unlike
        Avalanche); None draws it from torch's global generator.
    fixed_class_order : sequence of int, optional
        A permutation of the classes; takes precedence over ``seed``.
    class_ids_from_zero_in_each_exp : bool, default False
        Relabel each class by its position within its experience (0, 1, ...), as
        multi-head task-incremental set-ups do. Then ``n_classes`` is the number of
        classes per experience and ``classes_order`` keeps the original ids.
    name : str
        Shown in the benchmark's repr.

    Returns
    -------
    Benchmark
        Each experience's ``classes_in_this_experience`` follows the class order.

    Examples
    --------
    >>> import torch
    >>> x, y = torch.rand(12, 3), torch.arange(12) % 4
    >>> ds = ClassificationDataset(x, y)
    >>> bm = class_incremental_benchmark(ds, ds, 2, fixed_class_order=[3, 1, 0, 2])
    >>> [e.classes_in_this_experience for e in bm.train_stream]
    [[3, 1], [0, 2]]
    >>> len(bm.train_stream[0].dataset)
    6

    Notebook ``01_quickstart.ipynb`` builds a stream this way.
    """
    _check_dataset("train_ds", train_ds)
    _check_dataset("test_ds", test_ds)
    _check_seed(seed)
    _check_bool("return_task_id", return_task_id)
    _check_bool("class_ids_from_zero_in_each_exp", class_ids_from_zero_in_each_exp)
    classes = torch.unique(train_ds.y).cpu()  # sorted ascending
    _check_n_experiences(n_experiences, len(classes))
    extra = sorted(set(test_ds.classes) - set(classes.tolist()))
    if extra:
        raise ValueError(
            f"test_ds has classes {extra} that train_ds lacks; every test class needs "
            f"training data. Drop those rows with test_ds.subset(mask)."
        )
    order = _class_order(classes, fixed_class_order, seed)
    per_exp = len(classes) // n_experiences
    relabel = class_ids_from_zero_in_each_exp
    exp_classes = order.view(n_experiences, per_exp).tolist()
    if relabel:
        exp_classes = [list(range(per_exp))] * n_experiences
    streams = []
    for stream_name, ds in (("train", train_ds), ("test", test_ds)):
        datasets = _class_split(ds, order, per_exp, return_task_id, relabel)
        exps = [Experience(d, i, exp_classes[i]) for i, d in enumerate(datasets)]
        streams.append(Stream(stream_name, exps))
    n_classes = per_exp if relabel else len(classes)
    return Benchmark(*streams, n_classes=n_classes, classes_order=order.tolist(), name=name)


# -- domain-incremental ----------------------------------------------------------
def domain_incremental_benchmark(
    train_ds: ClassificationDataset,
    test_ds: ClassificationDataset,
    views: Sequence[Callable[[Tensor], Tensor]],
    *,
    return_task_id: bool = False,
    name: str = "DomainIncremental",
) -> Benchmark:
    """One experience per view: all classes, inputs mapped once by ``views[i]``.

    ``views[i]`` takes the whole input tensor (N, ...) and returns it transformed
    (a permutation, a rotation, ...). Labels are shared by all experiences.
    """
    _check_dataset("train_ds", train_ds)
    _check_dataset("test_ds", test_ds)
    _check_bool("return_task_id", return_task_id)
    classes = train_ds.classes
    streams = []
    for stream_name, ds in (("train", train_ds), ("test", test_ds)):
        exps = []
        for i, view in enumerate(views):
            t = i if return_task_id else 0
            exp_ds = ClassificationDataset(view(ds.x), ds.y, t, ds.transform)
            exps.append(Experience(exp_ds, i, classes))
        streams.append(Stream(stream_name, exps))
    return Benchmark(*streams, n_classes=len(classes), classes_order=classes, name=name)


def permutation_views(n_experiences: int, n_values: int, seed: int | None) -> list[Callable]:
    """Identity for experience 0, then one random permutation of ``n_values`` each."""
    _check_n_experiences(n_experiences)
    gen = make_generator(seed)
    perms = [torch.arange(n_values)]
    perms += [torch.randperm(n_values, generator=gen) for _ in range(n_experiences - 1)]
    return [functools.partial(permute_pixels, perm=p) for p in perms]


def rotation_angles(
    n_experiences: int, rotations_list: Sequence[float] | None, seed: int | None
) -> list[float]:
    """``rotations_list`` checked, or 0 then integer angles in [-180, 180] from ``seed``."""
    _check_n_experiences(n_experiences)
    if rotations_list is None:
        drawn = torch.randint(-180, 181, (n_experiences - 1,), generator=make_generator(seed))
        return [0.0] + [float(a) for a in drawn]
    angles = list(rotations_list)
    if len(angles) != n_experiences:
        raise ValueError(
            f"rotations_list must hold one angle per experience ({n_experiences}), got "
            f"{len(angles)}: {angles}. Pass n_experiences={len(angles)} or fix the list."
        )
    for a in angles:
        if isinstance(a, bool) or not isinstance(a, numbers.Real) or not -180 <= a <= 180:
            raise ValueError(
                f"rotations_list angles must be numbers of degrees in [-180, 180], got {a!r}. "
                f"Example: rotations_list=[0, 45, 90]."
            )
    return [float(a) for a in angles]


# -- the bundled digits ----------------------------------------------------------
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

    seed = _resolve_seed(seed)
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
    return_task_id: bool = False,
    seed: int | None = 0,
    fixed_class_order: Sequence[int] | None = None,
    class_ids_from_zero_in_each_exp: bool = False,
) -> Benchmark:
    """Class-incremental handwritten digits, offline: SplitMNIST's little sibling.

    scikit-learn's bundled 8x8 digits (1,797 images, nothing downloads) split 80/20
    into train and test, stratified by class, then into ``n_experiences`` groups
    of classes by :func:`class_incremental_benchmark`.

    Parameters
    ----------
    n_experiences : int, default 5
        Must divide 10: 1, 2, 5 or 10.
    return_task_id : bool, default False
        True gives experience ``i`` task label ``i``.
    seed : int or None, default 0
        Fixes the train/test split and the class order; None draws both from
        torch's global generator.
    fixed_class_order : sequence of int, optional
        A permutation of 0..9 used instead of a random order.
    class_ids_from_zero_in_each_exp : bool, default False
        Relabel classes 0, 1, ... inside each experience.

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

    Notebook ``01_quickstart.ipynb`` trains on it; ``02_forgetting.ipynb`` shows
    what Naive forgets.
    """
    seed = _resolve_seed(seed)
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
    _check_n_experiences(n_experiences)
    seed = _resolve_seed(seed)
    train_ds, test_ds = digits_train_test(seed)
    views = permutation_views(n_experiences, train_ds.x[0].numel(), seed)
    return domain_incremental_benchmark(
        train_ds, test_ds, views, return_task_id=return_task_id, name="PermutedDigits"
    )


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
    seed = _resolve_seed(seed)
    angles = rotation_angles(n_experiences, rotations_list, seed)
    train_ds, test_ds = digits_train_test(seed)
    views = [functools.partial(rotate_images, angle=a) for a in angles]
    return domain_incremental_benchmark(
        train_ds, test_ds, views, return_task_id=return_task_id, name="RotatedDigits"
    )


# -- registry --------------------------------------------------------------------
#: Benchmark names accepted by :func:`get_benchmark` (the command line and the
#: playground), each mapped to the function that builds it.
BENCHMARKS: dict[str, str] = {
    "split-digits": "SplitDigits",
    "permuted-digits": "PermutedDigits",
    "rotated-digits": "RotatedDigits",
    "split-mnist": "SplitMNIST",
    "permuted-mnist": "PermutedMNIST",
    "rotated-mnist": "RotatedMNIST",
    "split-fmnist": "SplitFashionMNIST",
    "split-cifar10": "SplitCIFAR10",
    "split-cifar100": "SplitCIFAR100",
}


def get_benchmark(name: str, **kwargs) -> Benchmark:
    """Build the benchmark registered under ``name`` with ``kwargs``.

    Examples
    --------
    >>> get_benchmark("split-digits", n_experiences=2, seed=1).n_experiences
    2
    """
    if name not in BENCHMARKS:
        raise ValueError(
            f"benchmark must be one of {list(BENCHMARKS)}, got {name!r}. "
            f"Try 'split-digits' (offline)."
        )
    builder = BENCHMARKS[name]
    module = globals() if builder in globals() else vars(importlib.import_module("cltutor.vision"))
    return module[builder](**kwargs)
