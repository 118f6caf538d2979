"""Shared fixtures and helpers: this folder on ``sys.path`` (for the helper modules beside it), the quick tier's
no-process rule, a private cache, toy registries and benchmarks, toy runs shared read-only by the tests that only
inspect them, and the toy CLI."""

from __future__ import annotations

import ast
import contextlib
import json
import multiprocessing.process
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest

import vleval.api.hookspecs
from vleval.executors.runner import RunSummary, run_benchmark

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
os.environ.setdefault("OMP_NUM_THREADS", "1")
TORCH_THREADS = int(os.environ["OMP_NUM_THREADS"])  # what torch starts with here, and is kept at between tests
platform.platform()  # runs `uname -p` once per process (cached): here, not inside the first quick test that asks


@contextlib.contextmanager
def processes_refused(item: pytest.Item) -> Iterator[None]:
    """Inside, starting a process (``subprocess``, ``multiprocessing``) fails ``item`` unless it is marked slow:
    the quick tier (``-m "not slow"``) starts none."""
    if item.get_closest_marker("slow") is not None:
        yield
        return

    def refuse(*args, **kwargs):
        pytest.fail(f"{item.nodeid} starts a process (itself or through a fixture): mark it @pytest.mark.slow, or "
                    "keep it in-process (e.g. `vleval run --in-process`)", pytrace=False)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "_execute_child", refuse)
        patch.setattr(multiprocessing.process.BaseProcess, "start", refuse)
        yield


@contextlib.contextmanager
def torch_threads_kept() -> Iterator[None]:
    """Put torch's process-wide thread count back after a test (or a fixture it set up) ran cells with ``threads``
    in-process: left at 2 on this busy 2-core machine, every later torch test ran 2.5x slower."""
    try:
        yield
    finally:
        torch = sys.modules.get("torch")
        if torch is not None and torch.get_num_threads() != TORCH_THREADS:
            torch.set_num_threads(TORCH_THREADS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    with processes_refused(item), torch_threads_kept():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    with processes_refused(item), torch_threads_kept():
        return (yield)


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
    # Imported here, not at the top: drivers run in a subprocess import this module, and must load no plugin.
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


TOY_SWEEP = {"datasets": [], "models": [{"name": "toy-moe", "sweep": {"experts": [2, 4]}}]}
TOY_SCALING = {"datasets": [], "models": [{"name": "toy-moe", "sweep": {"experts": [2, 4]},
                                           "scaling": [{}, {"top_k": 1}]}]}


def _contents(summary: RunSummary) -> tuple[dict[str, bytes], str]:
    """Every file of the run's folder, and its records, to tell whether a test changed them."""
    folder = summary.path.parent
    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    return files, json.dumps(summary.records, sort_keys=True)


def shared_run(tmp_path_factory, name: str, overrides: dict):
    """Run ``toy_benchmark(**overrides)`` once, hand it out, and fail the session if a test changed it."""
    summary = run_benchmark("toy", toy_benchmark(**overrides), tmp_path_factory.mktemp(name),
                            registry=explicit_registry())
    before = _contents(summary)
    yield summary
    if _contents(summary) != before:
        pytest.fail(f"a test changed the shared {name} run (its files or records): give that test its own run")


@pytest.fixture(scope="session")
def toy_sweep_run(tmp_path_factory):
    """One toy run for the whole session, to read and never change: ``toy-moe`` at 2 and 4 experts (2 cells) on
    the toy shift. A test that changes its files or records fails the session at teardown; copy a record before
    changing it, or make a run of your own."""
    yield from shared_run(tmp_path_factory, "toy-sweep", TOY_SWEEP)


@pytest.fixture(scope="session")
def toy_scaling_run(tmp_path_factory):
    """As :func:`toy_sweep_run`, each variant also at top-1 (4 cells: 2 and 4 experts, each with ``top_k`` 1)."""
    yield from shared_run(tmp_path_factory, "toy-scaling", TOY_SCALING)


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


CLI_ERROR = "vleval: error: "


def cli_error(stderr: str) -> str:
    """The error ``vleval`` printed on ``stderr``, to its end, wherever it starts: only warnings (such as the
    untested-release one, printed first when transformers or torch is newer than the lock) may precede it."""
    assert CLI_ERROR in stderr, stderr
    before, _, error = stderr.partition(CLI_ERROR)
    assert all(line.startswith("warning: ") for line in before.splitlines()), stderr
    return CLI_ERROR + error


def imported_modules(package: Path) -> set[str]:
    """Every module imported (``import x`` / ``from x import``) by the ``.py`` files directly in ``package``."""
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
    manager = pluggy.PluginManager(vleval.api.hookspecs.PROJECT)
    manager.add_hookspecs(vleval.api.hookspecs)
    manager.register(module)
    seen: dict = {}
    manager.hook.register_shifts(register=lambda factory, **kw: seen.setdefault(kw["name"], (factory, kw)))
    return seen
