"""Plugin discovery through real entry points: listing, broken plugins, duplicate names, API versions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
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


@pytest.mark.slow
def test_first_party_plugins_are_listed_with_their_distribution():
    code, out = plugins_json()
    names = {(p["kind"], p["name"]): p for p in out["plugins"]}
    for key in [("metric", "retrieval-recall"), ("metric", "mc-accuracy"), ("metric", "circular-accuracy"),
                ("model", "refmoe"), ("model", "hf"), ("dataset", "karpathy"), ("dataset", "mmbench")]:
        assert key in names, key
        assert names[key]["distribution"].startswith("vleval ")
        assert names[key]["version"] and names[key]["description"]


@pytest.mark.slow
def test_broken_plugin_is_shown_and_does_not_break_the_others(tmp_path):
    make_distribution(tmp_path, "brokenplug", {"broken": "brokenplug_mod"},
                      {"brokenplug_mod": "raise ImportError('missing dependency: libfoo')\n"})
    code, out = plugins_json(tmp_path)
    assert code == 2
    (broken,) = out["broken"]
    assert broken["plugin"] == "broken" and "brokenplug 0.1.0" in broken["distribution"]
    assert "missing dependency: libfoo" in broken["error"]
    assert any(p["name"] == "retrieval-recall" for p in out["plugins"])


@pytest.mark.slow
def test_duplicate_name_is_an_error_naming_both_distributions(tmp_path):
    make_distribution(tmp_path / "a", "alpha-plugin", {"alpha": "alpha_mod"},
                      {"alpha_mod": GOOD.format(api="1", module="alpha_mod", name="same-name")})
    make_distribution(tmp_path / "b", "beta-plugin", {"beta": "beta_mod"},
                      {"beta_mod": GOOD.format(api="1", module="beta_mod", name="same-name")})
    code, out = plugins_json(tmp_path / "a", tmp_path / "b")
    assert code == 2
    (conflict,) = out["conflicts"]
    assert conflict["name"] == "same-name"
    assert any("alpha-plugin" in r for r in conflict["registered_by"])
    assert any("beta-plugin" in r for r in conflict["registered_by"])
    assert not any(p["name"] == "same-name" for p in out["plugins"])


def test_duplicate_name_refused_when_used(tmp_path):
    from vleval.registry.discovery import PluginError, Registry

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


@pytest.mark.slow
def test_incompatible_api_version_is_refused_with_a_clear_message(tmp_path):
    make_distribution(tmp_path, "future-plugin", {"future": "future_mod"},
                      {"future_mod": GOOD.format(api="2", module="future_mod", name="future-metric")})
    code, out = plugins_json(tmp_path)
    assert code == 2
    (broken,) = out["broken"]
    assert "API version 2" in broken["error"] and "provides 1.0" in broken["error"]
    assert not any(p["name"] == "future-metric" for p in out["plugins"])


def test_unknown_name_lists_known_ones(toy_registry):
    from vleval.registry.discovery import PluginError

    with pytest.raises(PluginError, match="no model named 'nope'.*toy-moe"):
        toy_registry.get("model", "nope")


# -- loading you can debug: unknown hooks, VLEVAL_LOAD_PLUGINS / VLEVAL_BLOCK_PLUGINS / VLEVAL_TRACE_PLUGINS ----------

MISSPELLED = '''
from vleval.api import hookimpl

@hookimpl
def register_model(register):
    register("typo_mod:Thing", name="typo-model", version="1.0", description="never registered")
'''

UNDECORATED = '''
def register_metrics(register):
    register("plain_mod:Thing", name="plain-metric", version="1.0", description="never registered")
'''


def run_cli(*paths, env: dict[str, str] | None = None, args=("plugins", "--json")) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VLEVAL_") or k == "VLEVAL_CACHE"}
    full = {**clean, "PYTHONPATH": os.pathsep.join(str(p) for p in (*paths, TESTS)), **(env or {})}
    return subprocess.run([sys.executable, "-m", "vleval.cli", *args], capture_output=True, text=True, env=full,
                          timeout=60)


def two_good_distributions(tmp_path):
    make_distribution(tmp_path / "a", "alpha-plugin", {"alpha": "alpha_mod"},
                      {"alpha_mod": GOOD.format(api="1", module="alpha_mod", name="alpha-metric")})
    make_distribution(tmp_path / "b", "beta-plugin", {"beta": "beta_mod"},
                      {"beta_mod": GOOD.format(api="1", module="beta_mod", name="beta-metric")})
    return tmp_path / "a", tmp_path / "b"


def names(proc: subprocess.CompletedProcess) -> set[str]:
    return {p["name"] for p in json.loads(proc.stdout)["plugins"]}


@pytest.mark.slow
def test_misspelled_hook_is_a_broken_plugin_naming_plugin_distribution_and_the_fix(tmp_path):
    make_distribution(tmp_path / "t", "typo-plugin", {"typo": "typo_mod"}, {"typo_mod": MISSPELLED})
    alpha, _ = two_good_distributions(tmp_path)
    proc = run_cli(tmp_path / "t", alpha)
    assert proc.returncode == 2  # a broken plugin is bad input
    out = json.loads(proc.stdout)
    (broken,) = out["broken"]
    assert broken["plugin"] == "typo" and broken["distribution"] == "typo-plugin 0.1.0"
    assert "unknown hook 'register_model' (did you mean 'register_models'?)" in broken["error"]
    assert "typo-model" not in names(proc) and {"alpha-metric", "retrieval-recall"} <= names(proc)
    table = run_cli(tmp_path / "t", alpha, args=("plugins",))
    assert "typo-plugin 0.1.0" in table.stdout and "unknown hook 'register_model'" in table.stdout


@pytest.mark.slow
def test_hook_function_without_hookimpl_is_a_broken_plugin(tmp_path):
    make_distribution(tmp_path, "plain-plugin", {"plain": "plain_mod"}, {"plain_mod": UNDECORATED})
    (broken,) = json.loads(run_cli(tmp_path).stdout)["broken"]
    assert broken["plugin"] == "plain" and "register_metrics not decorated with @hookimpl" in broken["error"]


@pytest.mark.slow
def test_load_plugins_loads_only_the_named_entry_points(tmp_path):
    alpha, beta = two_good_distributions(tmp_path)
    first_party_metrics = names(run_cli(alpha, beta, env={"VLEVAL_LOAD_PLUGINS": "metrics"}))
    assert "retrieval-recall" in first_party_metrics and "refmoe" not in first_party_metrics
    proc = run_cli(alpha, beta, env={"VLEVAL_LOAD_PLUGINS": "alpha, metrics"})
    assert proc.returncode == 0, proc.stdout
    assert names(proc) == {"alpha-metric"} | first_party_metrics
    by_distribution = run_cli(alpha, beta, env={"VLEVAL_LOAD_PLUGINS": "beta-plugin"})
    assert names(by_distribution) == {"beta-metric"}
    nothing = run_cli(alpha, beta, env={"VLEVAL_LOAD_PLUGINS": ""})
    assert nothing.returncode == 0 and names(nothing) == set()


@pytest.mark.slow
def test_load_plugins_with_an_unknown_name_is_reported(tmp_path):
    alpha, _ = two_good_distributions(tmp_path)
    proc = run_cli(alpha, env={"VLEVAL_LOAD_PLUGINS": "alpah"})
    assert proc.returncode == 2
    (broken,) = json.loads(proc.stdout)["broken"]
    assert broken == {"plugin": "alpah", "distribution": "(VLEVAL_LOAD_PLUGINS)",
                      "error": "no installed entry point or distribution is named 'alpah'"}


@pytest.mark.slow
def test_block_plugins_skips_a_broken_plugin_and_wins_over_load(tmp_path):
    make_distribution(tmp_path / "t", "typo-plugin", {"typo": "typo_mod"}, {"typo_mod": MISSPELLED})
    alpha, beta = two_good_distributions(tmp_path)
    proc = run_cli(tmp_path / "t", alpha, beta, env={"VLEVAL_BLOCK_PLUGINS": "typo,beta"})
    assert proc.returncode == 0 and json.loads(proc.stdout)["broken"] == []
    assert "alpha-metric" in names(proc) and "beta-metric" not in names(proc)
    both = run_cli(alpha, beta, env={"VLEVAL_LOAD_PLUGINS": "alpha,beta", "VLEVAL_BLOCK_PLUGINS": "alpha-plugin"})
    assert names(both) == {"beta-metric"}


@pytest.mark.slow
def test_trace_plugins_prints_each_registration_with_kind_distribution_and_origin(tmp_path):
    make_distribution(tmp_path / "t", "typo-plugin", {"typo": "typo_mod"}, {"typo_mod": MISSPELLED})
    alpha, beta = two_good_distributions(tmp_path)
    proc = run_cli(tmp_path / "t", alpha, beta, env={"VLEVAL_TRACE_PLUGINS": "1", "VLEVAL_BLOCK_PLUGINS": "beta"})
    lines = proc.stderr.splitlines()
    assert "vleval plugins: plugin 'alpha' (alpha-plugin 0.1.0, entry point): loaded" in lines
    assert "vleval plugins: metric 'alpha-metric' 2.0 from plugin 'alpha' (alpha-plugin 0.1.0, entry point)" in lines
    assert "vleval plugins: plugin 'beta' (beta-plugin 0.1.0, entry point): skipped, blocked by VLEVAL_BLOCK_PLUGINS" \
        in lines
    assert any(line.startswith("vleval plugins: plugin 'typo' (typo-plugin 0.1.0): BROKEN: PluginError: unknown hook")
               for line in lines)
    assert any(line.startswith("vleval plugins: model 'refmoe' 0.1.0 from plugin 'refmoe' (vleval ") for line in lines)
    assert json.loads(proc.stdout)["plugins"]  # stdout stays clean JSON
    quiet = run_cli(alpha)
    assert "vleval plugins:" not in quiet.stderr


def test_trace_of_explicit_plugins_and_policy_in_process(tmp_path):
    import io

    import toy_plugins

    from vleval.registry.discovery import LoadPolicy, Registry

    stream = io.StringIO()
    registry = Registry.discover(extra_plugins=[toy_plugins], entry_points=False,
                                 policy=LoadPolicy(trace=True), trace=stream)
    assert registry.get("model", "toy-moe").origin == "explicit"
    assert ("vleval plugins: model 'toy-moe' 0.1.0 from plugin 'toy_plugins' ((registered in-process), explicit)"
            in stream.getvalue().splitlines())
    policy = LoadPolicy.from_env({"VLEVAL_LOAD_PLUGINS": " A_b ,c,", "VLEVAL_TRACE_PLUGINS": "yes"})
    assert policy == LoadPolicy(only=frozenset({"a-b", "c"}), block=frozenset(), trace=True)
    assert LoadPolicy.from_env({}) == LoadPolicy()


def test_misspelled_hook_in_an_explicit_plugin_does_not_break_the_others():
    import toy_plugins

    from vleval import hookimpl
    from vleval.registry.discovery import LoadPolicy, Registry

    class Typo:
        @hookimpl
        def register_shift(self, register):
            register(object, name="x", version="1", description="d")

    registry = Registry.discover(extra_plugins=[Typo(), toy_plugins], entry_points=False, policy=LoadPolicy())
    (broken,) = registry.broken
    assert broken.plugin == "Typo" and "unknown hook 'register_shift' (did you mean 'register_shifts'?)" in broken.error
    assert "toy-moe" in registry.items["model"] and "x" not in registry.items["shift"]
