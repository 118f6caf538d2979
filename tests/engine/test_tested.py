"""The tested-versions record agrees with constraints.txt and pyproject.toml, and `vleval run` warns outside it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import TESTS
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from vleval.engine import tested

ROOT = TESTS.parent


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_locked_versions_are_the_ones_in_constraints_txt():
    pins = _constraints()
    assert {dist: pins[dist] for dist in tested.LOCKED} == tested.LOCKED


def test_every_dependency_is_pinned_in_constraints_txt():
    pins = _constraints()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate():
            name = req.name.lower()
            assert name in pins, f"{name} is not pinned in constraints.txt (refresh: bash tools/lock.sh)"
            assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {text!r}"


def test_oldest_versions_are_the_declared_lower_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lows = {}
    for text in project["dependencies"]:
        req = Requirement(text)
        lows[req.name] = next(s.version for s in req.specifier if s.operator == ">=")
    for dist, version in tested.OLDEST.items():
        assert version.removesuffix(".0") == lows[dist].removesuffix(".0"), (dist, version, lows[dist])


def test_warning_names_each_untested_release():
    locked, oldest = tested.LOCKED["transformers"], tested.OLDEST["transformers"]
    assert tested.untested({"torch": "2.13.0+cpu", "transformers": locked}) == []
    assert tested.untested({"torch": "2.13.0", "transformers": oldest}) == []
    found = tested.untested({"torch": "2.14.1+cu128", "transformers": "9.0.0"})
    assert found == ["torch 2.14.1 (tested: 2.13.0)", f"transformers 9.0.0 (tested: {oldest}, {locked})"]
    assert tested.untested({"torch": None, "transformers": locked}) == []


@pytest.mark.slow
def test_run_prints_one_warning_line_outside_the_tested_set(tmp_path):
    """A real `vleval run` process with transformers' reported version changed through its metadata only."""
    fake = tmp_path / "site"
    dist = fake / "transformers-9.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: transformers\nVersion: 9.0.0\n")
    config = tmp_path / "b.toml"
    config.write_text('[benchmarks.x]\nmodels = []\n')
    code = "import sys; sys.path.insert(0, sys.argv[1]); from vleval.cli import main; sys.exit(main(sys.argv[2:]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(fake), "run", "no-such-benchmark", "-c", str(config), "-o", str(tmp_path)],
        capture_output=True, text=True,
    )
    lines = [line for line in proc.stderr.splitlines() if line.startswith("warning: untested")]
    both = f"{tested.OLDEST['transformers']}, {tested.LOCKED['transformers']}"
    assert len(lines) == 1 and f"transformers 9.0.0 (tested: {both})" in lines[0]
    assert proc.returncode == 2  # the run itself then stops on the unknown benchmark, as without the warning
