"""Stream builders: turn a train/test pair of tensor datasets into a benchmark.

Every benchmark is a :class:`~cltutor.data.Benchmark` whose experiences hold plain
tensors. :func:`class_incremental_benchmark` splits the classes into groups, one
group per experience. :func:`domain_incremental_benchmark` shows all classes in
every experience, each through its own fixed view of the inputs:
:func:`permuted_benchmark` (a pixel permutation) and :func:`rotated_benchmark`
(a rotation), applied once to the whole tensor.

The bundled digits (:mod:`cltutor.data.digits`) and the torchvision datasets
(:mod:`cltutor.data.vision`) both build their streams here.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from cltutor._checks import (
    check_bool,
    check_seed,
    is_int,
    make_generator,
)
from cltutor.data.benchmark import Benchmark, Stream, scenario_flags
from cltutor.data.dataset import ClassificationDataset, Experience
from cltutor.data.transforms import permute_pixels, rotate_images

__all__ = [
    "check_n_experiences",
    "check_dataset",
    "class_incremental_benchmark",
    "domain_incremental_benchmark",
    "permutation_views",
    "rotation_angles",
    "permuted_benchmark",
    "rotated_benchmark",
]


# -- argument checks -----------------------------------------------------------
def check_n_experiences(n_experiences: int, n_classes: int | None = None) -> None:
    """An int >= 1 that, given ``n_classes``, divides the classes evenly."""
    if not is_int(n_experiences):
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


def check_dataset(name: str, ds: ClassificationDataset) -> None:
    """A non-empty :class:`ClassificationDataset`."""
    if not isinstance(ds, ClassificationDataset):
        raise TypeError(
            f"{name} must be a cltutor ClassificationDataset, got {type(ds).__name__}. "
            f"Wrap tensors with ClassificationDataset(x, y)."
        )
    if len(ds) == 0:
        raise ValueError(f"{name} is empty; a benchmark needs at least one sample.")


def _check_pair(train_ds: ClassificationDataset, test_ds: ClassificationDataset) -> None:
    """Two non-empty datasets whose samples have the same shape (one model takes both)."""
    check_dataset("train_ds", train_ds)
    check_dataset("test_ds", test_ds)
    train_shape, test_shape = tuple(train_ds.x.shape[1:]), tuple(test_ds.x.shape[1:])
    if train_shape != test_shape:
        row = ", ".join(str(d) for d in train_shape)
        raise ValueError(
            f"test_ds inputs must have train_ds's per-sample shape {train_shape}, got "
            f"{test_shape}. One model sees both: give train and test the same features "
            f"(x of shape (N, {row}) in each)."
        )


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
    return_task_id: bool | None = None,
    seed: int | None = 0,
    fixed_class_order: Sequence[int] | None = None,
    class_ids_from_zero_in_each_exp: bool | None = None,
    name: str = "ClassIncremental",
    scenario: str | None = None,
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
    return_task_id : bool, optional
        True: experience ``i`` has task label ``i``; False: all 0. None: as ``scenario``.
    seed : int or None, default 0
        Draws the class order from a local generator (no global side effect, unlike
        Avalanche); None draws it from torch's global generator.
    fixed_class_order : sequence of int, optional
        A permutation of the classes; takes precedence over ``seed``.
    class_ids_from_zero_in_each_exp : bool, optional
        Relabel each class by its position within its experience (0, 1, ...), as
        multi-head task-incremental set-ups do. Then ``n_classes`` is the number of
        classes per experience and ``classes_order`` keeps the original ids. None: as
        ``scenario``.
    name : str
        Shown in the benchmark's repr.
    scenario : "class", "task" or "domain", optional
        The teaching shortcut for the two flags above (see
        :func:`~cltutor.data.benchmark.scenario_flags`): "class" keeps the labels and
        no task labels, "task" gives task labels and labels 0..k-1 in each task, "domain"
        labels 0..k-1 and no task labels. None: follows from the flags ("class" if none).

    Returns
    -------
    Benchmark
        Each experience's ``classes_in_this_experience`` follows the class order.

    Examples
    --------
    >>> import torch
    >>> from cltutor import ClassificationDataset
    >>> x, y = torch.rand(12, 3), torch.arange(12) % 4
    >>> ds = ClassificationDataset(x, y)
    >>> bm = class_incremental_benchmark(ds, ds, 2, fixed_class_order=[3, 1, 0, 2])
    >>> [e.classes_in_this_experience for e in bm.train_stream]
    [[3, 1], [0, 2]]
    >>> len(bm.train_stream[0].dataset)
    6

    Notebook ``01_quickstart.ipynb`` builds a stream this way.
    """
    _check_pair(train_ds, test_ds)
    check_seed(seed)
    scenario, return_task_id, relabel = scenario_flags(scenario, return_task_id,
                                                       class_ids_from_zero_in_each_exp)
    classes = torch.unique(train_ds.y).cpu()  # sorted ascending
    if classes[0] < 0:  # the dataset refuses these, unless y was changed after construction
        raise ValueError(f"train_ds class labels must be >= 0, got {int(classes[0])}. Number "
                         f"the classes from 0, e.g. torch.unique(y, return_inverse=True)[1].")
    check_n_experiences(n_experiences, len(classes))
    extra = sorted(set(test_ds.classes) - set(classes.tolist()))
    if extra:
        raise ValueError(
            f"test_ds has classes {extra} that train_ds lacks; every test class needs "
            f"training data. Drop those rows with test_ds.subset(mask)."
        )
    order = _class_order(classes, fixed_class_order, seed)
    per_exp = len(classes) // n_experiences
    exp_classes = order.view(n_experiences, per_exp).tolist()
    if relabel:
        exp_classes = [list(range(per_exp))] * n_experiences
    streams = []
    for stream_name, ds in (("train", train_ds), ("test", test_ds)):
        datasets = _class_split(ds, order, per_exp, return_task_id, relabel)
        exps = [Experience(d, i, exp_classes[i]) for i, d in enumerate(datasets)]
        streams.append(Stream(stream_name, exps))
    n_classes = per_exp if relabel else len(classes)
    return Benchmark(*streams, n_classes=n_classes, classes_order=order.tolist(), name=name,
                     scenario=scenario)


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
    _check_pair(train_ds, test_ds)
    check_bool("return_task_id", return_task_id)
    listed = isinstance(views, Sequence) and not isinstance(views, str) and len(views) > 0
    if not listed or not all(callable(v) for v in views):
        raise TypeError(f"views must be a non-empty list of functions, one per experience, got "
                        f"{views!r}. Example: views=[lambda x: x, lambda x: x.flip(-1)].")
    classes = train_ds.classes
    streams = []
    for stream_name, ds in (("train", train_ds), ("test", test_ds)):
        exps = []
        for i, view in enumerate(views):
            t = i if return_task_id else 0
            exp_ds = ClassificationDataset(view(ds.x), ds.y, t, ds.transform)
            exps.append(Experience(exp_ds, i, classes))
        streams.append(Stream(stream_name, exps))
    return Benchmark(*streams, n_classes=len(classes), classes_order=classes, name=name,
                     scenario="task" if return_task_id else "domain")


