"""Time every tutorial notebook top to bottom and read the kernel's peak memory.

Each notebook runs in a fresh kernel through nbclient (as nbval does), on an
in-memory copy: the committed notebooks are not touched. A cell appended to the
copy reads the kernel's peak resident memory (``ru_maxrss``) at the end.

    python benchmarks/notebooks.py                  # all notebooks, 1 run each
    python benchmarks/notebooks.py --runs 3 notebooks/03_buffers.ipynb
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
PEAK_CELL = "import resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"


def run_once(path: Path) -> tuple[float, float]:
    """Seconds to execute the notebook, and the kernel's peak RSS in MiB."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    client = NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    peak_kib = int(nb.cells[-1].outputs[0]["text"].strip())
    return seconds, peak_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    print(f"{os.cpu_count()} CPUs; {args.runs} run(s) each\n")
    print("| notebook | seconds (median) | runs (s) | kernel peak RSS (MiB) |")
    print("|---|---:|---|---:|")
    for path in paths:
        runs = [run_once(path) for _ in range(args.runs)]
        seconds = [s for s, _ in runs]
        peak = max(p for _, p in runs)
        print(f"| {path.name} | {statistics.median(seconds):.1f} | "
              f"{', '.join(f'{s:.1f}' for s in seconds)} | {peak:.0f} |", flush=True)


if __name__ == "__main__":
    main()
