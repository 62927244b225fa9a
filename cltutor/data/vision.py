"""Classic image benchmarks through torchvision: SplitMNIST, PermutedMNIST and co.

torchvision's dataset classes find, download and parse the files; their
``.data``/``.targets`` arrays are then taken once into uint8 tensors of shape
``(N, C, H, W)``. MNIST's 60,000 training images are one 47 MB tensor, not 60,000
PIL images. Normalisation (and, for CIFAR, random crop + flip) is a batch
transform: it runs on each gathered minibatch, on the device that holds it.

Files live under ``dataset_root``, by default :func:`default_dataset_root`
(``$XDG_CACHE_HOME/cltutor`` or ``~/.cache/cltutor``). With ``download=True`` (the default,
for Colab and Binder) missing files are downloaded; when they are missing and cannot be
downloaded, :class:`DatasetNotFoundError` names the folder, the files expected and the
offline alternative, :func:`~cltutor.data.SplitDigits`. A server or proxy that never
answers gives that error within :data:`DOWNLOAD_TIMEOUT` seconds (30; change it with
``download_timeout=`` or ``$CLTUTOR_DOWNLOAD_TIMEOUT``) instead of hanging.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from cltutor._checks import check_bool, check_seed
from cltutor.data.benchmark import Benchmark
from cltutor.data.dataset import ClassificationDataset
from cltutor.data.download import (
    DOWNLOAD_TIMEOUT,
    resolve_download_timeout,
    socket_timeout,
    why_unreachable,
)
from cltutor.data.streams import (
    check_n_experiences,
    class_incremental_benchmark,
)
from cltutor.data.transforms import NormalizeBatch, RandomCropFlip

__all__ = [
    "DatasetNotFoundError",
    "DOWNLOAD_TIMEOUT",  # defined in cltutor.data.download; importable from here too
    "default_dataset_root",
    "load_image_dataset",
    "mnist_train_test",
    "SplitMNIST",
    "SplitFashionMNIST",
    "SplitCIFAR10",
    "SplitCIFAR100",
]


class DatasetNotFoundError(FileNotFoundError):
    """The files of a torchvision dataset are missing (and not downloaded) or unreadable."""


def default_dataset_root() -> Path:
    """``$XDG_CACHE_HOME/cltutor``, or ``~/.cache/cltutor`` when that is unset or relative.

    The XDG spec calls a relative ``XDG_CACHE_HOME`` invalid, to be ignored; followed, it
    would put the files under whatever folder the notebook runs in. The path is absolute.
    """
    cache = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(cache):
        cache = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache).absolute() / "cltutor"


# -- loading ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    torchvision_class: str
    files: tuple[str, ...]  # relative to dataset_root
    n_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


def _idx_files(folder: str) -> tuple[str, ...]:
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    names += ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    return tuple(f"{folder}/raw/{n}" for n in names)


_CIFAR10_FILES = tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6))
_SPECS = {
    "mnist": _Spec("MNIST", _idx_files("MNIST"), 10, (0.1307,), (0.3081,)),
    "fmnist": _Spec("FashionMNIST", _idx_files("FashionMNIST"), 10, (0.2860,), (0.3530,)),
    # the true per-channel std; Avalanche's (0.2023, 0.1994, 0.2010) is a known mistake
    "cifar10": _Spec(
        "CIFAR10",
        _CIFAR10_FILES + ("cifar-10-batches-py/test_batch", "cifar-10-batches-py/batches.meta"),
        10,
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
    ),
    "cifar100": _Spec(
        "CIFAR100",
        tuple(f"cifar-100-python/{n}" for n in ("train", "test", "meta")),
        100,
        (0.5071, 0.4865, 0.4409),
        (0.2673, 0.2564, 0.2762),
    ),
}


def _torchvision_class(spec: _Spec) -> type:
    import torchvision.datasets  # lazy: torchvision takes about a second to import

    return getattr(torchvision.datasets, spec.torchvision_class)


def _not_found(key: str, root: Path, missing: list[str], why: str) -> DatasetNotFoundError:
    spec = _SPECS[key]
    partly = f" (missing: {', '.join(missing)})" if len(missing) < len(spec.files) else ""
    return DatasetNotFoundError(
        f"{spec.torchvision_class} files are missing under dataset_root={str(root)!r} ({why}). "
        f"Expected files: {', '.join(spec.files)}{partly}. "
        f"Fix: pass download=True where the network is available (Colab, Binder), copy the "
        f"files there or pass dataset_root=<your folder>, or use the offline benchmark "
        f"SplitDigits(), which needs no files."
    )


def _unreadable(key: str, root: Path, err: Exception) -> DatasetNotFoundError:
    spec = _SPECS[key]
    folder = root / Path(spec.files[0]).parent
    what = ("the published files, whose md5 sums are checked before they are unpickled"
            if spec.torchvision_class.startswith("CIFAR") else "valid IDX files")
    detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return DatasetNotFoundError(
        f"the {spec.torchvision_class} files in {str(folder)!r} must be {what}, got files "
        f"torchvision refused or could not parse ({detail}). Fix: delete them and download "
        f"again with download=True, or copy the original files there."
    )


def _mirror_urls(cls: type) -> list[str]:
    """The URLs of the first file torchvision's ``cls`` downloads, one per mirror."""
    if hasattr(cls, "mirrors"):  # the MNIST family: several mirrors of each file
        return [mirror + cls.resources[0][0] for mirror in cls.mirrors]
    return [cls.url]  # CIFAR: one archive


