"""Import boundaries: plugins import only ``vleval.api`` (their tests also ``vleval.testing``), and ``vleval.api``,
the bottom layer, imports nothing of vleval but itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import TESTS

ROOT = TESTS.parent
PLUGINS = ROOT / "plugins"
API = ROOT / "vleval" / "api"
ALLOWED = ("vleval.api",)
ALLOWED_IN_TESTS = (*ALLOWED, "vleval.testing")


def vleval_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a ``vleval`` module in ``path`` (``from vleval import x`` counts as
    ``vleval.x``; relative imports stay inside their own package and are skipped)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "vleval":
                found += [(node.lineno, f"vleval.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name == "vleval" or name.startswith("vleval.")]


def is_test_file(path: Path) -> bool:
    return "tests" in path.parts or path.name.startswith("test_") or path.name == "conftest.py"


def allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    return name in prefixes or name.startswith(tuple(p + "." for p in prefixes))


def violations(root: Path, check, base: Path = ROOT) -> list[str]:
    """``<file>:<line>: imports <module>`` for each import under ``root`` that ``check(path, module)`` refuses."""
    return [f"{path.relative_to(base)}:{line}: imports {name}"
            for path in sorted(root.rglob("*.py")) if ".venv" not in path.parts
            for line, name in vleval_imports(path) if not check(path, name)]


def plugin_rule(path: Path, name: str) -> bool:
    return allowed(name, ALLOWED_IN_TESTS if is_test_file(path) else ALLOWED)


def api_rule(path: Path, name: str) -> bool:
    return allowed(name, ALLOWED)


def test_plugins_import_only_vleval_api():
    files = list(PLUGINS.rglob("*.py"))
    assert len(files) >= 20  # the first-party plugins and the example distribution are all scanned
    bad = violations(PLUGINS, plugin_rule)
    assert not bad, "plugins may import only vleval.api (tests also vleval.testing):\n" + "\n".join(bad)


def test_vleval_api_imports_only_itself():
    bad = violations(API, api_rule)
    assert not bad, "vleval.api must not import the layers above it:\n" + "\n".join(bad)


@pytest.mark.parametrize(("source", "rule", "expected"), [
    ("import os\nfrom vleval.api import Model\nimport vleval.executors.runner\n", plugin_rule,
     ["x.py:3: imports vleval.executors.runner"]),
    ("from vleval import safeio\n", plugin_rule, ["x.py:1: imports vleval.safeio"]),
    ("from vleval import hookimpl, api\n", plugin_rule, ["x.py:1: imports vleval.hookimpl"]),
    ("\n\nfrom vleval.engine.tasks import run\nfrom vleval.api.files import safe_join\n", plugin_rule,
     ["x.py:3: imports vleval.engine.tasks"]),
    ("from vleval.testing import check_model\n", plugin_rule, ["x.py:1: imports vleval.testing"]),
    ("from .model import M\nfrom vleval_metrics.stats import ci\n", plugin_rule, []),
    ("from vleval.engine.latency import Recorder\n", api_rule, ["x.py:1: imports vleval.engine.latency"]),
    ("from vleval.api.items import MCItem\n", api_rule, []),
])
def test_a_violation_is_reported_with_file_and_line(tmp_path, source, rule, expected):
    (tmp_path / "x.py").write_text(source)
    assert violations(tmp_path, rule, base=tmp_path) == expected


def test_test_files_of_a_plugin_may_use_the_conformance_kit(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_plugin.py").write_text("from vleval.testing import check_model\n"
                                          "from vleval.executors.runner import run\n")
    assert violations(tmp_path, plugin_rule, base=tmp_path) == [
        "tests/test_plugin.py:2: imports vleval.executors.runner"]
