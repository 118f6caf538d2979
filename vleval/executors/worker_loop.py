"""The worker process's side of :mod:`vleval.executors.worker`: requests from the driver, answered in order, and the
messages sent back over the pipe.

The worker discovers the installed plugins itself and keeps one :class:`~vleval.engine.session.Session` across
cells, so models, datasets and prepared data stay loaded from one cell to the next. All plugin code runs here: the
preflight checks, the cells' identities and :func:`~vleval.engine.execute.execute_cell`; each record's per-item
sidecar is written here too (the rows never cross the pipe).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from vleval.config.load import ConfigError
from vleval.engine.execute import execute_cell
from vleval.engine.identity import cell_key
from vleval.engine.preflight import preflight
from vleval.engine.progress import Progress
from vleval.engine.session import Session
from vleval.executors.base import Job, sendable
from vleval.plan.cells import Cell, Plan
from vleval.registry.discovery import Registry
from vleval.results import sidecars
from vleval.results.record import Record

PROGRESS_EVERY_S = 1.0  # at most one progress message per second from the worker


# -- requests (driver -> worker); each is answered by one Done
@dataclass(frozen=True)
class Preflight:
    """Check a plan (:func:`~vleval.engine.preflight.preflight`); answered with its ConfigError, or ``None``."""

    planned: Plan

    def answer(self, session: Session, progress: Progress) -> ConfigError | None:
        try:
            preflight(self.planned, session)
        except ConfigError as exc:  # the driver raises it; anything else ends the worker (the driver retries)
            return exc
        return None


@dataclass(frozen=True)
class Keys:
    """The cells' identities."""

    cells: list[Cell]

    def answer(self, session: Session, progress: Progress) -> list[str]:
        return [cell_key(cell, session.instances) for cell in self.cells]


@dataclass(frozen=True)
class Run:
    """Execute one job; its rows go to their sidecar beside ``results`` here, so a short record crosses the pipe."""

    job: Job
    run_id: str
    results: Path

    def answer(self, session: Session, progress: Progress) -> Record:
        record = execute_cell(self.job.cell, self.job.key, session, self.run_id, progress)
        sidecars.attach(record, self.results)
        return sendable(record, self.job, self.run_id)


@dataclass(frozen=True)
class Stop:
    """End the worker (a normal exit)."""


Request = Preflight | Keys | Run | Stop


# -- messages (worker -> driver)
@dataclass(frozen=True)
class Ready:
    """The worker finished its imports and plugin discovery (the cell timeout starts counting only now)."""


@dataclass(frozen=True)
class Samples:
    """A pass over ``total`` samples started."""

    total: int
    description: str


@dataclass(frozen=True)
class Advance:
    """``n`` more samples of the current pass are done."""

    n: int


@dataclass(frozen=True)
class Done:
    """The answer to the oldest request."""

    value: Any


class PipeProgress(Progress):
    """The worker's progress: events sent to the driver."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def samples(self, total: int, description: str) -> Callable[[int], None]:
        """Progress in coarse steps: each message wakes the driver, whose work then competes with the timed model
        calls for the CPU (a 2-thread model on 2 cores slows down sharply), so advances are batched."""
        self.conn.send(Samples(total, description))
        pending = [0, time.monotonic(), 0]  # samples not yet sent, when last sent, samples seen

        def advance(n: int) -> None:
            pending[0] += n
            pending[2] += n
            now = time.monotonic()
            if now - pending[1] >= PROGRESS_EVERY_S or pending[2] >= total:
                self.conn.send(Advance(pending[0]))
                pending[0], pending[1] = 0, now

        return advance


def serve(conn: Connection) -> None:
    """The worker's loop: requests answered in order until :class:`Stop` (or the driver is gone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle: it stops the worker
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    session = Session(Registry.discover())
    progress = PipeProgress(conn)
    import torch  # noqa: F401  (every cell needs it: imported before the first cell's clock starts)
    conn.send(Ready())
    while True:
        try:
            request: Request = conn.recv()
        except EOFError:  # the driver is gone
            return
        if isinstance(request, Stop):
            session.release_model()
            return
        conn.send(Done(request.answer(session, progress)))


def _exit_with_parent(parent: int) -> None:
    """End the worker when the driver is gone (even SIGKILLed mid-cell), so no orphan keeps running a cell."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