def _as_tensors(data, targets) -> tuple[Tensor, Tensor]:
    """torchvision's arrays as uint8 ``(N, C, H, W)`` and long ``(N,)`` tensors."""
    if isinstance(data, np.ndarray):  # CIFAR: (N, H, W, C) NumPy
        x = torch.from_numpy(data).permute(0, 3, 1, 2).contiguous()
    else:  # MNIST family: (N, H, W) tensor
        x = data.unsqueeze(1)
    return x, torch.as_tensor(targets, dtype=torch.long)


def load_image_dataset(
    key: str,
    dataset_root: str | os.PathLike | None = None,
    download: bool = True,
    check_integrity: bool = True,
    download_timeout: float | None = None,
) -> tuple[ClassificationDataset, ClassificationDataset]:
    """Train and test sets of ``key`` ("mnist", "fmnist", "cifar10", "cifar100").

    Images stay uint8 ``(N, C, H, W)``; the datasets carry no transform yet.
    Raises :class:`DatasetNotFoundError` when the files are missing and not
    downloaded (``download=False``, or the download failed, as a silent server does
    within ``download_timeout`` s: see :func:`SplitMNIST`), and when files present are
    unreadable (not IDX files; CIFAR files whose md5 sums differ from the published ones).
    """
    if key not in _SPECS:
        raise ValueError(f"key must be one of {list(_SPECS)}, got {key!r}.")
    if dataset_root is not None and not isinstance(dataset_root, (str, os.PathLike)):
        raise TypeError(
            f"dataset_root must be a folder path (str or Path) or None, got {dataset_root!r}."
        )
    check_bool("download", download)
    check_bool("check_integrity", check_integrity)
    if not check_integrity:  # torchvision would unpickle unverified CIFAR files
        raise ValueError(
            "check_integrity must be True, got False. Unpickling a file can run code hidden "
            "in it, so dataset files are read only after their md5 sums match the published "
            "ones. Delete files you cannot vouch for and pass download=True, or copy the originals."
        )
    timeout = resolve_download_timeout(download_timeout)
    spec = _SPECS[key]
    root = default_dataset_root() if dataset_root is None else Path(dataset_root).expanduser()
    missing = [f for f in spec.files if not (root / f).is_file()]
    if missing and not download:
        raise _not_found(key, root, missing, "download=False was given")
    cls = _torchvision_class(spec)
    # a silent server or proxy fails here, within the timeout, before torchvision starts
    if missing and (why := why_unreachable(_mirror_urls(cls), timeout)):
        raise _not_found(key, root, missing, f"the download failed: {why}")
    with socket_timeout(timeout):  # torchvision's urlopen calls give none: a stall ends
        try:
            train = cls(str(root), train=True, download=download)
            test = cls(str(root), train=False, download=False)
        except (RuntimeError, OSError, HTTPException) as err:  # torchvision's and the network's
            if missing:
                raise _not_found(key, root, missing, f"the download failed: {err}") from err
            if isinstance(err, OSError | HTTPException):
                raise
            raise _unreadable(key, root, err) from err  # a failed md5 check, a bad file
        except (AssertionError, LookupError, ValueError, TypeError) as err:  # its parsers'
            raise _unreadable(key, root, err) from err
    datasets = []
    for split in (train, test):
        x, y = _as_tensors(split.data, split.targets)
        datasets.append(ClassificationDataset(x, y))
    return datasets[0], datasets[1]


