"""Tests of cltutor.data.vision on small MNIST (IDX) and CIFAR (pickle) files written to tmp_path.

The files are written here in the published formats and read back through
torchvision's dataset classes (``download=False``), the same path real files take.
Downloads go only to :class:`FakeProxy`, a proxy on 127.0.0.1 that never answers
(or answers HEAD requests only): no test reaches the real network.
"""

from __future__ import annotations

import faulthandler
import hashlib
import math
import pickle
import re
import socket
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets
from idx_files import write_mnist

from cltutor import get_benchmark
from cltutor.data import NormalizeBatch, RandomCropFlip, vision
from cltutor.data.mnist_domains import PermutedMNIST, RotatedMNIST
from cltutor.data.vision import (
    DatasetNotFoundError,
    SplitCIFAR10,
    SplitCIFAR100,
    SplitFashionMNIST,
    SplitMNIST,
    default_dataset_root,
    load_image_dataset,
)

N_TRAIN, N_TEST = 60, 20  # 6 and 2 images per class


# -- writers for the published file formats (MNIST's IDX files: tests/idx_files.py) ----
def _labels(n: int, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.arange(n) % n_classes)


def _pickle(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def write_cifar10(root: Path, per_batch: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    xs, ys = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)  # rows: R, G, B planes
        y = _labels(per_batch, 10, rng).tolist()
        _pickle(folder / name, {"data": x, "labels": y})
        xs.append(x)
        ys.append(y)
    _pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(10)]})
    return np.concatenate(xs[:5]), np.concatenate(ys[:5])


def write_cifar100(root: Path) -> None:
    rng = np.random.default_rng(2)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n in (("train", 200), ("test", 100)):
        x = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        _pickle(folder / name, {"data": x, "fine_labels": _labels(n, 100, rng).tolist()})
    _pickle(folder / "meta", {"fine_label_names": [f"c{i}" for i in range(100)]})


def publish_md5(monkeypatch, cls: type, folder: Path) -> None:
    """Record the md5 sums of the files written in ``folder`` as ``cls``'s published ones.

    For this test only. cltutor always has torchvision check the md5 sums before it
    unpickles CIFAR files, and the small files written here cannot have the real sums.
    """
    def md5(name: str) -> str:
        return hashlib.md5((folder / name).read_bytes()).hexdigest()

    monkeypatch.setattr(cls, "train_list", [[name, md5(name)] for name, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[name, md5(name)] for name, _ in cls.test_list])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5(cls.meta["filename"])})


@pytest.fixture
def mnist_root(tmp_path: Path) -> tuple[Path, dict]:
    return tmp_path, write_mnist(tmp_path, N_TRAIN, N_TEST)


def _same_stream(a, b) -> bool:
    pairs = zip(a.train_stream + a.test_stream, b.train_stream + b.test_stream, strict=True)
    return all(
        torch.equal(p.dataset.x, q.dataset.x)
        and torch.equal(p.dataset.y, q.dataset.y)
        and torch.equal(p.dataset.t, q.dataset.t)
        for p, q in pairs
    )


# -- MNIST ----------------------------------------------------------------------------
def test_split_mnist_uint8_storage_matches_the_files(mnist_root):
    root, data = mnist_root
    bm = SplitMNIST(n_experiences=5, seed=3, dataset_root=root, download=False)
    assert bm.n_classes == 10 and bm.n_experiences == 5
    for stream, prefix in ((bm.train_stream, "train"), (bm.test_stream, "t10k")):
        x_file, y_file = data[prefix]
        for exp in stream:
            ds = exp.dataset
            assert ds.x.dtype == torch.uint8 and ds.x.shape[1:] == (1, 28, 28)
            mask = np.isin(y_file, exp.classes_in_this_experience)
            # the rows of the experience's classes, in file order
            assert torch.equal(ds.x[:, 0], torch.from_numpy(x_file[mask]))
            assert ds.y.tolist() == y_file[mask].tolist()
        assert sum(len(e.dataset) for e in stream) == len(y_file)
    classes = [c for e in bm.train_stream for c in e.classes_in_this_experience]
    assert classes == bm.classes_order and sorted(classes) == list(range(10))


