"""The package's architecture: layers in one direction, no cycles, small files, stable names.

The import graph is read from the source with ``ast`` (imports inside functions
included), so a lazy import cannot hide a cycle or a layer violation.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import cltutor

PACKAGE = Path(cltutor.__file__).resolve().parent

#: DESIGN.md's import order: a module may import only from its own rank or a lower one.
LAYER_RANK = {
    "cltutor._checks": 0,
    "cltutor.callbacks": 0,
    "cltutor.data": 1,
    "cltutor.models": 2,
    "cltutor.memory": 2,
    "cltutor.evaluation": 2,
    "cltutor.strategies": 3,
    "cltutor.experiments": 4,
    "cltutor.sweep": 4,
    "cltutor.exercises": 4,
    "cltutor.viz": 5,
    "cltutor.__main__": 6,
    "cltutor": 6,  # the package's __init__: re-exports every layer
}

#: Every name ``from cltutor import X`` gave before the layer folders (version 1), including
#: the four picture modules it loaded on first use.
VERSION_1_NAMES = [
    "AGEM", "AGEMPlugin", "AR1", "BENCHMARKS", "BalancedExemplarsBuffer", "BaseLogger",
    "BatchLoader", "BatchRenorm2D", "Benchmark", "CWRStarPlugin", "ClassBalancedBuffer",
    "ClassificationDataset", "Clock", "ClosestToCenterSelectionStrategy",
    "DatasetNotFoundError", "EvaluationPlugin", "ExemplarsBuffer", "ExemplarsSelectionStrategy",
    "Experience", "ExperienceBalancedBuffer", "FeatureBasedExemplarsSelectionStrategy",
    "GroupBalancedDataLoader", "GroupBalancedInfiniteDataLoader", "HerdingSelectionStrategy",
    "InteractiveLogger", "LatentReplayNet", "Metric", "Naive", "ParametricBuffer",
    "PermutedDigits", "PermutedMNIST", "RandomExemplarsSelectionStrategy", "Replay",
    "ReplayDataLoader", "ReplayPlugin", "ReservoirSamplingBuffer", "RotatedDigits",
    "RotatedMNIST", "SimpleCNN", "SimpleMLP", "SplitCIFAR10", "SplitCIFAR100", "SplitDigits",
    "SplitFashionMNIST", "SplitMNIST", "Stream", "SupervisedPlugin",
    "SynapticIntelligencePlugin", "TaskBalancedDataLoader", "TextLogger", "accuracy_metrics",
    "ar1_minibatch_sizes", "average_accuracy", "average_forgetting", "average_forward_transfer",
    "backward_transfer", "bwt_metrics", "class_incremental_benchmark", "cwr_consolidate",
    "default_evaluator", "forgetting", "forgetting_metrics", "forward_transfer",
    "forward_transfer_metrics", "get_benchmark", "loss_metrics", "make_storage_policy",
    "project_gradient", "results_to_dataframe", "seen_average_accuracy", "__version__",
    "plots", "liveplot", "widgets", "playground",
]  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = package_modules()


def is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def imports_of(name: str, path: Path) -> list[tuple[str, str, int]]:
    """``(imported module, imported name or "", line)`` for every import in the file."""
    found = []
    base = name if is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:  # relative: from .x import y
                anchor = base.split(".")[: len(base.split(".")) - node.level + 1]
                source = ".".join([*anchor, *([source] if source else [])])
            for alias in node.names:
                if f"{source}.{alias.name}" in MODULES:  # from cltutor.viz import plots
                    found.append((f"{source}.{alias.name}", "", node.lineno))
                else:
                    found.append((source, alias.name, node.lineno))
    return [(mod, what, line) for mod, what, line in found if mod.split(".")[0] == "cltutor"]


def edges() -> dict[str, set[str]]:
    """Module -> the cltutor modules it imports, with the layer packages those load."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = set()
        for mod, _, _ in imports_of(name, path):
            parts = mod.split(".")
            # importing cltutor.memory.buffers from outside cltutor.memory runs that package's
            # __init__ first (from inside, the package is already loading); the root package's
            # __init__ is left out: it is the facade above every layer
            targets.add(mod)
            targets |= {package for i in range(2, len(parts))
                        if not (name + ".").startswith((package := ".".join(parts[:i])) + ".")}
        graph[name] = targets - {name}
    return graph


