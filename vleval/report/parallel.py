"""Draw the report's figures in two processes: each figure is one independent job writing one file, so a forked
child draws some of them while this process draws the others (the same files, in about half the wall time).

Both processes take the next job from one queue (a pipe holding the job numbers, costliest first) until it is
empty, so a busy core slows one side without idling the other. Only on Linux, with more than one CPU and no other
Python thread running (a fork copies one thread; a lock another thread held would stay held in the child); else
the jobs run here, one after the other. Any job the child did not report done (it failed or died) runs here
afterwards, so a job's own error is raised here, as without the child.

:func:`start` hands jobs that can be drawn early (those that need the records only, not the boards) to a child at
once, while this process computes the boards; :func:`run` then takes what is left of them, here and in a second
child, before its own jobs.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

Job = Callable[[], "Path | None"]
Done = dict[int, "Path | None"]
_WIDTH = 4  # bytes per job number in the queue
_MAX_JOBS = 1024  # the queue is written whole before the fork: it must fit in a pipe's buffer (64 KiB)


def _can_fork() -> bool:
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and (os.cpu_count() or 1) > 1
            and threading.active_count() == 1)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off meanwhile (as it was after). Figures (and bootstraps) make many short-lived
    reference cycles, and collecting them as they come costs a fifth of the time, walking every live object each
    time; they are collected later, all at once."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS (OpenBLAS: numpy's matrix products, e.g. the bootstraps' resample weights times per-cluster sums) on
    one thread meanwhile, where ``threadpoolctl`` (a dependency of scikit-learn) is there. Its second thread would
    compete with a child drawing figures on a two-core machine (and spin while waiting), making those products
    several times slower; each product's values are the same (each output element is one thread's dot product;
    checked equal on the default benchmark's boards and summaries)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def _take(queue: int, jobs: Sequence[Job]) -> Done:
    """Run jobs from the queue until it is empty; their results by job number. A read of one job number is atomic
    (the queue holds whole numbers only and is written in full before either side reads)."""
    done: Done = {}
    while len(entry := os.read(queue, _WIDTH)) == _WIDTH:
        i = int.from_bytes(entry, "little")
        done[i] = jobs[i]()
    return done


def _queue(costs: Sequence[float]) -> int:
    """A pipe holding every job number, costliest first; its read end."""
    order = sorted(range(len(costs)), key=lambda i: -costs[i])
    queue, feed = os.pipe()
    os.write(feed, b"".join(i.to_bytes(_WIDTH, "little") for i in order))  # a few bytes a job: never blocks
    os.close(feed)
    return queue


def _fork(batches: Sequence[tuple[int, Sequence[Job]]]) -> tuple[int, int]:
    """A child that drains each (queue, jobs) in turn and reports what it drew; its pid and report pipe."""
    report, answer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: jobs from the queues, their paths on the pipe, and out without the parent's exit hooks
        code = 1
        try:
            gc.disable()  # it exits when done: its garbage goes with it
            os.close(report)
            done = [_take(queue, jobs) for queue, jobs in batches]
            with os.fdopen(answer, "wb") as pipe:
                pipe.write(json.dumps([{i: None if p is None else str(p) for i, p in d.items()} for d in done])
                           .encode())
            code = 0
        finally:
            os._exit(code)
    os.close(answer)
    return pid, report


def _reap(pid: int, report: int) -> list[Done]:
    """Wait for a child; what it reports drawn per batch (nothing when it failed or died)."""
    with os.fdopen(report, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not payload:
        return []
    return [{int(i): None if p is None else Path(p) for i, p in d.items()} for d in json.loads(payload)]


class Started:
    """Jobs a forked child is drawing (:func:`start`); pass to :func:`run`, or :meth:`cancel`. ``tag``: what the
    caller needs to recognise them by."""

    def __init__(self, jobs: Sequence[Job], costs: Sequence[float], tag: object = None):
        self.jobs, self.tag = list(jobs), tag
        self.queue = _queue(costs)
        self.pid, self.report = _fork([(self.queue, self.jobs)])
        self.open = True

    def finish(self, helped: Done | None = None) -> list[Path | None]:
        """Every job's result, in order: what this process took from the queue (drained here now unless
        ``helped`` says what was taken), what the child drew, and, run here, whatever the child did not finish."""
        self.open = False
        done: Done = dict(helped or {})
        try:
            if helped is None:
                done = _take(self.queue, self.jobs)
        finally:
            drawn = _reap(self.pid, self.report)
            os.close(self.queue)
        for part in drawn:
            done.update(part)
        return [done[i] if i in done else self.jobs[i]() for i in range(len(self.jobs))]

    def cancel(self) -> None:
        """Stop the child and wait for it (files it drew stay)."""
        if self.open:
            self.open = False
            os.kill(self.pid, signal.SIGKILL)
            _reap(self.pid, self.report)
            os.close(self.queue)


def start(jobs: Sequence[Job], costs: Sequence[float], prepare: Callable[[], object] | None = None,
          tag: object = None) -> Started | None:
    """Fork a child that starts on ``jobs`` now (``prepare`` runs first, here); ``None`` where no child can be
    forked (or there is nothing to do): the caller draws them with the others."""
    if not 1 <= len(jobs) <= _MAX_JOBS or not _can_fork():
        return None
    if prepare is not None:
        prepare()
    return Started(jobs, costs, tag)


def run(jobs: Sequence[Job], costs: Sequence[float], prepare: Callable[[], object] | None = None,
        started: Started | None = None) -> list[Path | None]:
    """Every job's result, in order; with ``started``, its results first. ``costs``: their relative costs (the
    costliest are taken first); ``prepare`` runs once before the fork (e.g. importing matplotlib, so that the
    child does not import it again). What is left of ``started`` is taken (here and by the second child) first."""
    with paused_gc():
        return _run(jobs, costs, prepare, started)


def _run(jobs: Sequence[Job], costs: Sequence[float], prepare: Callable[[], object] | None,
         started: Started | None) -> list[Path | None]:
    if prepare is not None:
        prepare()
    if not (0 if started else 2) <= len(jobs) <= _MAX_JOBS or not _can_fork():
        early = started.finish() if started is not None else []
        return early + [job() for job in jobs]
    queue = _queue(costs)
    batches = ([(started.queue, started.jobs)] if started is not None else []) + [(queue, jobs)]
    pid, report = _fork(batches)
    try:
        mine = [_take(q, js) for q, js in batches]
    except BaseException:
        if started is not None:
            started.cancel()
        raise
    finally:
        theirs = _reap(pid, report)
        os.close(queue)
    early = [] if started is None else started.finish(helped={**mine[0], **(theirs[0] if theirs else {})})
    results = {**mine[-1], **(theirs[-1] if theirs else {})}
    for i in range(len(jobs)):  # anything the child took but did not finish
        if i not in results:
            results[i] = jobs[i]()
    return early + [results[i] for i in range(len(jobs))]