def test_split_mnist_batches_are_normalised_on_gather(mnist_root):
    root, _ = mnist_root
    ds = SplitMNIST(seed=0, dataset_root=root, download=False).train_stream[1].dataset
    x, y, t = ds[torch.tensor([0, 2, 3])]
    expected = (ds.x[[0, 2, 3]].double() / 255 - 0.1307) / 0.3081
    assert x.dtype == torch.float32 and torch.allclose(x.double(), expected, atol=1e-6)
    assert t.tolist() == [0, 0, 0]


def test_split_mnist_task_labels_seed_and_order(mnist_root):
    root, _ = mnist_root
    kw = {"dataset_root": root, "download": False}
    ti = SplitMNIST(n_experiences=2, return_task_id=True, seed=1, **kw)
    assert [e.task_label for e in ti.test_stream] == [0, 1]
    assert bool((ti.train_stream[1].dataset.t == 1).all())
    assert _same_stream(ti, SplitMNIST(n_experiences=2, return_task_id=True, seed=1, **kw))
    assert SplitMNIST(seed=1, **kw).classes_order != SplitMNIST(seed=2, **kw).classes_order
    fixed = SplitMNIST(fixed_class_order=list(range(10)), **kw)
    assert [e.classes_in_this_experience for e in fixed.train_stream][0] == [0, 1]


def test_split_fashion_mnist_reads_its_own_folder(tmp_path):
    data = write_mnist(tmp_path, N_TRAIN, N_TEST, folder="FashionMNIST", seed=5)
    bm = SplitFashionMNIST(n_experiences=2, seed=0, dataset_root=tmp_path, download=False)
    x = torch.cat([e.dataset.x for e in bm.train_stream])
    assert x.shape == (N_TRAIN, 1, 28, 28)
    assert torch.equal(x.sum(0)[0], torch.from_numpy(data["train"][0].astype(np.int64).sum(0)))
    x0, _, _ = bm.test_stream[0].dataset[torch.arange(2)]
    expected = (bm.test_stream[0].dataset.x[:2].float() / 255 - 0.2860) / 0.3530
    assert torch.allclose(x0, expected, atol=1e-6)


def test_permuted_mnist_one_permutation_per_experience(mnist_root):
    root, data = mnist_root
    bm = PermutedMNIST(n_experiences=3, seed=4, dataset_root=root, download=False)
    orig = torch.from_numpy(np.concatenate([data["train"][0], data["t10k"][0]])).reshape(-1, 784)
    for k, (tr, te) in enumerate(zip(bm.train_stream, bm.test_stream, strict=True)):
        xk = torch.cat([tr.dataset.x, te.dataset.x]).reshape(-1, 784)
        assert xk.dtype == torch.uint8
        assert tr.classes_in_this_experience == list(range(10))
        # recover the permutation from the random images (a random projection of each pixel
        # column is a unique key), then check it exactly
        w = torch.rand(len(orig), dtype=torch.float64)
        key_old, key_new = orig.T.double() @ w, xk.T.double() @ w  # (784,) each
        assert len(key_old.unique()) == 784
        sorted_old, pos = key_old.sort()
        perm = pos[torch.searchsorted(sorted_old, key_new).clamp(max=783)]
        assert sorted(perm.tolist()) == list(range(784))
        assert torch.equal(xk, orig[:, perm])
        assert torch.equal(perm, torch.arange(784)) == (k == 0)  # identity only first
    assert _same_stream(bm, PermutedMNIST(3, seed=4, dataset_root=root, download=False))


def test_rotated_mnist_right_angles_and_task_labels(mnist_root):
    root, data = mnist_root
    bm = RotatedMNIST(3, [0, 90, 180], return_task_id=True, dataset_root=root, download=False)
    x = torch.from_numpy(data["train"][0])[:, None]
    assert torch.equal(bm.train_stream[0].dataset.x, x)
    assert torch.equal(bm.train_stream[1].dataset.x, torch.rot90(x, 1, (-2, -1)))
    assert torch.equal(bm.train_stream[2].dataset.x, torch.rot90(x, 2, (-2, -1)))
    assert [e.task_label for e in bm.train_stream] == [0, 1, 2]
    drawn = RotatedMNIST(3, seed=0, dataset_root=root, download=False)
    assert torch.equal(drawn.train_stream[0].dataset.x, x)
    assert not torch.equal(drawn.train_stream[1].dataset.x, x)
    assert _same_stream(drawn, RotatedMNIST(3, seed=0, dataset_root=root, download=False))


