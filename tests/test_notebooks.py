"""The notebooks' checked outputs hold on any machine.

nbval compares the stdout of every cell tagged ``nbval-check-output`` with the committed
output. A trained accuracy printed to three decimals only matches on the CPU and torch
version that wrote it, so checked cells print exact results (counts, quotas, shapes,
seeded sampling without training, hand-worked formulas: tagged ``exact-output`` when they
print numbers with three or more decimals) or qualitative facts and bands ("Replay
average in [0.8, 0.97]: True").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9]*.ipynb"))
PRECISE_FLOAT = re.compile(r"\d\.\d{3,}")


def checked_cells(path: Path) -> list[tuple[int, dict]]:
    cells = json.loads(path.read_text())["cells"]
    return [(i, c) for i, c in enumerate(cells)
            if c["cell_type"] == "code" and "nbval-check-output" in c["metadata"].get("tags", [])]


def stdout(cell: dict) -> str:
    return "".join("".join(o.get("text", "")) for o in cell["outputs"]
                   if o["output_type"] == "stream" and o.get("name") == "stdout")


def test_the_notebooks_are_found():
    assert len(NOTEBOOKS) == 12


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checked_cells_are_tagged_not_commented(path):
    cells = json.loads(path.read_text())["cells"]
    assert [i for i, c in enumerate(cells) if "NBVAL_CHECK_OUTPUT" in "".join(c["source"])] == []
    assert checked_cells(path), "a notebook checks at least one output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checked_cells_print_no_precise_float_unless_exact(path):
    precise = [(i, PRECISE_FLOAT.findall(stdout(c))[:3]) for i, c in checked_cells(path)
               if "exact-output" not in c["metadata"].get("tags", [])
               and PRECISE_FLOAT.search(stdout(c))]
    assert precise == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_band_checks_all_hold_in_the_committed_run(path):
    failed = [i for i, c in checked_cells(path) if re.search(r": False\b", stdout(c))]
    assert failed == []
