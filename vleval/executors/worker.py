"""The worker-process executor (``vleval run``'s default): cells run in a persistent worker process that a fault
cannot take down.

- The **driver** (the run's process) plans, holds the results file's lock and alone appends records; it never
  imports torch or a plugin module.
- The **worker** (multiprocessing ``spawn``: a fresh interpreter, no forked torch/CUDA state, no inherited lock)
  runs all plugin code (:mod:`vleval.executors.worker_loop`). It is started when the executor is constructed, so
  its imports (torch alone takes ~1.5 s) overlap the driver's own start-up (the CLI constructs it first thing).
- The driver waits at most ``cell_timeout_s`` (per benchmark; default
  :data:`~vleval.executors.base.DEFAULT_CELL_TIMEOUT_S`) for a cell. A hang past it, or a worker that dies
  (``os._exit``, a segfault, the OOM killer), becomes a ``failed`` record naming the reason; the driver kills what
  is left of the worker and starts a fresh one for the next cell.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from vleval.engine.environment import fingerprint_or_error
from vleval.engine.identity import unresolved_key
from vleval.engine.preflight import preflight
from vleval.engine.progress import Progress
from vleval.engine.session import Session
from vleval.executors import worker_loop
from vleval.executors.base import DEFAULT_CELL_TIMEOUT_S, Job, cell_timeout_s, failed_record
from vleval.executors.errors import CellFault
from vleval.executors.worker_loop import Advance, Done, Keys, Preflight, Ready, Request, Run, Samples, Stop
from vleval.plan.cells import Cell, Plan
from vleval.registry.discovery import Registry
from vleval.results.record import Record

POLL_S = 0.2
STARTUP_TIMEOUT_S = 600.0
STOP_WAIT_S = 10.0  # how long a stopped worker may take to exit before it is killed


class WorkerExecutor:
    """Cells run in a persistent worker process, started now; a hang or crash fails one cell and the worker is
    restarted for the next."""

    def __init__(self) -> None:
        self.timeout_s = DEFAULT_CELL_TIMEOUT_S  # until prepare reads the benchmark's cell_timeout_s
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Connection | None = None
        self._pending = 0  # requests sent and not answered (closing then kills: e.g. Ctrl-C mid-cell)
        self._ready = False  # the worker said it finished its imports
        self._launch()

    # -- the process
    def _launch(self) -> None:
        """Start the worker without waiting for it (its imports then overlap the caller's own work)."""
        if self._process is None or not self._process.is_alive():
            ours, theirs = self._context.Pipe()
            self._process = self._context.Process(target=worker_loop.serve, args=(theirs,), name="vleval-worker",
                                                  daemon=True)
            self._process.start()
            theirs.close()
            self._conn, self._ready = ours, False

    def _started(self) -> Connection:
        """The pipe to a worker that finished starting (a fresh one if the last died)."""
        self._launch()
        assert self._conn is not None
        if not self._ready:
            self._await_ready(self._conn)
            self._ready = True
        return self._conn

    def _await_ready(self, conn: Connection) -> None:
        """Wait for the worker's imports and plugin discovery (not counted against any cell)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if conn.poll(POLL_S):
                    if isinstance(conn.recv(), Ready):
                        return
                    break
            except (EOFError, OSError):
                break
            if not self._process.is_alive():
                break
        raise CellFault(f"the worker process did not start ({self._death()})")

    def _death(self) -> str:
        self._process.join(5)
        code = self._process.exitcode
        self._stop(kill=True)
        if code is not None and code < 0:
            return f"the worker process was killed by {signal.Signals(-code).name} (a crash in plugin code?)"
        return f"the worker process exited with code {code} while running the cell"

    def _stop(self, kill: bool = False) -> None:
        if self._process is None:
            return
        if kill or self._pending or not self._ready:  # busy, or still starting: nothing to finish
            self._process.kill()
        elif self._process.is_alive() and self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(Stop())
        self._process.join(STOP_WAIT_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn, self._pending = None, None, 0

    # -- requests
    def _send(self, request: Request) -> None:
        """Queue one request in the worker (it answers requests in order)."""
        self._started().send(request)
        self._pending += 1

    def _receive(self, progress: Progress) -> Any:
        """The answer to the oldest request: relay progress until it comes, the timeout, or the worker's death."""
        conn = self._started()
        deadline = time.monotonic() + self.timeout_s
        advance: Callable[[int], None] = _no_pass  # until the worker says a pass started
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stop(kill=True)
                raise CellFault(f"timed out: no result after {self.timeout_s:g} s (cell_timeout_s); the worker "
                                "was killed and restarted")
            try:
                message = conn.recv() if conn.poll(min(remaining, POLL_S)) else None
            except (EOFError, OSError):  # the worker's end of the pipe closed: it died
                raise CellFault(self._death()) from None
            match message:
                case None:
                    if not self._process.is_alive():
                        raise CellFault(self._death())
                case Done(value):
                    self._pending -= 1
                    return value
                case Samples(total, description):
                    advance = progress.samples(total, description)
                case Advance(n):
                    advance(n)

    def _call(self, request: Request) -> Any:
        """Send one request and wait for its answer."""
        self._send(request)
        return self._receive(Progress())

    # -- the executor
    def prepare(self, planned: Plan) -> None:
        """The plan's preflight checks, in the worker: it loads every plugin anyway, and the driver then never
        imports torch. Raises the checks' :class:`~vleval.config.load.ConfigError`; if the worker cannot answer (it
        died or does not start), the checks run here instead, so that a broken plugin is still reported as the
        preflight reports it."""
        self.timeout_s = cell_timeout_s(planned)
        try:
            self._send(Preflight(planned))
            refused = self._receive(Progress())
        except CellFault:
            self._stop(kill=True)
            preflight(planned, Session(Registry.discover()))
            return
        if refused is not None:
            raise refused

    def keys(self, cells: list[Cell]) -> list[str]:
        """Every cell's identity in one request; cell by cell (each fault its own) if the worker fails."""
        try:
            return self._call(Keys(cells))
        except CellFault:
            return [self._key(cell) for cell in cells]

    def _key(self, cell: Cell) -> str:
        try:
            return self._call(Keys([cell]))[0]
        except CellFault as exc:
            return unresolved_key(cell, str(exc))

    def run_many(self, jobs: list[Job], run_id: str, progress: Progress, results: Path) -> Iterator[Record]:
        """The jobs' records, in order, executed in the worker (which writes each record's per-item sidecar beside
        ``results``).

        The next cell's request is already queued in the worker while a cell runs: the worker goes on with the next
        cell (model, data, the untimed traced pass) while the caller appends the record, instead of waiting for a
        round trip. A hang or crash fails its own cell; the worker is restarted for the next one."""
        sent = 0  # jobs[:sent] were sent to the (current) worker
        for i, job in enumerate(jobs):
            progress.cell(job.cell.label)
            try:
                while sent < min(i + 2, len(jobs)):  # this cell and the next one queued in the worker
                    self._send(Run(jobs[sent], run_id, results))
                    sent += 1
                record = self._receive(progress)
            except CellFault as exc:
                sent = i + 1  # the request queued after this one went with the worker
                record = failed_record(job, run_id, exc, fingerprint_or_error())
            yield record

    def close(self) -> None:
        self._stop()


def _no_pass(n: int) -> None:
    """Samples advanced before any pass started: nothing to show."""