# -- CIFAR ----------------------------------------------------------------------------
def test_split_cifar10_chw_uint8_and_transforms(tmp_path, monkeypatch):
    x_file, y_file = write_cifar10(tmp_path)
    publish_md5(monkeypatch, torchvision.datasets.CIFAR10, tmp_path / "cifar-10-batches-py")
    bm = SplitCIFAR10(seed=0, dataset_root=tmp_path, download=False)
    chw = torch.from_numpy(x_file.reshape(-1, 3, 32, 32))  # CIFAR rows are R, G, B planes
    for exp in bm.train_stream:
        mask = torch.from_numpy(np.isin(y_file, exp.classes_in_this_experience))
        assert exp.dataset.x.dtype == torch.uint8
        assert torch.equal(exp.dataset.x, chw[mask])
    test_ds = bm.test_stream[0].dataset
    x, _, _ = test_ds[torch.arange(len(test_ds))]
    mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
    std = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)
    assert torch.allclose(x, (test_ds.x.float() / 255 - mean) / std, atol=1e-5)
    train_ds = bm.train_stream[0].dataset
    assert isinstance(train_ds.transform[0], RandomCropFlip)  # train stream only
    assert isinstance(test_ds.transform, NormalizeBatch)
    plain = SplitCIFAR10(augment=False, dataset_root=tmp_path, download=False)
    assert isinstance(plain.train_stream[0].dataset.transform, NormalizeBatch)


