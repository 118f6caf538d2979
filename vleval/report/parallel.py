"""Draw the report's figures in two processes: each figure is one independent job writing one file, so a forked
child draws some of them while this process draws the others (the same files, in about half the wall time).

Both processes take the next job from one queue (a pipe holding the job numbers, costliest first) until it is
empty, so a busy core slows one side without idling the other. Only on Linux, with more than one CPU and no other
Python thread running (a fork copies one thread; a lock another thread held would stay held in the child); else
the jobs run here, one after the other. Any job the child did not report done (it failed or died) runs here
afterwards, so a job's own error is raised here, as without the child.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

Job = Callable[[], "Path | None"]
_WIDTH = 4  # bytes per job number in the queue
_MAX_JOBS = 1024  # the queue is written whole before the fork: it must fit in a pipe's buffer (64 KiB)


def _can_fork() -> bool:
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and (os.cpu_count() or 1) > 1
            and threading.active_count() == 1)


def _take(queue: int, jobs: Sequence[Job]) -> dict[int, Path | None]:
    """Run jobs from the queue until it is empty; their results by job number. A read of one job number is atomic
    (the queue holds whole numbers only and is written in full before either side reads)."""
    done: dict[int, Path | None] = {}
    while len(entry := os.read(queue, _WIDTH)) == _WIDTH:
        i = int.from_bytes(entry, "little")
        done[i] = jobs[i]()
    return done


def run(jobs: Sequence[Job], costs: Sequence[float], prepare: Callable[[], object] | None = None
        ) -> list[Path | None]:
    """Every job's result, in order. ``costs``: their relative costs (the costliest are taken first); ``prepare``
    runs once before the fork (e.g. importing matplotlib, so that the child does not import it again)."""
    if prepare is not None:
        prepare()
    if not 2 <= len(jobs) <= _MAX_JOBS or not _can_fork():
        return [job() for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -costs[i])
    queue, feed = os.pipe()
    os.write(feed, b"".join(i.to_bytes(_WIDTH, "little") for i in order))  # a few bytes a job: never blocks
    os.close(feed)
    report, answer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: jobs from the queue, their paths on the pipe, and out without the parent's exit hooks
        code = 1
        try:
            os.close(report)
            done = _take(queue, jobs)
            with os.fdopen(answer, "wb") as pipe:
                pipe.write(json.dumps({i: None if p is None else str(p) for i, p in done.items()}).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(answer)
    try:
        results = _take(queue, jobs)
    finally:
        with os.fdopen(report, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
        os.close(queue)
    if os.waitstatus_to_exitcode(status) == 0 and payload:
        results.update({int(i): None if p is None else Path(p) for i, p in json.loads(payload).items()})
    for i in range(len(jobs)):  # anything the child took but did not finish
        if i not in results:
            results[i] = jobs[i]()
    return [results[i] for i in range(len(jobs))]
