"""Colab's stack (tests/colab_stack.py): the package admits it, and CI's .venv-colab has it.

``.ci/run`` installs the pins that ``python3 tests/colab_stack.py`` prints into a second
virtual environment and runs the widget tests and the notebooks there; these tests tie
the three together: pyproject's ranges, the printed pins and the installed versions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import colab_stack
import pytest
from colab_stack import CI_DIFFERS, COLAB, NOT_PIP
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(colab_stack.__file__).resolve()
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PINNED = {name: version for name, version in colab_stack.ci_versions().items()
          if name not in NOT_PIP}
#: The stack's packages that cltutor itself depends on (ipython and ipykernel come with
#: ipywidgets and Jupyter).
DECLARED = {"torch", "torchvision", "numpy", "matplotlib", "ipywidgets"}


def dependencies() -> dict[str, Requirement]:
    reqs = [Requirement(line) for line in PROJECT["dependencies"]]
    return {canonicalize_name(r.name): r for r in reqs}


def test_the_constants_are_well_formed():
    assert set(CI_DIFFERS) <= set(COLAB)
    assert all(reason.strip() for _, reason in CI_DIFFERS.values())
    for name, version in COLAB.items():
        assert canonicalize_name(name) == name
        Version(version)  # a PEP 440 version, or this raises
    for version, _ in CI_DIFFERS.values():
        Version(version)
    assert "3.13" in CI_DIFFERS["python"][1] and "3.11" in CI_DIFFERS["python"][1]


def test_requires_python_admits_colab_and_ci():
    spec = SpecifierSet(PROJECT["requires-python"])
    assert spec.contains(COLAB["python"]), (PROJECT["requires-python"], COLAB["python"])
    assert spec.contains(CI_DIFFERS["python"][0])


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_every_dependency_range_admits_colabs_version(name):
    req = dependencies()[name]  # a KeyError: the stack names a dependency cltutor lost
    assert req.specifier.contains(COLAB[name], prereleases=True), (str(req), COLAB[name])
    assert req.specifier.contains(PINNED[name], prereleases=True), (str(req), PINNED[name])


def test_the_declared_stack_packages_are_exactly_the_dependencies_colab_pins():
    assert set(dependencies()) & set(COLAB) == DECLARED


def test_the_test_extra_admits_colabs_ipykernel():
    extra = {canonicalize_name(r.name): r for r in map(Requirement,
                                                      PROJECT["optional-dependencies"]["test"])}
    assert extra["ipykernel"].specifier.contains(COLAB["ipykernel"])


def test_the_script_prints_one_pin_per_package_with_the_stdlib_alone():
    # -I -S: no site-packages and no user site, so a third-party import would fail here
    out = subprocess.run([sys.executable, "-I", "-S", str(SCRIPT)], check=True,
                         capture_output=True, text=True).stdout
    lines = out.splitlines()
    assert out.endswith("\n") and "" not in lines
    expected = [f"{name}=={CI_DIFFERS[name][0] if name in CI_DIFFERS else version}"
                for name, version in COLAB.items() if name not in NOT_PIP]
    assert lines == expected
    for line in lines:
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==" and "*" not in spec.version
        assert req.name in COLAB and req.name not in NOT_PIP
    assert [line.split("==")[0] for line in lines] == list(PINNED)
    assert "python" not in {line.split("==")[0] for line in lines}


def test_ci_installs_the_printed_pins():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "tests/colab_stack.py" in ci and ".venv-colab" in ci


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def local_part_dropped(version: str) -> str:
    """``2.11.0+cu126`` -> ``2.11.0``: a CUDA or CPU build of the same release."""
    return Version(version).public


def in_colab_env() -> bool:
    """CI's .venv-colab (``.ci/run`` says so) or any environment where most pins hold."""
    if os.environ.get("CLTUTOR_COLAB_STACK") == "1":
        return True
    same = [name for name, version in PINNED.items()
            if installed(name) and Version(local_part_dropped(installed(name))) == Version(version)]
    return 2 * len(same) > len(PINNED)


def test_the_colab_environment_has_the_pinned_versions():
    if not in_colab_env():
        pytest.skip("not the Colab stack: " + ", ".join(
            f"{name} {installed(name)}" for name in PINNED))
    found = {name: installed(name) for name in PINNED}
    assert {name: found[name] and local_part_dropped(found[name]) for name in PINNED} == PINNED
    # CI's python3 (CI_DIFFERS), or Colab's own interpreter where a venv is made with it
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert python in {colab_stack.ci_versions()["python"], COLAB["python"]}