# -- benchmarks --------------------------------------------------------------------
def _split_benchmark(key: str, name: str, n_experiences: int, seed, augment: bool, **kwargs):
    """Shared body of the Split* builders: check, load, attach transforms, split."""
    check_n_experiences(n_experiences, _SPECS[key].n_classes)  # before touching files
    check_seed(seed)
    check_bool("augment", augment)
    spec = _SPECS[key]
    load_keys = ("dataset_root", "download", "check_integrity", "download_timeout")
    train_ds, test_ds = load_image_dataset(key, **{k: kwargs.pop(k) for k in load_keys})
    norm = NormalizeBatch(spec.mean, spec.std)
    train_tf = nn.Sequential(RandomCropFlip(padding=4, seed=seed), norm) if augment else norm
    return class_incremental_benchmark(
        train_ds.with_transform(train_tf),
        test_ds.with_transform(norm),
        n_experiences,
        seed=seed,
        name=name,
        **kwargs,
    )


def SplitMNIST(
    n_experiences: int = 5,
    return_task_id: bool | None = None,
    seed: int | None = 0,
    fixed_class_order: Sequence[int] | None = None,
    class_ids_from_zero_in_each_exp: bool | None = None,
    dataset_root: str | os.PathLike | None = None,
    download: bool = True,
    download_timeout: float | None = None,
    scenario: str | None = None,
) -> Benchmark:
    """Class-incremental MNIST: the 10 digits split into ``n_experiences`` groups.

    Images are stored as uint8 ``(N, 1, 28, 28)`` and normalised per batch with
    MNIST's mean 0.1307 and std 0.3081 (Avalanche's default). Arguments as
    :func:`~cltutor.data.SplitDigits`; ``seed`` fixes the class order.

    Parameters
    ----------
    dataset_root : str or Path, optional
        Folder holding ``MNIST/raw/``; None uses :func:`default_dataset_root`.
    download : bool, default True
        Download missing files. Without them (offline, or ``download=False``)
        :class:`DatasetNotFoundError` (a ``FileNotFoundError``) explains the fix.
    download_timeout : float, optional
        Seconds to wait for each answer of the download server: one that never answers
        fails within it. None: ``$CLTUTOR_DOWNLOAD_TIMEOUT``, else 30 (DOWNLOAD_TIMEOUT).

    Examples
    --------
    >>> bm = SplitMNIST(n_experiences=5, seed=0)  # doctest: +SKIP
    >>> bm.train_stream[0].dataset.x.dtype  # doctest: +SKIP
    torch.uint8

    Notebook ``08_playground.ipynb`` offers it next to SplitDigits.
    """
    return _split_benchmark(
        "mnist", "SplitMNIST", n_experiences, seed, False,
        return_task_id=return_task_id, fixed_class_order=fixed_class_order, scenario=scenario,
        class_ids_from_zero_in_each_exp=class_ids_from_zero_in_each_exp, dataset_root=dataset_root,
        download=download, check_integrity=True, download_timeout=download_timeout,
    )  # fmt: skip


def SplitFashionMNIST(
    n_experiences: int = 5,
    return_task_id: bool | None = None,
    seed: int | None = 0,
    fixed_class_order: Sequence[int] | None = None,
    class_ids_from_zero_in_each_exp: bool | None = None,
    dataset_root: str | os.PathLike | None = None,
    download: bool = True,
    download_timeout: float | None = None,
    scenario: str | None = None,
) -> Benchmark:
    """Class-incremental Fashion-MNIST (10 clothing classes), as :func:`SplitMNIST`.

    Files under ``<dataset_root>/FashionMNIST/raw/``; mean 0.2860, std 0.3530.

    Examples
    --------
    >>> bm = SplitFashionMNIST(n_experiences=2, seed=0)  # doctest: +SKIP

    Notebook ``08_playground.ipynb`` offers it.
    """
    return _split_benchmark(
        "fmnist", "SplitFashionMNIST", n_experiences, seed, False,
        return_task_id=return_task_id, fixed_class_order=fixed_class_order, scenario=scenario,
        class_ids_from_zero_in_each_exp=class_ids_from_zero_in_each_exp, dataset_root=dataset_root,
        download=download, check_integrity=True, download_timeout=download_timeout,
    )  # fmt: skip


