"""The report's figures in two processes (:mod:`vleval.report.parallel`): every job's result in order, each job
run once, and the caller still gets every result (or the job's own error) when the child fails.

Each scenario runs in a fresh interpreter (``tests/parallel_jobs.py``): the two-process path needs a process with
one Python thread, which a test session that has run other tests (servers, clusters) need not be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not (sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1),
                                reason="figures are drawn in two processes only on Linux with 2+ CPUs")
SCRIPT = Path(__file__).with_name("parallel_jobs.py")


def _run(folder: Path, n: int, mode: str = "") -> dict:
    done = subprocess.run([sys.executable, str(SCRIPT), str(folder), str(n), *([mode] if mode else [])],
                          capture_output=True, text=True, timeout=120, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["can_fork"], "a fresh interpreter on Linux with 2+ CPUs must take the two-process path"
    return out


def _expected(folder: Path, n: int) -> list[str | None]:
    return [None if i % 3 == 2 else str(folder / f"{i}.txt") for i in range(n)]


def test_results_come_back_in_order_from_both_processes(tmp_path):
    out = _run(tmp_path, 12)
    assert out["results"] == _expected(tmp_path, 12)
    lines = [Path(path).read_text().splitlines() for path in out["results"] if path is not None]
    assert all(len(written) == 1 for written in lines)  # each job ran once
    pids = {line[0].split()[1] for line in lines}
    assert str(out["caller"]) in pids and len(pids) == 2


def test_jobs_of_a_child_that_dies_run_in_the_caller(tmp_path):
    out = _run(tmp_path, 6, "child-dies")
    assert out["results"] == _expected(tmp_path, 6)
    assert {Path(p).read_text() for p in out["results"] if p is not None} == {
        f"{i} {out['caller']}\n" for i in range(6) if i % 3 != 2}


def test_a_job_that_fails_raises_its_own_error_in_the_caller(tmp_path):
    assert _run(tmp_path, 4, "one-fails")["error"] == "cannot draw this figure"
