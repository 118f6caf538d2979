"""The command line: malformed configs, validate, leaderboard, SIGKILL + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import TESTS, make_distribution

from vleval.cli import main


def run_cli(*args, env_paths=(), timeout=120):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (*env_paths, TESTS))}
    return subprocess.run([sys.executable, "-m", "vleval.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


TOML_SYNTAX = "[benchmarks.a]\nmodels = [{ name = 'x' }]\nlatency = { warmup = }\n"
TOML_SCHEMA = """
[benchmarks.a]
models = [{ name = "toy-moe", sweep = { experts = 4 } }]
shifts = [{ name = "toy-noise" }]
latency = { warmup = -1 }
"""


def test_malformed_toml_reports_file_and_line(tmp_path, capsys):
    path = tmp_path / "bench.toml"
    path.write_text(TOML_SYNTAX)
    assert main(["run", "--in-process", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "line 3" in err


def test_schema_violation_reports_key_path(tmp_path, capsys):
    path = tmp_path / "bench.toml"
    path.write_text(TOML_SCHEMA)
    assert main(["run", "--in-process", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert "benchmarks.a.models[0].sweep.experts: 4 is not of type 'array'" in err
    assert "benchmarks.a.latency.warmup: -1 is less than the minimum of 0" in err


def test_missing_config_file_is_a_clear_error(tmp_path, capsys):
    assert main(["run", "--in-process", "-c", str(tmp_path / "nope.toml")]) == 2
    assert "no such benchmarks file" in capsys.readouterr().err


def test_validate_names_record_and_field(tmp_path, capsys):
    good = {"schema_version": "1.0"}
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(good) + "\nnot json\n")
    assert main(["validate", str(path)]) == 2  # bad input: records that do not match the schema
    err = capsys.readouterr().err
    assert f"{path}:1" in err and "'run_id' is a required property" in err
    assert f"{path}:2: not a JSON record" in err


@pytest.mark.slow
def test_sigkill_then_resume_loses_only_the_cell_in_flight(toy_cli):
    args, env, results = toy_cli
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while time.time() < deadline and (not results.exists() or results.read_text().count("\n") < 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = results.read_text().splitlines()
    assert 1 <= len(before) < 4, "kill should land mid-run"
    resumed = subprocess.run([*args, "--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = results.read_text().splitlines()
    assert after[: len(before)] == before  # nothing rewritten
    keys = [json.loads(line)["cell_key"] for line in after]
    assert len(keys) == len(set(keys)) == 4  # every cell exactly once
    assert "resumed" in resumed.stdout
    check = run_cli("validate", str(results))
    assert check.returncode == 0, check.stderr


@pytest.mark.slow
def test_adhoc_run_and_leaderboard_formats(tmp_path):
    site = make_distribution(tmp_path / "site", "toy-dist", {"toy": "toy_plugins"}, {})
    run = run_cli("run", "--model", "toy-moe", "--model-args", "experts=4", "--shift", "toy-noise",
                  "--shift-args", "n=8", "--top-k", "1", "-o", str(tmp_path / "out"), env_paths=[site])
    assert run.returncode == 0, run.stderr
    assert "toy-moe(experts=4, top_k=1)" in run.stdout
    results = tmp_path / "out" / "adhoc.jsonl"
    for fmt in ("md", "csv", "json"):
        board = run_cli("leaderboard", str(results), "--format", fmt, env_paths=[site])
        assert board.returncode == 0, board.stderr
        assert "toy-moe(experts=4, top_k=1)" in board.stdout


PARETO_BENCH = """
[benchmarks.front]
models = [  # accuracy costs latency: slow and exact, fast and noisy, in between, and slow and noisy (dominated)
    { name = "toy-moe", args = { jitter = 0.0, delay = 0.02 } },
    { name = "toy-moe", args = { jitter = 0.6, delay = 0.0 } },
    { name = "toy-moe", args = { jitter = 0.3, delay = 0.008 } },
    { name = "toy-moe", args = { jitter = 0.6, delay = 0.02 } },
]
shifts = [{ name = "toy-noise", args = { n = 12, noise = 30.0 } }]
batch_sizes = [4]
latency = { warmup = 0, repetitions = 2 }
"""


def brute_force_front(rows: list[dict]) -> set[str]:
    """Rows no other row matches or beats on both accuracy (target) and p50 latency while beating it on one."""
    def dominates(a: dict, b: dict) -> bool:
        return (a["target"] >= b["target"] and a["p50_ms"] <= b["p50_ms"]
                and (a["target"] > b["target"] or a["p50_ms"] < b["p50_ms"]))

    return {b["label"] for b in rows if not any(dominates(a, b) for a in rows if a is not b)}


@pytest.mark.slow
def test_leaderboard_marks_the_brute_force_pareto_front(tmp_path):
    site = make_distribution(tmp_path / "site", "toy-dist", {"toy": "toy_plugins"}, {})
    (tmp_path / "b.toml").write_text(PARETO_BENCH)
    run = run_cli("run", "-c", str(tmp_path / "b.toml"), "-o", str(tmp_path / "out"), env_paths=[site])
    assert run.returncode == 0, run.stderr
    out = run_cli("leaderboard", str(tmp_path / "out" / "front.jsonl"), "--format", "json", env_paths=[site])
    (board,) = json.loads(out.stdout)
    rows = board["rows"]
    assert len(rows) == 4 and len({r["target"] for r in rows}) > 1  # accuracy really differs between variants
    front = {r["label"] for r in rows if r["pareto"]}
    assert front == brute_force_front(rows)
    assert 2 <= len(front) < len(rows)  # a trade-off, and a dominated variant