def SplitCIFAR10(
    n_experiences: int = 5,
    return_task_id: bool | None = None,
    seed: int | None = 0,
    fixed_class_order: Sequence[int] | None = None,
    class_ids_from_zero_in_each_exp: bool | None = None,
    augment: bool = True,
    dataset_root: str | os.PathLike | None = None,
    download: bool = True,
    check_integrity: bool = True,
    download_timeout: float | None = None,
    scenario: str | None = None,
) -> Benchmark:
    """Class-incremental CIFAR-10: uint8 ``(N, 3, 32, 32)`` images, 10 classes.

    Parameters
    ----------
    augment : bool, default True
        The train stream's batch transform adds :class:`RandomCropFlip` (padding 4,
        seeded by ``seed``) before normalising; the test stream only normalises.
    check_integrity : bool, default True
        Kept so that existing calls still run; only True is accepted. The extracted
        files' md5 sums are always checked against the published ones before torchvision
        unpickles them, since a pickle can run code; False raises ValueError.

    Other arguments as :func:`SplitMNIST`; files under
    ``<dataset_root>/cifar-10-batches-py/``.

    Examples
    --------
    >>> bm = SplitCIFAR10(n_experiences=5, seed=0)  # doctest: +SKIP

    Notebook ``08_playground.ipynb`` offers it.
    """
    return _split_benchmark(
        "cifar10", "SplitCIFAR10", n_experiences, seed, augment,
        return_task_id=return_task_id, fixed_class_order=fixed_class_order, scenario=scenario,
        class_ids_from_zero_in_each_exp=class_ids_from_zero_in_each_exp, dataset_root=dataset_root,
        download=download, check_integrity=check_integrity, download_timeout=download_timeout,
    )  # fmt: skip


def SplitCIFAR100(
    n_experiences: int = 10,
    return_task_id: bool | None = None,
    seed: int | None = 0,
    fixed_class_order: Sequence[int] | None = None,
    class_ids_from_zero_in_each_exp: bool | None = None,
    augment: bool = True,
    dataset_root: str | os.PathLike | None = None,
    download: bool = True,
    check_integrity: bool = True,
    download_timeout: float | None = None,
    scenario: str | None = None,
) -> Benchmark:
    """Class-incremental CIFAR-100 (fine labels, 100 classes), as :func:`SplitCIFAR10`.

    Files under ``<dataset_root>/cifar-100-python/``.

    Examples
    --------
    >>> bm = SplitCIFAR100(n_experiences=10, seed=0)  # doctest: +SKIP

    Notebook ``08_playground.ipynb`` offers it.
    """
    return _split_benchmark(
        "cifar100", "SplitCIFAR100", n_experiences, seed, augment,
        return_task_id=return_task_id, fixed_class_order=fixed_class_order, scenario=scenario,
        class_ids_from_zero_in_each_exp=class_ids_from_zero_in_each_exp, dataset_root=dataset_root,
        download=download, check_integrity=check_integrity, download_timeout=download_timeout,
    )  # fmt: skip


def mnist_train_test(
    dataset_root: str | os.PathLike | None = None,
    download: bool = True,
    download_timeout: float | None = None,
) -> tuple[ClassificationDataset, ClassificationDataset]:
    """MNIST's train and test sets, uint8 ``(N, 1, 28, 28)``, normalised on each batch.

    The MNIST counterpart of :func:`~cltutor.data.digits_train_test`, which the
    domain-incremental builders (:mod:`~cltutor.data.mnist_domains`) permute or rotate.
    Arguments as :func:`SplitMNIST`.
    """
    train_ds, test_ds = load_image_dataset("mnist", dataset_root, download,
                                           download_timeout=download_timeout)
    norm = NormalizeBatch(_SPECS["mnist"].mean, _SPECS["mnist"].std)
    return train_ds.with_transform(norm), test_ds.with_transform(norm)
