"""Every notebook runs on MNIST when its parameters cell says so.

The README promises that one parameter swaps the bundled digits for MNIST. Here each
notebook runs top to bottom, as papermill runs it: a cell that sets new values is
inserted right after the cell tagged ``parameters``. The benchmark becomes its MNIST
twin (``"split-digits"`` -> ``"split-mnist"``, ``"permuted-digits"`` ->
``"permuted-mnist"``), every ``*EPOCHS`` becomes 1, and the MNIST files are small
IDX files written to a temporary cache folder, so nothing is downloaded. Outputs
are not compared (random pixels train to nothing); every cell must run, and the
last one checks that the notebook's benchmarks really were MNIST.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from idx_files import write_mnist
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9]*.ipynb"))
MNIST_TWIN = {"split-digits": "split-mnist", "permuted-digits": "permuted-mnist",
              "rotated-digits": "rotated-mnist"}
# 60 training images per class: notebook 04 takes the first 100 rows of an experience
N_TRAIN, N_TEST = 600, 200

BENCHMARKS_USED = """\
from cltutor.data import Benchmark
used = sorted({value.name for value in list(globals().values()) if isinstance(value, Benchmark)})
if "playground" in globals():
    used += sorted(set(playground.table["benchmark"]))
import pandas as pd  # a sweep builds its benchmarks in other processes: its table names them
used += sorted({name for value in list(globals().values())
                if isinstance(value, pd.DataFrame) and "benchmark" in value.columns
                and "seed" in value.columns for name in value["benchmark"]})
print(used)
"""


def parameters(nb: nbformat.NotebookNode) -> tuple[int, dict[str, object]]:
    """Index of the one cell tagged ``parameters``, and the values it assigns."""
    hits = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(hits) == 1, f"one cell tagged 'parameters', found {len(hits)}"
    values = {}
    for node in ast.parse(nb.cells[hits[0]].source).body:
        assert isinstance(node, ast.Assign), "the parameters cell only assigns names"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return hits[0], values


def mnist_values(values: dict[str, object]) -> dict[str, object]:
    """The parameters that turn a notebook into its MNIST version, one epoch each."""
    new = {}
    for name, value in values.items():
        if isinstance(value, str) and value in MNIST_TWIN:
            new[name] = MNIST_TWIN[value]
        elif isinstance(value, list) and value and all(v in MNIST_TWIN for v in value):
            new[name] = [MNIST_TWIN[v] for v in value]
        elif name.endswith("EPOCHS"):
            new[name] = 1
    return new


def code_cells(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_benchmarks_are_built_from_the_parameters(path):
    nb = nbformat.read(path, as_version=4)
    index, values = parameters(nb)
    names = {"BENCHMARK", "BENCHMARKS"} & set(values)
    assert names, f"the parameters cell names the benchmark: {sorted(values)}"
    by_class = re.compile(r"\b(Split|Permuted|Rotated)(Digits|MNIST|FashionMNIST|CIFAR\d+)\(")
    assert [i for i, src in code_cells(nb) if by_class.search(src)] == [], \
        "benchmarks come from get_benchmark(<parameter>, ...), not a class written in a cell"
    after = "".join(src for i, src in code_cells(nb) if i > index)
    assert all(name in after for name in names), "the parameters are used below their cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_input_sizes_are_read_from_the_data(path):
    nb = nbformat.read(path, as_version=4)
    by_hand = re.compile(r"(input_size|num_classes|minlength)=\d|input_shape=\(")
    assert [i for i, src in code_cells(nb) if by_hand.search(src)] == []


def test_mnist_values_swap_benchmarks_and_shorten_training():
    values = {"BENCHMARK": "split-digits", "DOMAIN_BENCHMARK": "permuted-digits",
              "BENCHMARKS": ["split-digits", "rotated-digits"], "EPOCHS": 5,
              "DOMAIN_EPOCHS": 3, "DEVICE": "auto"}
    assert mnist_values(values) == {
        "BENCHMARK": "split-mnist", "DOMAIN_BENCHMARK": "permuted-mnist",
        "BENCHMARKS": ["split-mnist", "rotated-mnist"], "EPOCHS": 1, "DOMAIN_EPOCHS": 1}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_mnist(path, tmp_path, monkeypatch):
    write_mnist(tmp_path / "cltutor", N_TRAIN, N_TEST)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the kernel's default dataset_root
    monkeypatch.setenv("CLTUTOR_DOWNLOAD_TIMEOUT", "1")  # a missing file fails fast
    nb = nbformat.read(path, as_version=4)
    index, values = parameters(nb)
    new = mnist_values(values)
    assert any("mnist" in str(v) for v in new.values()), f"{path.name}: no benchmark parameter"
    lines = ["# Parameters injected by tests/test_mnist_swap.py"]
    lines += [f"{name} = {value!r}" for name, value in new.items()]
    injected = nbformat.v4.new_code_cell("\n".join(lines))
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, injected)
    nb.cells.append(nbformat.v4.new_code_cell(BENCHMARKS_USED))
    client = NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, if a cell fails
    used = ast.literal_eval(nb.cells[-1].outputs[0]["text"])
    assert used, "the notebook built no benchmark"
    assert all("mnist" in name.lower() for name in used), used
