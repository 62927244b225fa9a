"""The spread over seeds of what a notebook's checked cells print: where its bands come from.

A trained accuracy depends on the seed and, in its last digits, on the CPU and the torch
version, so a checked cell asserts a band instead of printing the number. This script
runs in-memory copies of a notebook with every ``seed=0`` and ``torch.manual_seed(0)``
replaced by each seed in turn, and prints each checked cell's output side by side, so
that a band can be read off (and stated next to it in the notebook).

    python benchmarks/notebook_spread.py notebooks/05_replay.ipynb --seeds 0 1 2 3 4

``--all-cells`` prints every code cell's output, the trained numbers behind a band included.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

CHECK_TAG = "nbval-check-output"
SEED_PATTERNS = [(re.compile(r"\bseed=0\b"), "seed={}"),
                 (re.compile(r"manual_seed\(0\)"), "manual_seed({})")]


def is_checked(cell: nbformat.NotebookNode) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.cell_type == "code" and (CHECK_TAG in tags or "NBVAL_CHECK_OUTPUT" in cell.source)


def run_with_seed(path: Path, seed: int, all_cells: bool = False) -> dict[int, str]:
    """Cell index -> stdout of every checked cell (or every code cell), in a copy of the
    notebook run with ``seed``."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            for pattern, replacement in SEED_PATTERNS:
                cell.source = pattern.sub(replacement.format(seed), cell.source)
    client = NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return {i: "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            for i, cell in enumerate(nb.cells)
            if is_checked(cell) or (all_cells and cell.cell_type == "code" and cell.outputs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--all-cells", action="store_true",
                        help="print every code cell's output, not only the checked ones")
    args = parser.parse_args()
    runs = {seed: run_with_seed(args.notebook, seed, args.all_cells) for seed in args.seeds}
    for index in runs[args.seeds[0]]:
        print(f"===== {args.notebook.name}, cell {index}")
        for seed, outputs in runs.items():
            print(f"--- seed {seed}\n{outputs.get(index, '').rstrip()}")


if __name__ == "__main__":
    main()