def layer_of(module: str) -> str:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in LAYER_RANK:
            return ".".join(parts[:i])
    raise AssertionError(f"{module} belongs to no layer of LAYER_RANK; add it there")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt] if nxt in path else [*path, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_the_graph_reader_sees_lazy_imports(tmp_path):
    source = "def f():\n    from cltutor.viz import plots\n    import cltutor.memory.loaders\n"
    path = tmp_path / "lazy.py"
    path.write_text(source)
    assert [m for m, _, _ in imports_of("cltutor.data.lazy", path)] == [
        "cltutor.viz.plots", "cltutor.memory.loaders"]


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    assert find_cycle(edges()) is None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{source} ({layer_of(source)}) imports {target} ({layer_of(target)})"
        for source, targets in sorted(graph.items())
        for target in sorted(targets)
        if LAYER_RANK[layer_of(target)] > LAYER_RANK[layer_of(source)]
    ]


def test_the_layer_check_flags_an_upward_import():
    graph = {"cltutor.memory.buffers": {"cltutor.strategies.base", "cltutor.data.dataset"}}
    assert layer_violations(graph) == [
        "cltutor.memory.buffers (cltutor.memory) imports cltutor.strategies.base "
        "(cltutor.strategies)"]


def test_imports_follow_the_layer_order():
    assert layer_violations(edges()) == []


def test_the_core_never_imports_viz():
    core = [m for m in MODULES if layer_of(m) not in ("cltutor.viz", "cltutor", "cltutor.__main__")]
    assert [m for m in core if any(t.startswith("cltutor.viz") for t in edges()[m])] == []


def test_no_private_name_imported_across_modules():
    private = [
        f"{name}:{line} imports {what} from {mod}"
        for name, path in MODULES.items()
        for mod, what, line in imports_of(name, path)
        if what.startswith("_") and not what.startswith("__") and mod != name
    ]
    assert private == []


def test_no_lookup_by_string_and_no_module_getattr():
    offenders = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
                offenders.append(f"{name}: module __getattr__")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
                called = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if called in ("import_module", "__import__", "globals"):
                    offenders.append(f"{name}:{node.lineno} calls {called}()")
    assert offenders == []


def test_no_module_over_400_lines_and_no_folder_over_8_files():
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text().splitlines())) > 400}
    assert long == {}
    folders = {p.parent for p in MODULES.values()}
    crowded = {str(f.relative_to(PACKAGE.parent)): n for f in folders
               if (n := len([p for p in f.glob("*.py") if p.name != "__init__.py"])) > 8}
    assert crowded == {}


@pytest.mark.parametrize("name", VERSION_1_NAMES)
def test_every_version_1_name_still_imports_from_cltutor(name):
    namespace: dict = {}
    exec(f"from cltutor import {name}", namespace)  # the statement a learner writes
    assert namespace[name] is getattr(cltutor, name)


def test_layer_packages_reexport_explicitly_and_match_the_top_level():
    for layer in ("data", "memory", "evaluation", "strategies", "viz"):
        package = importlib.import_module(f"cltutor.{layer}")
        assert package.__all__, layer
        for name in package.__all__:
            value = getattr(package, name)
            if hasattr(cltutor, name):
                assert getattr(cltutor, name) is value, f"cltutor.{name} != cltutor.{layer}.{name}"


def test_the_version_1_picture_modules_are_the_viz_modules():
    from cltutor import liveplot, playground, plots, widgets
    from cltutor.viz import live, panels
    from cltutor.viz import playground as viz_playground
    from cltutor.viz import plots as viz_plots

    assert (liveplot, widgets, playground, plots) == (live, panels, viz_playground, viz_plots)
