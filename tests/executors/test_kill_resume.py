"""Fault injection: a run SIGKILLed twelve times at seeded points, each time resumed, ends with every cell exactly once
and every line of the results file valid (a line torn by a kill is quarantined, never kept or silently dropped).

Every kill lands mid-run by construction, not by wall-clock luck: each cell's model waits at a gate
(``fault = "gate"``, tests/fault_plugins.py) until the test lets it through, so no cell can finish unseen. The kinds
of kill, in a seeded order:

- ``start-up``: a seeded 0-1.5 s after the start (importing, starting the worker, or with the first cell waiting);
- ``mid-cell``: while a cell waits at its gate;
- ``after-append``: one cell let through, then killed once its record is appended and the next cell waits;
- ``torn``: as ``after-append``, then that record cut at a seeded byte, as a kill in the middle of its write leaves
  it (polling cannot stop a process inside one write): the resume must quarantine the fragment and run the cell again.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from conftest import TESTS, make_distribution
from fault_plugins import GATE_ENV

from vleval.results.store import scan

CELLS = 4
BENCH = """
[benchmarks.toy]
models = [{ name = "crashing-moe", args = { fault = "gate" }, sweep = { experts = [2, 3, 4, 5] } }]
shifts = [{ name = "toy-noise", args = { n = 8 } }]
batch_sizes = [4]
latency = { warmup = 0, repetitions = 1 }
"""
# Twelve kills; the two appends that stay leave two cells for the last resume, so every kind is always possible.
# Start-up kills are cheap (no worker to wait for), so they sample that phase at six seeded moments.
SCHEDULE = ["start-up"] * 6 + ["mid-cell"] * 2 + ["after-append"] * 2 + ["torn"] * 2
WAIT_S = 120.0  # for the run to reach a gate or append a record, on however loaded a machine


def wait_for(condition: Callable[[], bool], what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit status {proc.returncode}) before {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"the run never got to {what} within {WAIT_S:.0f} s:\n{log.read_text()}")
        time.sleep(0.01)


def complete_lines(results: Path) -> list[bytes]:
    """The results file's lines that end with a newline (a torn last line left out)."""
    data = results.read_bytes() if results.exists() else b""
    return data[: data.rfind(b"\n") + 1].splitlines(keepends=True)


def next_cell_waits(results: Path, appended_to: int, gate: Path) -> bool:
    """A record was appended to the ``appended_to`` complete lines, and the next cell waits at the gate."""
    return len(complete_lines(results)) > appended_to and (gate / "arrived-2").exists()


def tear_last_line(results: Path, rng: random.Random) -> bytes:
    """Cut the last record at a seeded byte (keeping at least one byte of it, never its newline); the fragment."""
    data = results.read_bytes()
    assert data.endswith(b"\n")
    start = data.rfind(b"\n", 0, len(data) - 1) + 1
    cut = rng.randrange(start + 1, len(data))
    os.truncate(results, cut)
    return data[start:cut]


@pytest.mark.slow
def test_seeded_kills_then_resume_leave_every_cell_exactly_once(tmp_path):
    site = make_distribution(tmp_path / "site", "toy-dist", {"toy": "toy_plugins", "faults": "fault_plugins"}, {})
    (tmp_path / "benchmarks.toml").write_text(BENCH)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(TESTS)])}
    env.pop(GATE_ENV, None)
    argv = [sys.executable, "-m", "vleval.cli", "run", "-c", str(tmp_path / "benchmarks.toml"),
            "-o", str(tmp_path / "results"), "--resume"]
    results = tmp_path / "results" / "toy.jsonl"
    rng = random.Random(20)
    schedule = rng.sample(SCHEDULE, len(SCHEDULE))
    torn = []
    for round_, kind in enumerate(schedule):
        gate = tmp_path / "gates" / str(round_)  # one per run: a killed run's worker (gone in 1 s) cannot confuse it
        gate.mkdir(parents=True)
        before = complete_lines(results)
        log = gate / "output.txt"
        with log.open("wb") as output:
            proc = subprocess.Popen(argv, env={**env, GATE_ENV: str(gate)}, stdout=output, stderr=output)
        if kind == "start-up":
            deadline = time.monotonic() + rng.uniform(0.0, 1.5)
            while time.monotonic() < deadline and not (gate / "arrived-1").exists():
                time.sleep(0.01)
        else:
            wait_for((gate / "arrived-1").exists, "its first cell", proc, log)
        if kind in ("after-append", "torn"):
            (gate / "pass-1").touch()
            wait_for(partial(next_cell_waits, results, len(before), gate), "the next cell after an append", proc, log)
        assert proc.poll() is None, f"round {round_} ({kind}): the run ended before its kill:\n{log.read_text()}"
        proc.kill()
        proc.wait(timeout=60)
        after = complete_lines(results)
        assert after[: len(before)] == before, f"round {round_} ({kind}): records written before were rewritten"
        assert len(after) == len(before) + (kind in ("after-append", "torn")) < CELLS, (round_, kind)  # cells left
        if kind == "torn":
            torn.append(tear_last_line(results, rng))
    final = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    read = scan(results)
    assert read.problems == [] and len(read.records) == CELLS  # every line valid
    keys = [record["cell_key"] for _, record in read.records]
    assert len(set(keys)) == CELLS  # every cell exactly once
    fragments = {path.read_bytes() for path in results.parent.glob("toy.torn-*.jsonl")}
    assert fragments == set(torn)  # each torn line quarantined, and nothing else