def permutation_views(n_experiences: int, n_values: int, seed: int | None) -> list[Callable]:
    """Identity for experience 0, then one random permutation of ``n_values`` each."""
    check_n_experiences(n_experiences)
    gen = make_generator(seed)
    perms = [torch.arange(n_values)]
    perms += [torch.randperm(n_values, generator=gen) for _ in range(n_experiences - 1)]
    return [functools.partial(permute_pixels, perm=p) for p in perms]


def rotation_angles(
    n_experiences: int, rotations_list: Sequence[float] | None, seed: int | None
) -> list[float]:
    """``rotations_list`` checked, or 0 then integer angles in [-180, 180] from ``seed``."""
    check_n_experiences(n_experiences)
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




def permuted_benchmark(
    load: Callable[[], tuple[ClassificationDataset, ClassificationDataset]],
    n_experiences: int,
    n_values: int,
    *,
    seed: int | None,
    return_task_id: bool,
    name: str,
) -> Benchmark:
    """Experience 0 the original inputs, experience ``i >= 1`` its own pixel permutation.

    The body of ``PermutedDigits`` and ``PermutedMNIST``. The permutations of the
    ``n_values`` values of one input (``C*H*W``) are drawn from ``seed`` before
    ``load()`` reads the train and test sets, so a bad argument fails before any file
    is touched.
    """
    check_seed(seed)
    views = permutation_views(n_experiences, n_values, seed)
    train_ds, test_ds = load()
    return domain_incremental_benchmark(
        train_ds, test_ds, views, return_task_id=return_task_id, name=name
    )


def rotated_benchmark(
    load: Callable[[], tuple[ClassificationDataset, ClassificationDataset]],
    n_experiences: int,
    rotations_list: Sequence[float] | None,
    *,
    seed: int | None,
    return_task_id: bool,
    name: str,
) -> Benchmark:
    """Experience 0 unrotated, experience ``i >= 1`` rotated by its own angle.

    The body of ``RotatedDigits`` and ``RotatedMNIST``; the angles come from
    :func:`rotation_angles`, checked before ``load()`` reads the data.
    """
    check_seed(seed)
    angles = rotation_angles(n_experiences, rotations_list, seed)
    train_ds, test_ds = load()
    views = [functools.partial(rotate_images, angle=a) for a in angles]
    return domain_incremental_benchmark(
        train_ds, test_ds, views, return_task_id=return_task_id, name=name
    )
