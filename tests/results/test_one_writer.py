"""One writer per results file: real concurrent ``vleval run`` processes never lose or duplicate a record."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vleval.results.lock import ResultsLocked, RunLock, lock_path

HOLD = """
import sys, time
from pathlib import Path
from vleval.results.lock import RunLock
with RunLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def wait_for(condition, seconds: float = 90.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def cell_keys(results: Path) -> list[str]:
    return [json.loads(line)["cell_key"] for line in results.read_text().splitlines()]


@pytest.mark.slow
def test_lock_names_its_holder_and_is_freed_when_the_holder_is_killed(tmp_path):
    results = tmp_path / "r.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(results)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ResultsLocked) as refused:
            RunLock(results).acquire()
        message = str(refused.value)
        assert f"pid {holder.pid} on {socket.gethostname()}, since " in message and str(results) in message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with RunLock(results):  # the kernel released the dead holder's lock
        assert json.loads(lock_path(results).read_text())["pid"] == os.getpid()
    assert lock_path(results).read_text() == ""  # released: no stale holder left behind


@pytest.mark.slow
def test_a_second_run_on_the_same_file_refuses_at_once_and_loses_nothing(toy_cli):
    argv, env, results = toy_cli
    config = Path(argv[argv.index("-c") + 1])
    config.write_text(config.read_text().replace("delay = 0.25", "delay = 1.0"))  # long enough to overlap
    first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: lock_path(results).exists() and lock_path(results).read_text().strip())
        for extra in ([], ["--resume"]):
            started = time.monotonic()
            second = subprocess.run([*argv, *extra], env=env, capture_output=True, text=True, timeout=60)
            assert second.returncode == 2, second.stdout + second.stderr
            assert f"pid {first.pid} on {socket.gethostname()}" in second.stderr
            assert time.monotonic() - started < 30
            assert first.poll() is None, "the first run should still be writing"
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, out + err
    keys = cell_keys(results)
    assert len(keys) == len(set(keys)) == 4
    assert not list(results.parent.glob("toy.*.jsonl"))  # the refused run moved nothing aside


@pytest.mark.slow
def test_two_concurrent_resumes_write_every_cell_exactly_once(toy_cli):
    argv, env, results = toy_cli
    killed = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: results.exists() and results.read_text().count("\n") >= 1)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    before = results.read_text().splitlines()
    assert 1 <= len(before) < 4, "the kill should land mid-run"
    resumes = [subprocess.Popen([*argv, "--resume"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    streams = [p.communicate(timeout=180) for p in resumes]
    outcomes = [(p.returncode, out, err) for p, (out, err) in zip(resumes, streams, strict=True)]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes in ([0, 0], [0, 2]), outcomes
    for code, _, err in outcomes:
        if code == 2:
            assert "is being written by another vleval run (pid" in err
    after = results.read_text().splitlines()
    assert after[: len(before)] == before
    keys = cell_keys(results)
    assert len(keys) == len(set(keys)) == 4
