"""Where cells execute: in the run's own process, or in a persistent worker process that a fault cannot take down.

Design of the isolated executor (``vleval run`` uses it):

- The **driver** (the run's process) plans, holds the results file's lock and alone appends records.
- A **worker** process (multiprocessing ``spawn``: a fresh interpreter, no forked torch/CUDA state, no inherited
  lock) discovers the plugins itself and keeps one :class:`~vleval.engine.resolve.Resolver` across cells, so models,
  datasets and prepared data stay loaded from one cell to the next. All plugin code runs there: the preflight checks
  (so the driver never imports torch or a plugin module), the cells' identities (``cell_key``, which hashes dataset
  content) and :func:`~vleval.engine.execute.execute_cell`, which measures latency in the worker exactly as in-process; it
  writes each record's per-item sidecar itself (the rows never cross the pipe). Records and progress events come
  back over a pipe. The worker is started first: its imports (torch alone takes ~1.5 s) overlap the driver's own
  start-up and whatever the driver warms up meanwhile.
- The driver waits at most ``cell_timeout_s`` (per benchmark; default :data:`DEFAULT_CELL_TIMEOUT_S`) for a cell.
  A hang past it, or a worker that dies (``os._exit``, a segfault, the OOM killer), becomes a ``failed`` record
  naming the reason; the driver kills what is left of the worker and starts a fresh one for the next cell.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from vleval import __version__
from vleval.config.load import ConfigError
from vleval.engine.execute import Progress, _light_fingerprint, execute_cell
from vleval.engine.resolve import Resolver
from vleval.plan.cells import Cell, Plan
from vleval.results import sidecars as item_results
from vleval.results.record import Record, RecordBuilder

DEFAULT_CELL_TIMEOUT_S = 4 * 3600.0  # generous, for large models on full datasets; lower it per benchmark
POLL_S = 0.2
PROGRESS_EVERY_S = 1.0  # at most one progress message per second from the worker
STARTUP_TIMEOUT_S = 600.0


def unresolved_key(cell: Cell, reason: str) -> str:
    """The identity of a cell whose own could not be computed (its plugins failed): never matches a complete one,
    so ``--resume`` runs the cell again."""
    blob = json.dumps([cell.config_hash(), [], {"unresolved": reason}], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class CellFault(RuntimeError):
    """The worker hung past the cell timeout or died while running a cell."""


class InProcess:
    """Cells run in this process (no fault isolation): the API default, and what tests with explicit registries use."""

    def __init__(self, resolver: Resolver):
        self.resolver = resolver

    def keys(self, cells: list[Cell]) -> list[str]:
        return [self.resolver.cell_key(cell) for cell in cells]

    def run_many(self, jobs: list[tuple[Cell, str]], run_id: str, progress: Progress,
                 results: Path | None = None) -> Iterator[Record]:
        """The records of ``(cell, key)`` jobs, in order."""
        for cell, key in jobs:
            progress.cell(cell.label)
            yield execute_cell(cell, key, self.resolver, run_id, progress)

    def close(self) -> None:
        self.resolver.release_model()


class _PipeProgress(Progress):
    """The worker's progress: events sent to the driver."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def samples(self, total: int, description: str) -> Callable[[int], None]:
        """Progress in coarse steps: each message wakes the driver, whose work then competes with the timed model
        calls for the CPU (a 2-thread model on 2 cores slows down sharply), so advances are batched."""
        self.conn.send(("samples", total, description))
        pending = [0, time.monotonic(), 0]  # samples not yet sent, when last sent, samples seen

        def advance(n: int) -> None:
            pending[0] += n
            pending[2] += n
            now = time.monotonic()
            if now - pending[1] >= PROGRESS_EVERY_S or pending[2] >= total:
                self.conn.send(("advance", pending[0]))
                pending[0], pending[1] = 0, now

        return advance


def _serve(conn: Connection) -> None:
    """The worker's loop: ``preflight``, ``keys``, ``key`` and ``run`` requests, answered in order, until
    ``("stop",)``."""
    from vleval.registry.discovery import Registry

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle: it stops the worker
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    resolver = Resolver(Registry.discover())
    progress = _PipeProgress(conn)
    import torch  # noqa: F401  (every cell needs it: imported before the first cell's clock starts)
    conn.send(("ready",))  # the cell timeout starts counting only now
    while True:
        try:
            request = conn.recv()
        except EOFError:  # the driver is gone
            return
        if request[0] == "stop":
            resolver.release_model()
            _quick_exit()
        if request[0] == "preflight":
            try:
                resolver.preflight(request[1])
            except ConfigError as exc:  # the driver raises it; anything else ends the worker (the driver retries)
                conn.send(("done", exc))
            else:
                conn.send(("done", None))
        elif request[0] == "keys":
            conn.send(("done", [resolver.cell_key(cell) for cell in request[1]]))
        elif request[0] == "key":
            conn.send(("done", resolver.cell_key(request[1])))
        else:
            _, cell, key, run_id, results = request
            record = execute_cell(cell, key, resolver, run_id, progress)
            if results is not None:  # rows to their sidecar here: a short record crosses the pipe, not the rows
                item_results.attach(record, results)
            try:  # pickled whole before a byte is sent, so a failure leaves the pipe clean
                conn.send(("done", record))
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                build = RecordBuilder(run_id, key, cell.benchmark, cell.config(), cell.seed, __version__)
                build.fail(TypeError(f"the cell's record cannot be sent to the driver: {exc}"))
                conn.send(("done", build.finish(record.environment)))


