"""How long SplitMNIST takes to build from files on disk, and how much memory it holds.

Writes full-size MNIST IDX files (60,000 + 10,000 random 28x28 images) into a
temporary folder, then, in a fresh Python process (so the file writing does not
count), builds ``SplitMNIST(dataset_root=..., download=False)`` several times.

Reported:
- build time: median of the repeats, torchvision already imported (the first,
  cold build including that import is shown separately);
- memory beyond the raw uint8 images (70,000 x 784 bytes = 54.9 MB): the bytes of
  every tensor the stream holds minus the raw images, and the process's resident
  memory growth (RSS) across one build, minus the raw images.

Targets (issue 5): build <= 2 s, memory beyond the raw data <= 100 MB.
Run: ``python benchmarks/build_splitmnist.py``.
"""

from __future__ import annotations

import gc
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPEATS = 5
RAW_BYTES = (60000 + 10000) * 28 * 28


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def write_mnist(root: Path) -> None:
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), np.uint8))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))


def rss_bytes() -> int:
    """Current resident set size of this process (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status; this script needs Linux")


def stream_bytes(bm) -> int:
    """Bytes of the distinct tensor storages the benchmark's experiences hold."""
    storages = {}
    for stream in (bm.train_stream, bm.test_stream):
        for exp in stream:
            for t in (exp.dataset.x, exp.dataset.y, exp.dataset.t):
                storage = t.untyped_storage()
                storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def measure(root: str) -> None:
    start = time.perf_counter()
    import torchvision.datasets  # noqa: F401  (torch too: once per session, not per build)

    from cltutor.data.vision import SplitMNIST

    import_s = time.perf_counter() - start
    before, peak_before = rss_bytes(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    bm = SplitMNIST(dataset_root=root, download=False)  # first build: memory measured here
    first = time.perf_counter() - start
    rss = rss_bytes() - before  # growth across the first build
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    peak_growth = peak - max(before, peak_before * 1024)
    held = stream_bytes(bm)
    del bm
    times = []
    for _ in range(REPEATS):
        gc.collect()
        start = time.perf_counter()
        bm = SplitMNIST(dataset_root=root, download=False)
        times.append(time.perf_counter() - start)
        del bm
    mb = 1e6
    rows = [
        ("import torch, torchvision, cltutor (once)", f"{import_s:.2f} s", ""),
        ("first build", f"{first:.2f} s", "<= 2 s"),
        (f"build, median of {REPEATS} more", f"{sorted(times)[REPEATS // 2]:.2f} s", "<= 2 s"),
        ("all those build times", ", ".join(f"{t:.2f}" for t in times) + " s", ""),
        ("raw uint8 images (train + test)", f"{RAW_BYTES / mb:.1f} MB", ""),
        ("tensors held beyond the raw images", f"{(held - RAW_BYTES) / mb:.1f} MB", "<= 100 MB"),
        ("RSS growth beyond the raw images", f"{(rss - RAW_BYTES) / mb:.1f} MB", "<= 100 MB"),
        ("peak RSS growth during the build", f"{peak_growth / mb:.1f} MB", ""),
    ]
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        write_mnist(Path(root))
        print("| SplitMNIST from IDX files on disk | measured | target |")
        print("|---|---|---|")
        sys.stdout.flush()
        subprocess.run([sys.executable, __file__, "--measure", root], check=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        measure(sys.argv[2])
    else:
        main()
