"""Cells in a worker process: a hang past cell_timeout_s, os._exit or a segfault fails one cell; the run goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import TESTS, make_distribution

BENCH = """
[benchmarks.iso]
models = [{ name = "crashing-moe", args = { experts = 2 }, sweep = { fault = ["none", "hang", "exit", "segv", "no"] } }]
shifts = [{ name = "toy-noise", args = { n = 8 } }]
batch_sizes = [4]
cell_timeout_s = 10
latency = { warmup = 0, repetitions = 1 }
"""


@pytest.fixture
def fault_cli(tmp_path):
    make_distribution(tmp_path / "site", "toy-dist", {"toy": "toy_plugins", "faults": "fault_plugins"}, {})
    (tmp_path / "b.toml").write_text(BENCH)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(TESTS)])}
    argv = [sys.executable, "-m", "vleval.cli", "run", "-c", str(tmp_path / "b.toml"), "-o", str(tmp_path / "out")]
    return argv, env, tmp_path / "out" / "iso.jsonl"


@pytest.mark.slow
def test_a_hang_or_a_crash_fails_only_its_cell(fault_cli):
    argv, env, results = fault_cli
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # some cells failed, the others ran
    assert time.monotonic() - started < 200  # the hang (600 s) was cut at the cell timeout
    records = {json.loads(line)["cell"]["model_args"]["fault"]: json.loads(line)
               for line in results.read_text().splitlines()}
    assert list(records) == ["none", "hang", "exit", "segv", "no"]  # every cell recorded once, in order
    assert records["none"]["status"] == records["no"]["status"] == "ok"  # the worker was restarted after faults
    errors = {fault: r.get("error", {}).get("message", "") for fault, r in records.items()}
    assert errors["hang"] == "timed out: no result after 10 s (cell_timeout_s); the worker was killed and restarted"
    assert errors["exit"] == "the worker process exited with code 3 while running the cell"
    assert errors["segv"] == "the worker process was killed by SIGSEGV (a crash in plugin code?)"
    assert all(records[f]["status"] == "failed" and records[f]["error"]["type"] == "CellFault"
               for f in ("hang", "exit", "segv"))
    assert records["none"]["domains"]["source"]["latency"]["timed_batches"] == 2  # measured in the worker


@pytest.mark.slow
def test_no_worker_outlives_a_killed_driver(fault_cli, tmp_path):
    argv, env, results = fault_cli
    (tmp_path / "b.toml").write_text(BENCH.replace('"none", ', ""))  # the first cell hangs
    mark = tmp_path / "hanging.pid"
    driver = subprocess.Popen(argv, env={**env, "VLEVAL_TEST_HANG_MARK": str(mark)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (mark.exists() and mark.read_text()):
        time.sleep(0.1)
    assert mark.exists(), "the worker should be hanging in the first cell"
    worker = int(mark.read_text())
    assert worker != driver.pid and _alive(worker)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.2)
    assert not _alive(worker), f"orphaned worker {worker} still running its cell"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _workers() -> list:
    import multiprocessing

    return [p for p in multiprocessing.active_children() if p.name == "vleval-worker"]


@pytest.mark.slow
def test_worker_started_early_is_stopped_when_preflight_refuses_the_benchmark(tmp_path):
    """The worker starts when its executor is constructed (its imports overlap the caller's work); a refused
    benchmark must not leave it running."""
    from conftest import toy_benchmark

    from vleval.config.load import ConfigError
    from vleval.executors.runner import run_benchmark
    from vleval.executors.worker import WorkerExecutor

    executor = WorkerExecutor()
    assert _workers(), "the worker should start with its executor"
    bench = toy_benchmark(models=[{"name": "no-such-model"}])
    with pytest.raises(ConfigError, match="no-such-model"):
        run_benchmark("toy", bench, tmp_path, executor=executor)
    assert not _workers()
    assert not (tmp_path / "toy.jsonl").exists()


@pytest.mark.slow
def test_a_registry_goes_with_the_default_executor_only(tmp_path, toy_registry):
    from conftest import toy_benchmark

    from vleval.executors.runner import run_benchmark
    from vleval.executors.worker import WorkerExecutor

    with pytest.raises(ValueError, match="registry is for the default in-process executor"):
        run_benchmark("toy", toy_benchmark(), tmp_path, registry=toy_registry, executor=WorkerExecutor())
    assert not _workers() and not (tmp_path / "toy.jsonl").exists()


DRIVER = """
import json, sys
from vleval.config.load import ConfigError
from vleval.executors.runner import run_benchmark
from vleval.executors.worker import WorkerExecutor
from conftest import toy_benchmark

bench = toy_benchmark(**json.loads(sys.argv[2]))
try:
    summary = run_benchmark("toy", bench, __import__("pathlib").Path(sys.argv[1]), executor=WorkerExecutor())
    outcome = {"statuses": [r.status for r in summary.results], "items": [bool(r.items) for r in summary.results]}
except ConfigError as exc:
    outcome = {"refused": str(exc)}
print(json.dumps({**outcome, "driver_loaded": sorted(m for m in ("toy_plugins", "torch") if m in sys.modules)}))
"""


def _isolated_driver(tmp_path, overrides):
    make_distribution(tmp_path / "site", "toy-dist", {"toy": "toy_plugins"}, {})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(TESTS)])}
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path / "out"), json.dumps(overrides)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.slow
def test_isolated_run_checks_and_keys_in_the_worker_the_driver_loads_no_plugin(tmp_path):
    """The worker runs the preflight and the identities: the driver imports no plugin module (nor torch), and
    every record references the sidecar the worker wrote."""
    out = _isolated_driver(tmp_path, {"datasets": [], "models": [{"name": "toy-moe", "sweep": {"experts": [2, 4]}}]})
    assert out["driver_loaded"] == []
    assert out["statuses"] == ["ok", "ok"] and out["items"] == [True, True]
    lines = (tmp_path / "out" / "toy.jsonl").read_text().splitlines()
    sidecars = sorted(p.name for p in (tmp_path / "out" / "toy.items").iterdir())
    assert sidecars == sorted(f"{json.loads(line)['cell_key']}.jsonl.gz" for line in lines)


@pytest.mark.slow
def test_preflight_in_the_worker_refuses_as_in_process(tmp_path, toy_registry):
    """A benchmark the worker's preflight refuses raises the same ConfigError as the in-process preflight, before
    the results file exists."""
    from conftest import toy_benchmark

    from vleval.config.load import ConfigError
    from vleval.executors.runner import run_benchmark

    overrides = {"models": [{"name": "toy-moe", "args": {"no_such_arg": 1}}]}
    out = _isolated_driver(tmp_path, overrides)
    with pytest.raises(ConfigError) as expected:
        run_benchmark("toy", toy_benchmark(**overrides), tmp_path / "in-process", registry=toy_registry)
    assert out["refused"] == str(expected.value)
    assert "no_such_arg" in out["refused"]
    assert out["driver_loaded"] == []
    assert not (tmp_path / "out" / "toy.jsonl").exists()
