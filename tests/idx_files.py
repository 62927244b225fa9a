"""Small MNIST-format (IDX) files for tests: the published format, random pixels.

torchvision reads ``<root>/<folder>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``
when they exist, so a folder written here stands in for a download.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """One IDX file: 0, 0, type 0x08 (ubyte), ndim, big-endian uint32 dims, then the bytes."""
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, n_train: int, n_test: int, folder: str = "MNIST",
                seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The four MNIST files under ``root/folder/raw``; labels cycle 0-9, shuffled.

    Returns ``{"train": (x, y), "t10k": (x, y)}``, the arrays written.
    """
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.permutation(np.arange(n) % 10)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", x)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)
        data[prefix] = (x, y)
    return data