def _quick_exit() -> None:
    """End the worker without the interpreter's teardown: freeing every module, model and decoded image one object
    at a time took ~0.7 s that the driver waited for. Exit hooks (e.g. a plugin closing its subprocess) still run,
    and the output streams are flushed; everything the worker wrote is on disk already (sidecars are fsynced)."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _exit_with_parent(parent: int) -> None:
    """End the worker when the driver is gone (even SIGKILLed mid-cell), so no orphan keeps running a cell."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


class Isolated:
    """Cells run in a persistent worker process; a hang or crash fails one cell and the worker is restarted."""

    def __init__(self, timeout_s: float = DEFAULT_CELL_TIMEOUT_S):
        self.timeout_s = timeout_s
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Connection | None = None
        self._pending = 0  # requests sent and not answered (closing then kills: e.g. Ctrl-C mid-cell)
        self._ready = False  # the worker said it finished its imports

    def launch(self) -> None:
        """Start the worker without waiting for it (its imports then overlap the caller's own work)."""
        if self._process is None or not self._process.is_alive():
            ours, theirs = self._context.Pipe()
            self._process = self._context.Process(target=_serve, args=(theirs,), name="vleval-worker", daemon=True)
            self._process.start()
            theirs.close()
            self._conn, self._ready = ours, False

    def _start(self) -> Connection:
        self.launch()
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
                    if conn.recv() == ("ready",):
                        return
                    break
            except (EOFError, OSError):
                break
            if not self._process.is_alive():
                break
        raise CellFault(f"the worker process did not start ({self._death()})")

    def _send(self, request: tuple[Any, ...]) -> None:
        """Queue one request in the worker (it answers requests in order)."""
        self._start().send(request)
        self._pending += 1

    def _receive(self, progress: Progress) -> Any:
        """The answer to the oldest request: relay progress until it comes, the timeout, or the worker's death."""
        conn = self._start()
        deadline = time.monotonic() + self.timeout_s
        advance: Callable[[int], None] = lambda n: None  # noqa: E731
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
            if message is None:
                if not self._process.is_alive():
                    raise CellFault(self._death())
                continue
            if message[0] == "done":
                self._pending -= 1
                return message[1]
            if message[0] == "samples":
                advance = progress.samples(message[1], message[2])
            elif message[0] == "advance":
                advance(message[1])

    def _call(self, request: tuple[Any, ...], progress: Progress) -> Any:
        """Send one request and wait for its answer."""
        self._send(request)
        return self._receive(progress)

    def _death(self) -> str:
        self._process.join(5)
        code = self._process.exitcode
        self._stop(kill=True)
        if code is not None and code < 0:
            return f"the worker process was killed by {signal.Signals(-code).name} (a crash in plugin code?)"
        return f"the worker process exited with code {code} while running the cell"

    def preflight(self, planned: Plan, meanwhile: Callable[[], object] | None = None) -> None:
        """The plan's preflight checks (:meth:`Resolver.preflight`), in the worker: it loads every plugin anyway,
        and the driver then never imports torch. ``meanwhile`` runs here while the worker starts. Raises the checks'
        :class:`~vleval.config.load.ConfigError`; if the worker cannot answer (it died or does not start), the checks run
        here instead, so that a broken plugin is still reported as the preflight reports it."""
        try:
            self.launch()
            self._conn.send(("preflight", planned))  # read once the worker is ready: it does not wait for us
            self._pending += 1
            if meanwhile is not None:
                meanwhile()
            refused = self._receive(Progress())
        except CellFault:
            from vleval.registry.discovery import Registry

            self._stop(kill=True)
            Resolver(Registry.discover()).preflight(planned)
            return
        if refused is not None:
            raise refused

    def keys(self, cells: list[Cell]) -> list[str]:
        """Every cell's identity in one request; cell by cell (each fault its own) if the worker fails."""
        try:
            return self._call(("keys", cells), Progress())
        except CellFault:
            return [self.key(cell) for cell in cells]

    def key(self, cell: Cell) -> str:
        try:
            return self._call(("key", cell), Progress())
        except CellFault as exc:
            return unresolved_key(cell, str(exc))

    def run_many(self, jobs: list[tuple[Cell, str]], run_id: str, progress: Progress,
                 results: Path | None = None) -> Iterator[Record]:
        """The records of ``(cell, key)`` jobs, in order, executed in the worker (``results``: the results file,
        beside which the worker writes each record's per-item sidecar).

        The next cell's request is already queued in the worker while a cell runs: the worker goes on with the next
        cell (model, data, the untimed traced pass) while the caller appends the record, instead of waiting for a
        round trip. A hang or crash fails its own cell; the worker is restarted for the next one."""
        sent = 0  # jobs[:sent] were sent to the (current) worker
        for i, (cell, key) in enumerate(jobs):
            progress.cell(cell.label)
            try:
                while sent < min(i + 2, len(jobs)):  # this cell and the next one queued in the worker
                    self._send(("run", *jobs[sent], run_id, results))
                    sent += 1
                record = self._receive(progress)
            except CellFault as exc:
                sent = i + 1  # the request queued after this one went with the worker
                build = RecordBuilder(run_id, key, cell.benchmark, cell.config(), cell.seed, __version__)
                build.fail(exc)
                record = build.finish(_light_fingerprint())
            yield record

    def _stop(self, kill: bool = False) -> None:
        if self._process is None:
            return
        if kill or self._pending:
            self._process.kill()
        elif self._process.is_alive() and self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(("stop",))
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn, self._pending = None, None, 0

    def close(self) -> None:
        self._stop()
