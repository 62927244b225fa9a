"""Words a student should never see: the project's internal names for its source documents.

The notebooks and every docstring reachable by ``help()`` say "Avalanche's older ext_mem API"
or describe the pattern itself, never "seed document 000" or "seed 004's loop".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INTERNAL = re.compile(r"seed\s+(document|0\d\d)", re.IGNORECASE)  # across line breaks too
FILES = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("cltutor/**/*.py"),
                ROOT / "README.md", *ROOT.glob("tests/*.py")])


def text_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    return path.read_text()


def test_the_pattern_finds_the_words_it_must():
    assert INTERNAL.search("runs seed\n004's loop") and INTERNAL.search("Seed Document 000")
    assert not INTERNAL.search("seed 0 and seed=004") and not INTERNAL.search("seeds=range(3)")


@pytest.mark.parametrize("path", [p for p in FILES if p.name != "test_wording.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_internal_seed_document_names(path):
    assert [m.group(0) for m in INTERNAL.finditer(text_of(path))] == []
