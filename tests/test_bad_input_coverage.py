"""Every id of ``../shared/reference/bad-inputs.md`` has a test, and the suite holds at
least 120 bad-input tests.

A test covers an id when its name holds the id as a word (``test_d25_...``,
``test_w18_w19_...``) or when it is marked ``@pytest.mark.bad_input("M8", "M9")``. A
bad-input test expects a clear error (``pytest.raises(..., match=...)``) or a warning
(``pytest.warns``); a parametrized one counts once per case. The tests themselves live
with the module they check (``test_dataset.py``, ``test_cli.py``, ...).
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
REFERENCE = TESTS.parent.parent / "shared" / "reference" / "bad-inputs.md"

#: The ids of bad-inputs.md, in its order.
IDS = ("D2", "D25", "D5", "D6", "D7", "D8", "D9", "D10", "D12", "D13", "D14", "D15", "D17",
       "D21", "D22", "D26", "B14", "B15", "B34", "B35", "M1", "M2", "M3", "M10", "M6", "M8",
       "M9", "N4", "N5", "N6", "N15", "N16", "N18", "N20", "N24", "N33", "U4", "U5", "U19",
       "U20", "U24", "L18", "R6", "Q22", "Q23", "Q29", "Q30", "E8", "E10", "F8", "F12", "F16",
       "F17", "W4", "W5", "W15", "W16", "W6", "W7", "W21", "W27", "W17", "W14", "W19", "W25",
       "C4", "C22", "C25", "C10", "C23", "C13", "C17", "C26", "V6")


def test_functions() -> list[tuple[str, ast.FunctionDef]]:
    """(file name, function) for every test function of the suite."""
    found = []
    for path in sorted(TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found.append((path.name, node))
    return found


test_functions.__test__ = False  # a helper, not a test


def _pytest_call(node: ast.AST, *attrs: str) -> ast.Call | None:
    """``node`` if it is a call of ``pytest.<attr>`` or ``pytest.mark.<attr>``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in attrs:
            return node
    return None


def covered_ids(func: ast.FunctionDef) -> set[str]:
    named = {m.upper() for m in re.findall(r"(?<=_)([a-z]\d{1,2})(?=_|$)", func.name)}
    for decorator in func.decorator_list:
        if (call := _pytest_call(decorator, "bad_input")) is not None:
            named |= {arg.value for arg in call.args if isinstance(arg, ast.Constant)}
    return named


def expects_a_clear_error(func: ast.FunctionDef) -> bool:
    for node in ast.walk(func):
        if (call := _pytest_call(node, "raises")) is not None:
            if any(k.arg == "match" for k in call.keywords):
                return True
        if _pytest_call(node, "warns") is not None:
            return True
    return False


def n_cases(func: ast.FunctionDef) -> int:
    """The cases of a parametrized test (a literal list per decorator; 1 otherwise)."""
    sizes = []
    for decorator in func.decorator_list:
        call = _pytest_call(decorator, "parametrize")
        if call is not None and len(call.args) > 1:
            values = call.args[1]
            sizes.append(len(values.elts) if isinstance(values, ast.List | ast.Tuple) else 1)
    return math.prod(sizes)


def test_every_bad_input_id_has_a_test():
    covered = set().union(*(covered_ids(f) for _, f in test_functions()))
    missing = [i for i in IDS if i not in covered]
    assert not missing, f"no test names these ids of bad-inputs.md: {missing}"
    # "ar1" in a name is the strategy; W18 is the control change of W19's row
    unknown = sorted(covered - set(IDS) - {"AR1", "W18"})
    assert not unknown, f"tests name ids that bad-inputs.md does not have: {unknown}"


def test_the_suite_counts_at_least_120_bad_input_tests():
    counts: dict[str, int] = {}
    for file, func in test_functions():
        if expects_a_clear_error(func):
            counts[file] = counts.get(file, 0) + n_cases(func)
    total = sum(counts.values())
    print(f"{total} bad-input tests in {len(counts)} modules")
    assert total >= 120, f"{total} bad-input tests: {counts}"


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared/reference is not beside the repo")
def test_the_ids_are_those_of_bad_inputs_md():
    listed = []
    for line in REFERENCE.read_text().splitlines():
        if m := re.match(r"\| ([A-Z]\d+(?:, [A-Z]\d+)*) \|", line):
            listed += m.group(1).split(", ")
    assert tuple(listed) == IDS
