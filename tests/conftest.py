from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def make_distribution(root: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """Write an importable module and a ``.dist-info`` declaring ``vleval`` entry points under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    info = root / f"{name}-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[vleval]\n{lines}\n")
    return root


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """Tests never write to ``~/.cache/vleval``: the generated corpus goes to a session temp dir (subprocesses
    inherit it)."""
    saved = os.environ.get("VLEVAL_CACHE")
    os.environ["VLEVAL_CACHE"] = str(tmp_path_factory.mktemp("vleval-cache"))
    yield Path(os.environ["VLEVAL_CACHE"])
    if saved is None:
        os.environ.pop("VLEVAL_CACHE", None)
    else:
        os.environ["VLEVAL_CACHE"] = saved


def explicit_registry(*plugins):
    """A registry of exactly the toy plugins, the first-party metrics and ``plugins`` (no installed entry points)."""
    import toy_plugins

    import vleval_metrics.plugin
    from vleval.registry.discovery import Registry

    return Registry.discover(extra_plugins=[*plugins, toy_plugins, vleval_metrics.plugin], entry_points=False)


@pytest.fixture
def toy_registry():
    return explicit_registry()


def toy_benchmark(**overrides):
    bench = {
        "models": [{"name": "toy-moe", "sweep": {"experts": [2, 4]}, "scaling": [{}, {"top_k": 1}, {"prune_to": 1}]}],
        "shifts": [{"name": "toy-noise"}],
        "datasets": [{"name": "toy-questions", "args": {"n": 6}}],
        "batch_sizes": [8],
        "latency": {"warmup": 1, "repetitions": 2},
    }
    bench.update(overrides)
    return bench


TOY_CLI_BENCH = """
[benchmarks.toy]
models = [{ name = "toy-moe", args = { delay = 0.25 }, sweep = { experts = [2, 3, 4, 5] } }]
shifts = [{ name = "toy-noise", args = { n = 8 } }]
batch_sizes = [4]
latency = { warmup = 0, repetitions = 1 }
"""


@pytest.fixture
def toy_cli(tmp_path):
    """``(argv of `vleval run` on a 4-cell toy benchmark, env, results file)``, the toy plugins installed through
    a generated entry point; each cell takes about half a second."""
    make_distribution(tmp_path / "site", "toy-dist", {"toy": "toy_plugins"}, {})
    (tmp_path / "benchmarks.toml").write_text(TOY_CLI_BENCH)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(TESTS)])}
    argv = [sys.executable, "-m", "vleval.cli", "run", "-c", str(tmp_path / "benchmarks.toml"),
            "-o", str(tmp_path / "results")]
    return argv, env, tmp_path / "results" / "toy.jsonl"


def imported_modules(package: Path) -> set[str]:
    """Every module imported (``import x`` / ``from x import``) by the ``.py`` files directly in ``package``."""
    import ast

    imported: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    return imported


def registered_shifts(module) -> dict:
    """``{name: (factory, keyword arguments)}`` of the shifts a plugin module registers, through pluggy itself."""
    import pluggy

    import vleval.api.hookspecs

    manager = pluggy.PluginManager(vleval.api.hookspecs.PROJECT)
    manager.add_hookspecs(vleval.api.hookspecs)
    manager.register(module)
    seen: dict = {}
    manager.hook.register_shifts(register=lambda factory, **kw: seen.setdefault(kw["name"], (factory, kw)))
    return seen