class _Tripwire:
    """Unpickled, it creates the file ``marker``: proof that a file was unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_cifar_files_failing_their_md5_are_never_unpickled(tmp_path):
    write_cifar10(tmp_path)  # our files do not have the published md5 sums
    folder, marker = tmp_path / "cifar-10-batches-py", tmp_path / "unpickled"
    _pickle(folder / "data_batch_1", {"data": _Tripwire(marker), "labels": [0]})
    where = re.escape(str(folder))
    with pytest.raises(DatasetNotFoundError, match=rf"the CIFAR10 files in '{where}' must be the "
                                                   rf"published files, whose md5 sums are "
                                                   rf"checked .*delete them"):
        SplitCIFAR10(dataset_root=tmp_path, download=False)
    assert not marker.exists()


@pytest.mark.parametrize("build", [SplitCIFAR10, SplitCIFAR100])
def test_check_integrity_false_is_refused_before_any_file_is_read(tmp_path, build):
    write_cifar10(tmp_path)
    marker = tmp_path / "unpickled"
    _pickle(tmp_path / "cifar-10-batches-py" / "data_batch_1", {"data": _Tripwire(marker)})
    with pytest.raises(ValueError, match=r"check_integrity must be True, got False\. "
                                         r"Unpickling a file can run code .*download=True"):
        build(dataset_root=tmp_path, download=False, check_integrity=False)
    with pytest.raises(ValueError, match=r"check_integrity must be True, got False"):
        load_image_dataset("mnist", tmp_path, download=False, check_integrity=False)
    assert not marker.exists()


def test_split_cifar100_hundred_classes(tmp_path, monkeypatch):
    write_cifar100(tmp_path)
    publish_md5(monkeypatch, torchvision.datasets.CIFAR100, tmp_path / "cifar-100-python")
    bm = SplitCIFAR100(
        n_experiences=10, return_task_id=True, seed=2, dataset_root=tmp_path, download=False,
    )  # fmt: skip
    assert bm.n_classes == 100 and sorted(bm.classes_order) == list(range(100))
    assert [len(e.classes_in_this_experience) for e in bm.train_stream] == [10] * 10
    assert sum(len(e.dataset) for e in bm.train_stream) == 200
    assert bm.train_stream[0].dataset.x.shape[1:] == (3, 32, 32)
    assert [e.task_label for e in bm.test_stream] == list(range(10))


# -- the batched augmentation -----------------------------------------------------------
def test_random_crop_flip_gives_a_padded_crop_or_its_mirror():
    x = torch.randint(0, 256, (64, 3, 6, 6), dtype=torch.uint8)
    out = RandomCropFlip(padding=2, seed=0)(x)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    seen = set()
    for i in range(64):  # oracle: try every offset and both orientations
        found = [
            (dy, dx, f)
            for dy in range(5)
            for dx in range(5)
            for f in (False, True)
            if torch.equal(out[i], _crop(padded[i], dy, dx, f))
        ]
        assert found, f"image {i} is no padded crop of its input"
        seen.update(found)
    assert {f for _, _, f in seen} == {False, True}  # both orientations occur
    assert len({(dy, dx) for dy, dx, _ in seen}) > 10  # offsets vary
    assert torch.equal(RandomCropFlip(padding=2, seed=0)(x), out)  # seeded


def _crop(img: torch.Tensor, dy: int, dx: int, flip: bool) -> torch.Tensor:
    crop = img[:, dy : dy + 6, dx : dx + 6]
    return crop.flip(-1) if flip else crop


def test_random_crop_flip_identity_without_padding_or_flip():
    x = torch.rand(5, 3, 8, 8)
    assert torch.equal(RandomCropFlip(padding=0, flip=False)(x), x)
    with pytest.raises(ValueError, match=r"padding must be an int >= 0, got -1"):
        RandomCropFlip(padding=-1)


# -- files, roots and errors -------------------------------------------------------------
def test_offline_error_names_root_files_and_splitdigits(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"dataset_root=.*download=False was given"):
        SplitMNIST(dataset_root=tmp_path, download=False)
    with pytest.raises(FileNotFoundError, match=r"MNIST/raw/train-images-idx3-ubyte.*SplitDigits"):
        PermutedMNIST(dataset_root=tmp_path, download=False)
    with pytest.raises(DatasetNotFoundError, match=r"cifar-100-python/meta.*SplitDigits\(\)"):
        SplitCIFAR100(dataset_root=tmp_path, download=False)


def test_offline_error_lists_the_missing_files_when_some_exist(mnist_root):
    root, _ = mnist_root
    (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(
        DatasetNotFoundError, match=r"\(missing: MNIST/raw/t10k-labels-idx1-ubyte\)"
    ):
        SplitMNIST(dataset_root=root, download=False)


@pytest.mark.parametrize("content", [
    b"four garbage files",  # torchvision: a bare AssertionError
    bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"short",
    b"",
])  # fmt: skip
@pytest.mark.parametrize("download", [False, True])
def test_v6_garbage_mnist_files_name_the_folder_and_the_fix(tmp_path, content, download):
    write_mnist(tmp_path, N_TRAIN, N_TEST)
    raw = tmp_path / "MNIST" / "raw"
    for path in raw.iterdir():
        path.write_bytes(content)
    # the files exist, so download=True downloads nothing: no network either way
    with pytest.raises(DatasetNotFoundError, match=rf"the MNIST files in '{re.escape(str(raw))}' "
                                                   rf"must be valid "
                                                   rf"IDX files, got files torchvision refused "
                                                   rf"or could not parse \(.*\)\. Fix: delete "
                                                   rf"them and download again"):
        SplitMNIST(dataset_root=tmp_path, download=download)


def test_failed_download_becomes_the_offline_error(tmp_path, monkeypatch):
    def no_network(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(vision, "why_unreachable", lambda urls, timeout: "")  # it "answers"
    monkeypatch.setattr(torchvision.datasets.MNIST, "download", no_network)
    with pytest.raises(DatasetNotFoundError, match=r"the download failed: Error downloading"):
        SplitMNIST(dataset_root=tmp_path, download=True)


def test_default_root_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_dataset_root() == tmp_path / "xdg" / "cltutor"
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "xdg" / "cltutor")):
        SplitMNIST(download=False)
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_dataset_root() == tmp_path / "home" / ".cache" / "cltutor"


@pytest.mark.parametrize("relative", ["cache", "./xdg/cache", "~/cache", ""])
def test_a_relative_xdg_cache_home_is_ignored_as_the_spec_says(tmp_path, monkeypatch, relative):
    monkeypatch.setenv("XDG_CACHE_HOME", relative)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    root = default_dataset_root()
    assert root.is_absolute() and root == tmp_path / "home" / ".cache" / "cltutor"


def test_registry_builds_the_torchvision_benchmarks(mnist_root):
    root, _ = mnist_root
    kw = {"dataset_root": root, "download": False, "seed": 2}
    assert _same_stream(get_benchmark("split-mnist", **kw), SplitMNIST(**kw))
    assert _same_stream(get_benchmark("permuted-mnist", **kw), PermutedMNIST(**kw))
    assert _same_stream(get_benchmark("rotated-mnist", **kw), RotatedMNIST(**kw))


def test_argument_errors_come_before_any_file_access(tmp_path):
    with pytest.raises(ValueError, match=r"n_experiences must divide the 10 classes.*got 4"):
        SplitMNIST(n_experiences=4, dataset_root=tmp_path, download=False)
    with pytest.raises(ValueError, match=r"n_experiences must divide the 100 classes.*got 3"):
        SplitCIFAR100(n_experiences=3, dataset_root=tmp_path, download=False)
    with pytest.raises(TypeError, match=r"dataset_root must be a folder path"):
        SplitMNIST(dataset_root=3, download=False)
    with pytest.raises(TypeError, match=r"download must be True or False, got 'no'"):
        SplitMNIST(dataset_root=tmp_path, download="no")
    with pytest.raises(TypeError, match=r"augment must be True or False, got None"):
        SplitCIFAR10(augment=None, dataset_root=tmp_path, download=False)
    with pytest.raises(ValueError, match=r"key must be one of \['mnist'"):
        load_image_dataset("svhn")


# -- downloads that cannot hang ----------------------------------------------------------
class FakeProxy:
    """An HTTP proxy on 127.0.0.1 that accepts connections and never sends a byte.

    With ``answer_head=True`` it reads each request and answers HEAD requests (200, empty),
    never any other: a server that passes a first check, then stalls. ``connections``
    counts the connections accepted; ``requests`` holds the request lines read.
    """

    def __init__(self, answer_head: bool = False):
        self.answer_head, self.connections, self.requests = answer_head, 0, []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)  # the loop looks at _stop this often
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self._accepted.append(conn)
            if self.answer_head:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            request = conn.recv(65536)
        except OSError:
            return
        self.requests.append(request.split(b"\r\n", 1)[0].decode())
        if request.startswith(b"HEAD "):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def environ(self) -> dict[str, str]:
        """The proxy variables urllib reads, all pointing here."""
        return {k: self.url for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}

    def install(self, monkeypatch) -> None:
        """Point the proxy variables here, for this test only."""
        for name, value in self.environ().items():
            monkeypatch.setenv(name, value)
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        # urlopen reads the variables once, into the opener it builds on first use
        monkeypatch.setattr(urllib.request, "_opener", None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in [*self._accepted, self._server]:
            conn.close()

    def __enter__(self) -> FakeProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@pytest.fixture
def silent_proxy(monkeypatch):
    """Every download goes to a proxy that never answers."""
    monkeypatch.delenv("CLTUTOR_DOWNLOAD_TIMEOUT", raising=False)
    with FakeProxy() as proxy:
        proxy.install(monkeypatch)
        yield proxy


def _offline_error(build, root, **kwargs) -> tuple[str, float]:
    """The message of the DatasetNotFoundError ``build`` raises, and the seconds it took.

    Should the download hang after all, the watchdog ends the test run after 60 s with
    every thread's traceback, instead of waiting forever.
    """
    faulthandler.dump_traceback_later(60, exit=True)
    start = time.monotonic()
    try:
        with pytest.raises(DatasetNotFoundError) as info:
            build(dataset_root=root, **kwargs)
    finally:
        faulthandler.cancel_dump_traceback_later()
    return str(info.value), time.monotonic() - start


def test_a_silent_proxy_gives_the_offline_error_within_the_timeout(tmp_path, silent_proxy):
    message, seconds = _offline_error(SplitMNIST, tmp_path, download_timeout=1.0)
    assert 0.9 < seconds < 1.0 + 2.0  # it waited for the proxy, once, not once per mirror
    assert silent_proxy.connections >= 1  # the request really went out
    assert f"dataset_root={str(tmp_path)!r}" in message
    assert "no answer from ossci-datasets.s3.amazonaws.com within download_timeout=1 s" in message
    assert "MNIST/raw/train-images-idx3-ubyte" in message and "SplitDigits()" in message
    assert socket.getdefaulttimeout() is None  # nothing left behind


@pytest.mark.parametrize("build, host, timeout, env", [
    (PermutedMNIST, "ossci-datasets.s3.amazonaws.com", 0.5, None),
    (RotatedMNIST, "ossci-datasets.s3.amazonaws.com", None, "0.5"),
    (SplitFashionMNIST, "fashion-mnist.s3-website.eu-central-1.amazonaws.com", None, "0.5"),
    (SplitCIFAR10, "www.cs.toronto.edu", 0.5, None),
    (SplitCIFAR100, "www.cs.toronto.edu", None, " 0.5 "),
    (SplitMNIST, "ossci-datasets.s3.amazonaws.com", 0.5, "30"),  # the argument comes first
])  # fmt: skip
def test_every_benchmark_takes_the_timeout_from_argument_or_environment(
    tmp_path, silent_proxy, monkeypatch, build, host, timeout, env
):
    if env is not None:
        monkeypatch.setenv("CLTUTOR_DOWNLOAD_TIMEOUT", env)
    message, seconds = _offline_error(build, tmp_path, download_timeout=timeout)
    assert 0.4 < seconds < 0.5 + 2.0
    assert silent_proxy.connections >= 1
    assert f"no answer from {host} within download_timeout=0.5 s" in message
    assert str(tmp_path) in message and "SplitDigits()" in message


def test_a_stall_after_the_first_answer_also_ends(tmp_path, monkeypatch):
    """The server answers the check (HEAD), then never sends the file: torchvision's own
    requests run under the timeout too."""
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://mnist.invalid/"])
    with FakeProxy(answer_head=True) as proxy:
        proxy.install(monkeypatch)
        message, seconds = _offline_error(SplitMNIST, tmp_path, download_timeout=1.0)
    assert seconds < 1.0 + 2.0  # one request timed out; no retry on another mirror
    assert proxy.requests[0] == "HEAD http://mnist.invalid/train-images-idx3-ubyte.gz HTTP/1.1"
    assert proxy.requests[1].startswith("GET http://mnist.invalid/train-images-idx3-ubyte.gz")
    assert "the download failed: timed out" in message and "SplitDigits()" in message
    assert socket.getdefaulttimeout() is None


def test_files_present_means_no_network_at_all(mnist_root, silent_proxy):
    root, _ = mnist_root
    bm = SplitMNIST(dataset_root=root, download=True, download_timeout=0.5)
    assert bm.n_experiences == 5
    assert silent_proxy.connections == 0
    assert socket.getdefaulttimeout() is None


@pytest.mark.parametrize("value, error", [
    (0, ValueError), (-1, ValueError), (math.nan, ValueError), (math.inf, ValueError),
    ("ten", TypeError), (True, TypeError),
])  # fmt: skip
def test_bad_download_timeout_is_a_clear_error(tmp_path, value, error):
    with pytest.raises(error, match=rf"download_timeout must be a finite number > 0, "
                                    rf"got {value!r}\. .*e\.g\. 60 \(default 30\)"):
        SplitMNIST(dataset_root=tmp_path, download=False, download_timeout=value)


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "ten", "30s"])
def test_bad_timeout_variable_is_a_clear_error(tmp_path, monkeypatch, text):
    monkeypatch.setenv("CLTUTOR_DOWNLOAD_TIMEOUT", text)
    with pytest.raises(ValueError, match=rf"environment variable CLTUTOR_DOWNLOAD_TIMEOUT must "
                                         rf"be a finite number > 0, got {text!r}\. .*e\.g\. 60"):
        PermutedMNIST(dataset_root=tmp_path, download=False)
