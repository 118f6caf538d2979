"""Fault injection: a run SIGKILLed at 20 random moments, each time resumed, ends with every cell exactly once and
every line of the results file valid (a line torn by a kill is quarantined, never kept or silently dropped)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time

import pytest

from vleval.results.store import scan


@pytest.mark.slow
def test_twenty_random_kills_then_resume_leave_every_cell_exactly_once(toy_cli):
    argv, env, results = toy_cli
    rng = random.Random(20)
    kills = 0
    for _ in range(20):
        proc = subprocess.Popen([*argv, "--resume"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.1, 2.5))  # from start-up to mid-cell to mid-append, wherever it lands
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
    final = subprocess.run([*argv, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    assert kills >= 10, "most of the runs must have been killed mid-way for the test to mean anything"
    read = scan(results)
    assert read.problems == [] and len(read.records) == 4  # every line valid
    keys = [json.loads(line)["cell_key"] for line in results.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 4  # every cell exactly once
