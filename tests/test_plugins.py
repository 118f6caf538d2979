"""Plugin discovery through real entry points: listing, broken plugins, duplicate names, API versions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import TESTS, make_distribution

GOOD = '''
from vleval import hookimpl
VLEVAL_API_VERSION = "{api}"

@hookimpl
def register_metrics(register):
    register("{module}:Thing", name="{name}", version="2.0", description="a metric")

class Thing:
    pass
'''


def plugins_json(*paths) -> tuple[int, dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (*paths, TESTS))}
    proc = subprocess.run([sys.executable, "-m", "vleval.cli", "plugins", "--json"], capture_output=True, text=True,
                          env=env, timeout=60)
    return proc.returncode, json.loads(proc.stdout)


def test_first_party_plugins_are_listed_with_their_distribution():
    code, out = plugins_json()
    names = {(p["kind"], p["name"]): p for p in out["plugins"]}
    for key in [("metric", "retrieval-recall"), ("metric", "mc-accuracy"), ("metric", "circular-accuracy"),
                ("model", "refmoe"), ("model", "hf"), ("dataset", "karpathy"), ("dataset", "mmbench")]:
        assert key in names, key
        assert names[key]["distribution"].startswith("vleval ")
        assert names[key]["version"] and names[key]["description"]


def test_broken_plugin_is_shown_and_does_not_break_the_others(tmp_path):
    make_distribution(tmp_path, "brokenplug", {"broken": "brokenplug_mod"},
                      {"brokenplug_mod": "raise ImportError('missing dependency: libfoo')\n"})
    code, out = plugins_json(tmp_path)
    assert code != 0
    (broken,) = out["broken"]
    assert broken["plugin"] == "broken" and "brokenplug 0.1.0" in broken["distribution"]
    assert "missing dependency: libfoo" in broken["error"]
    assert any(p["name"] == "retrieval-recall" for p in out["plugins"])


def test_duplicate_name_is_an_error_naming_both_distributions(tmp_path):
    make_distribution(tmp_path / "a", "alpha-plugin", {"alpha": "alpha_mod"},
                      {"alpha_mod": GOOD.format(api="1", module="alpha_mod", name="same-name")})
    make_distribution(tmp_path / "b", "beta-plugin", {"beta": "beta_mod"},
                      {"beta_mod": GOOD.format(api="1", module="beta_mod", name="same-name")})
    code, out = plugins_json(tmp_path / "a", tmp_path / "b")
    assert code != 0
    (conflict,) = out["conflicts"]
    assert conflict["name"] == "same-name"
    assert any("alpha-plugin" in r for r in conflict["registered_by"])
    assert any("beta-plugin" in r for r in conflict["registered_by"])
    assert not any(p["name"] == "same-name" for p in out["plugins"])


def test_duplicate_name_refused_when_used(tmp_path):
    import pytest

    from vleval.plugins import PluginError, Registry

    class A:
        pass

    def plugin(version):
        mod = type(sys)(f"plug{version}")
        from vleval import hookimpl

        @hookimpl
        def register_metrics(register):
            register(A, name="dup", version=version, description="d")

        mod.register_metrics = register_metrics
        return mod

    registry = Registry.discover(extra_plugins=[plugin("1"), plugin("2")], entry_points=False)
    with pytest.raises(PluginError, match="registered twice"):
        registry.get("metric", "dup")


def test_incompatible_api_version_is_refused_with_a_clear_message(tmp_path):
    make_distribution(tmp_path, "future-plugin", {"future": "future_mod"},
                      {"future_mod": GOOD.format(api="2", module="future_mod", name="future-metric")})
    code, out = plugins_json(tmp_path)
    assert code != 0
    (broken,) = out["broken"]
    assert "API version 2" in broken["error"] and "provides 1.0" in broken["error"]
    assert not any(p["name"] == "future-metric" for p in out["plugins"])


def test_unknown_name_lists_known_ones(toy_registry):
    import pytest

    from vleval.plugins import PluginError

    with pytest.raises(PluginError, match="no model named 'nope'.*toy-moe"):
        toy_registry.get("model", "nope")
