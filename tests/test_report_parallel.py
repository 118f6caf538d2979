"""The report's figures in two processes (:mod:`vleval.report.parallel`): every job's result in order, each job
run once, and the caller still gets every result (or the job's own error) when the child fails."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from vleval.report import parallel

pytestmark = pytest.mark.skipif(not parallel._can_fork(), reason="two processes only on Linux with 2+ CPUs")


def _jobs(folder: Path, n: int, *, child_dies: bool = False) -> list[parallel.Job]:
    caller = os.getpid()

    def job(i: int) -> Path | None:
        if child_dies and os.getpid() != caller:
            os._exit(3)
        time.sleep(0.1)  # long enough for the child to take jobs too, even on a busy machine
        if i % 3 == 2:
            return None  # "nothing to draw"
        path = folder / f"{i}.txt"
        with open(path, "a") as handle:  # appended: a job run twice would show
            handle.write(f"{i} {os.getpid()}\n")
        return path

    return [lambda i=i: job(i) for i in range(n)]


def test_results_come_back_in_order_from_both_processes(tmp_path):
    results = parallel.run(_jobs(tmp_path, 12), [1.0] * 12)
    assert results == [None if i % 3 == 2 else tmp_path / f"{i}.txt" for i in range(12)]
    lines = [path.read_text().splitlines() for path in results if path is not None]
    assert all(len(written) == 1 for written in lines)  # each job ran once
    pids = {line[0].split()[1] for line in lines}
    assert str(os.getpid()) in pids and len(pids) == 2


def test_jobs_of_a_child_that_dies_run_in_the_caller(tmp_path):
    results = parallel.run(_jobs(tmp_path, 6, child_dies=True), [1.0] * 6)
    assert results == [None if i % 3 == 2 else tmp_path / f"{i}.txt" for i in range(6)]
    assert {p.read_text() for p in results if p is not None} == {
        f"{i} {os.getpid()}\n" for i in range(6) if i % 3 != 2}


def test_a_job_that_fails_raises_its_own_error_in_the_caller(tmp_path):
    def broken() -> Path:
        raise ValueError("cannot draw this figure")

    jobs = _jobs(tmp_path, 4)
    with pytest.raises(ValueError, match="cannot draw this figure"):
        parallel.run([*jobs[:2], broken, *jobs[2:]], [1.0, 1.0, 5.0, 1.0, 1.0])

