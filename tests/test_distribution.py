"""What a student installs: the notebooks' install cell, the Colab and Binder badges, binder/.

A course must not break mid-semester when ``main`` moves, so the notebooks install
the released version, ``v<project.version>``, and their badges open that version.
A release bumps ``project.version`` and this test names every place that must follow.
Binder installs cltutor from pyproject.toml with its own dependencies, so the two
cannot drift; ``binder/requirements.txt`` only pins the CPU builds of PyTorch.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import tomllib
from IPython.core.inputtransformer2 import TransformerManager
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
REPOSITORY = "github.com/cltutor/cltutor"
DEPENDENCIES = {Requirement(d).name: Requirement(d) for d in PROJECT["dependencies"]}


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def install_cell(path: Path) -> str:
    code = [source(c) for c in cells(path) if c["cell_type"] == "code"]
    installs = [i for i, src in enumerate(code) if "%pip install" in src]
    assert installs == [0], f"{path.name}: the first code cell, and only it, installs cltutor"
    return code[0]


# -- the install cell ---------------------------------------------------------------
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_install_cell_pins_the_released_version(path):
    pins = re.findall(r"git\+https://([\w./-]+?)@v([\w.]+)\"", install_cell(path))
    assert pins == [(REPOSITORY, VERSION)], \
        f"install 'cltutor @ git+https://{REPOSITORY}@v{VERSION}' (project.version)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_badge_opens_the_released_version(path):
    first = source(cells(path)[0])
    badges = re.findall(r"colab\.research\.google\.com/github/([\w/-]+)/blob/([\w.]+)/([\w/.]+)",
                        first)
    assert badges == [("cltutor/cltutor", f"v{VERSION}", f"notebooks/{path.name}")]


class RecordingShell:
    """Stands in for IPython: records the magics a cell runs instead of running them."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line):
        self.magics.append((name, line))


@pytest.mark.parametrize(("on_colab", "importable", "installs"), [
    (True, True, True),  # Colab: always the pinned release, whatever is preinstalled
    (False, False, True),  # Kaggle, a fresh laptop kernel: cltutor is missing
    (False, True, False),  # an installed checkout (CI, Binder): leave it alone
])
def test_install_cell_runs_on_colab_or_where_cltutor_is_missing(
        monkeypatch, on_colab, importable, installs):
    shell = RecordingShell()
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", object())
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (
        (real_find_spec(name, *a) if importable else None) if name == "cltutor"
        else real_find_spec(name, *a)))
    python = TransformerManager().transform_cell(install_cell(NOTEBOOKS[0]))  # %pip -> call
    exec(python, {"get_ipython": lambda: shell})
    expected = [("pip", f'install --quiet "cltutor @ git+https://{REPOSITORY}@v{VERSION}"')]
    assert shell.magics == (expected if installs else [])


def test_every_notebook_has_the_same_install_cell():
    assert len({install_cell(p) for p in NOTEBOOKS}) == 1


# -- the README's badges ------------------------------------------------------------
def test_readme_badges_open_the_release_and_notebook_01():
    readme = (ROOT / "README.md").read_text()
    binder = re.findall(r"mybinder\.org/v2/gh/([\w/-]+)/([\w.]+)\?labpath=([\w%.]+)\)", readme)
    assert binder == [("cltutor/cltutor", f"v{VERSION}", "notebooks%2F01_quickstart.ipynb")]
    colab = re.findall(r"colab\.research\.google\.com/github/[\w/-]+/blob/([\w.]+)/", readme)
    assert colab and set(colab) == {f"v{VERSION}"}


def test_the_lecture_demo_links_open_the_voila_app_of_the_release():
    pattern = r"mybinder\.org/v2/gh/([\w/-]+)/([\w.]+)\?urlpath=voila%2Frender%2F([\w%.]+)\)"
    for document in ("README.md", "TEACHING.md"):
        links = re.findall(pattern, (ROOT / document).read_text())
        assert links == [("cltutor/cltutor", f"v{VERSION}",
                          "notebooks%2Fplayground_app.ipynb")], document
    assert (ROOT / "notebooks" / "playground_app.ipynb").exists()


# -- Binder -------------------------------------------------------------------------
def binder_requirements() -> tuple[list[str], list[Requirement]]:
    lines = [line.split("#")[0].strip()
             for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    lines = [line for line in lines if line]
    options = [line for line in lines if line.startswith("-")]
    return options, [Requirement(line) for line in lines if not line.startswith("-")]


def test_binder_pins_only_cpu_torch_and_torchvision():
    options, requirements = binder_requirements()
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    assert sorted(r.name for r in requirements) == ["torch", "torchvision"]
    for r in requirements:
        (spec,) = r.specifier
        assert spec.operator == "==" and Version(spec.version).local == "cpu", str(r)


def test_binder_torch_pins_fit_pyproject_and_each_other():
    _, requirements = binder_requirements()
    pinned = {r.name: Version(next(iter(r.specifier)).version) for r in requirements}
    for name, version in pinned.items():
        assert DEPENDENCIES[name].specifier.contains(version.public), (name, version)
    # torchvision 0.(m + 15) is built for torch 2.m (0.15 <-> 2.0, ..., 0.26 <-> 2.11)
    assert pinned["torchvision"].minor == pinned["torch"].minor + 15


def test_binder_installs_the_package_with_its_own_dependencies():
    post_build = (ROOT / "binder" / "postBuild").read_text()
    commands = [line.strip() for line in post_build.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    installs = [c for c in commands if c.startswith("pip install")]
    assert installs and all("--no-deps" not in c for c in installs)
    # the package itself, with the [app] extra: Voila serves the lecture demo
    assert any(c.endswith(' -e ".[app]"') for c in installs), installs
    assert PROJECT["optional-dependencies"]["app"] == ["voila>=0.5"]
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o100, "postBuild is executable"


def test_binder_python_fits_requires_python():
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime)
    assert SpecifierSet(PROJECT["requires-python"]).contains(runtime.removeprefix("python-"))
