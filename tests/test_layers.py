"""The core's layering, read from its own imports: one package per layer, every import pointing down (or within
its layer), no cycle between packages, and the README's layout naming every module with its job."""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter

from conftest import TESTS

ROOT = TESTS.parent
CORE = ROOT / "vleval"
#: bottom to top; a module may import only from its own layer or one below it
LAYERS = ["api", "registry", "testing", "config", "plan", "results", "engine", "executors", "stats", "boards",
          "report", "cli"]
#: the modules at the top of the package belong to the plugin contract (``vleval/__init__.py`` exports
#: ``hookimpl``; ``hookspecs`` and ``safeio`` are deprecated aliases of ``vleval.api`` modules)
TOP_LEVEL = {"__init__": "api", "hookspecs": "api", "safeio": "api"}


def layer_of(module: str) -> str | None:
    """``vleval.engine.execute`` -> ``engine``; ``vleval`` itself -> its contract layer; non-vleval -> None."""
    parts = module.split(".")
    if parts[0] != "vleval":
        return None
    if len(parts) == 1:
        return TOP_LEVEL["__init__"]
    return TOP_LEVEL.get(parts[1], parts[1])


def is_module(name: str) -> bool:
    return (CORE / name / "__init__.py").exists() or (CORE / f"{name}.py").exists()


def imported(path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a vleval module in ``path``, at any depth (function-level too);
    ``from vleval import x`` counts as importing ``vleval.x``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "vleval":  # a submodule, or a name of the package's face (``__version__``)
                out += [(node.lineno, f"vleval.{a.name}" if is_module(a.name) else "vleval") for a in node.names]
            else:
                out.append((node.lineno, node.module))
    return [(line, m) for line, m in out if m == "vleval" or m.startswith("vleval.")]


def edges() -> list[tuple[str, str, str]]:
    """``(importing layer, imported layer, "file:line")`` for every import between vleval's layers."""
    found = []
    for path in sorted(CORE.rglob("*.py")):
        relative = path.relative_to(CORE)
        source = TOP_LEVEL.get(relative.stem, relative.stem) if len(relative.parts) == 1 else relative.parts[0]
        for line, module in imported(path):
            target = layer_of(module)
            if target is not None and target != source:
                found.append((source, target, f"{path.relative_to(ROOT)}:{line}"))
    return found


def test_every_package_of_the_core_is_a_known_layer():
    packages = {p.name for p in CORE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in CORE.glob("*.py")}
    assert packages <= set(LAYERS), f"place the new package(s) {sorted(packages - set(LAYERS))} in LAYERS"
    assert modules <= set(TOP_LEVEL), f"a module at the top of vleval/ belongs in a layer: {modules - set(TOP_LEVEL)}"


def test_the_import_graph_between_layers_has_no_cycle():
    graph: dict[str, set[str]] = {layer: set() for layer in LAYERS}
    for source, target, _ in edges():
        graph.setdefault(source, set()).add(target)
    try:
        order = list(TopologicalSorter(graph).static_order())  # dependencies first: bottom to top
    except CycleError as exc:
        raise AssertionError(f"layers import each other in a circle: {exc.args[1]}") from None
    assert set(order) == set(LAYERS)


def test_every_import_points_down_the_layers():
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = [f"{where}: {source} imports {target}" for source, target, where in edges() if rank[target] > rank[source]]
    assert not upward, "imports that run back up a layer:\n" + "\n".join(upward)


def test_the_readme_layout_lists_every_module_with_its_job():
    """Every module of the core is named in the README's layout, under its package's line, and nothing else is."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout", 1)[1].split("\n## ", 1)[0]
    listed, package = set(), None
    for line in section.splitlines():
        if not line.startswith(" "):  # a package's line (``vleval/engine/ ...``) or another folder's
            header = re.match(r"(vleval/\w+/)", line)
            package = header.group(1) if header else None
        elif line.startswith("  ") and package:
            names = line.strip().split("  ")[0]  # an entry: its file names, two spaces, its job
            listed |= {package + name for name in re.findall(r"[\w/]+\.py", names)}
    listed |= set(re.findall(r"(vleval/\w+\.py)", section))
    actual = {str(p.relative_to(ROOT)) for p in CORE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    assert sorted(actual - listed) == [], "modules missing from the README's layout"
    assert sorted(listed - actual) == [], "the README's layout names modules that do not exist"
