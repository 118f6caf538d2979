"""``vleval plugins --verbose``: each factory's arguments and defaults, read through the registry's lazy loader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TESTS, make_distribution

pytestmark = pytest.mark.slow  # every test runs `vleval plugins` in a subprocess

ARGS_PLUGIN = '''
from vleval.api import Metric, Task, hookimpl


class Scaled(Metric):
    task, primary = Task.RETRIEVAL, "x"

    def __init__(self, scale: float = 2.5, *extra, marker=object(), label: str = "a", **options):
        pass


def make(path, threshold=None):
    return Scaled()


@hookimpl
def register_metrics(register):
    register("toy_args:Scaled", name="toy-scaled", version="1", description="toy with many kinds of argument")
    register(make, name="toy-function", version="1", description="a plain function factory")
    register("toy_args_missing:Nothing", name="toy-missing", version="1", description="factory that cannot import")
'''


def _plugins(tmp_path: Path, *args: str, load: str) -> subprocess.CompletedProcess[str]:
    site = make_distribution(tmp_path / "site", "toy-args", {"toy-args": "toy_args"}, {"toy_args": ARGS_PLUGIN})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(TESTS)]), "VLEVAL_LOAD_PLUGINS": load}
    return subprocess.run([sys.executable, "-m", "vleval.cli", "plugins", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_verbose_json_lists_karpathy_arguments_with_defaults(tmp_path: Path) -> None:
    proc = _plugins(tmp_path, "--verbose", "--json", load="datasets")
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)["plugins"]}
    assert rows["karpathy"]["arguments"] == [
        {"name": "annotations"}, {"name": "images"}, {"name": "split", "default": "test"},
        {"name": "captions_per_image", "default": None}, {"name": "fold", "default": None},
        {"name": "fold_size", "default": 1000}, {"name": "name", "default": None},
        {"name": "max_pixels", "default": 64_000_000}, {"name": "task", "default": "retrieval"},
    ]
    assert rows["mmbench"]["arguments"] == [
        {"name": "path"}, {"name": "split", "default": None}, {"name": "name", "default": None},
        {"name": "max_pixels", "default": 64_000_000},
    ]


def test_verbose_shows_every_kind_of_parameter_and_unimportable_factories(tmp_path: Path) -> None:
    proc = _plugins(tmp_path, "-v", "--json", load="toy-args")
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)["plugins"]}
    scaled = rows["toy-scaled"]["arguments"]
    assert [a["name"] for a in scaled] == ["scale", "*extra", "marker", "label", "**options"]
    assert scaled[0] == {"name": "scale", "default": 2.5} and "default" not in scaled[1]
    assert scaled[2]["default"].startswith("<object object at")  # not JSON: its repr
    assert rows["toy-function"]["arguments"] == [{"name": "path"}, {"name": "threshold", "default": None}]
    missing = rows["toy-missing"]["arguments"]
    assert missing.startswith("unavailable: ") and "toy_args_missing" in missing


def test_verbose_table_has_an_arguments_column(tmp_path: Path) -> None:
    proc = _plugins(tmp_path, "--verbose", load="toy-args")
    assert proc.returncode == 0, proc.stderr
    assert "arguments" in proc.stdout
    assert "path, threshold=None" in proc.stdout
    assert "scale=2.5" in proc.stdout and "label='a'" in proc.stdout


def test_without_verbose_there_is_no_arguments_column(tmp_path: Path) -> None:
    proc = _plugins(tmp_path, "--json", load="toy-args")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["plugins"]
    assert rows and all("arguments" not in row for row in rows)
    table = _plugins(tmp_path, load="toy-args")
    assert "arguments" not in table.stdout and "unavailable" not in table.stdout
