"""The Ray executor: cells run as Ray tasks on a cluster; records stream back to the driver, which alone appends them.

- **Identity first**: tasks on the cluster (one per CPU, each a share of the cells) compute every cell's ``cell_key``
  (it hashes dataset content, so plugin code runs on the cluster, never in the driver); the runner skips the cells
  ``--resume`` finds complete. These tasks also start the worker processes that then run the cells, all at once.
- **Streams**: a cell's task streams its worker's ``ip:pid`` when it starts (progress; the ``cell_timeout_s`` clock),
  then its record; the driver blocks in ``ray.wait`` meanwhile, leaving the CPUs to the workers.
- **Per-cell resources**: a model entry's ``resources`` table (``num_cpus`` (default 1), ``num_gpus``, ``memory``
  in bytes, any custom resource) is the Ray request of its cells; a request no alive node can meet is refused
  before any work, naming the key.
- **Faults**: a worker or node lost mid-cell (Ray's ``WorkerCrashedError``, ``NodeDiedError``, ...) sends the cell
  to a fresh worker, at most ``max_retries`` times (benchmark key or ``--max-retries``, default 1); the record is
  ``failed`` only if every try failed, and names each. An exception in plugin code is not retried (it is already a
  ``failed`` record). A cell running past ``cell_timeout_s`` (counted from when a worker starts it) is cancelled,
  its worker killed, and recorded as failed.
- **Latency on an exclusive node** (``exclusive_latency`` or ``--exclusive-latency``): a cell that times passes
  holds every CPU and GPU of one node (pinned to it), so no other cell runs there while it measures; records say
  ``environment.exclusive_node``. Every record carries the worker node's fingerprint plus ``ray_node_id``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vleval.engine.environment import fingerprint_or_error
from vleval.engine.identity import unresolved_key
from vleval.engine.preflight import preflight
from vleval.engine.progress import Progress
from vleval.engine.session import Session
from vleval.executors import ray_worker
from vleval.executors.base import Job, cell_timeout_s, failed_record
from vleval.executors.errors import ExecutorError
from vleval.executors.ray_resources import check_feasible, fits, node_needs, task_options
from vleval.plan.cells import Cell, Plan
from vleval.registry.discovery import Registry
from vleval.results.record import Record

DEFAULT_MAX_RETRIES = 1
POLL_S = 1.0  # longest block in ray.wait: how soon an interrupt or a cell timeout is seen
INSTALL_HINT = "pip install 'vleval[ray]'"
# a lost worker, node or object: the cell is sent to a fresh worker (not a failure of the plugin code)
RETRYABLE = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "ObjectLostError", "OutOfMemoryError",
             "TaskUnschedulableError", "RaySystemError", "OwnerDiedError", "ObjectReconstructionFailedError")


def import_ray() -> Any:
    """The ``ray`` module, or an :class:`~vleval.executors.errors.ExecutorError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ExecutorError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


@dataclass
class RayOptions:
    """How to reach the cluster and what to ask of it (``None``: the benchmark's key, else the default)."""

    address: str | None = None  # None: RAY_ADDRESS, else a cluster started by `ray start` here, else a local one
    max_retries: int | None = None
    exclusive_latency: bool | None = None
    env: dict[str, str] = field(default_factory=dict)  # environment variables set in every worker (with each task)


@dataclass
class _InFlight:
    """A job on the cluster and its tries so far."""

    job: Job
    tries: int = 0
    errors: list[str] = field(default_factory=list)
    started: float | None = None  # driver clock when a worker reported the current try started
    worker: str | None = None
    timed_out: bool = False


class RayExecutor:
    """Runs a plan's cells on a Ray cluster (see the module docstring). ``registry`` (default: the installed
    plugins) serves the preflight checks in this process; the workers discover their own plugins."""

    def __init__(self, options: RayOptions, registry: Registry | None = None):
        self.ray = import_ray()
        self.options, self.registry = options, registry
        self.env = dict(options.env)  # set by each task in its worker (see ray_worker.apply_env)
        self.timeout_s, self.max_retries, self.exclusive = 0.0, DEFAULT_MAX_RETRIES, False
        self.nodes: list[dict[str, Any]] = []
        self._owns_ray = False  # this executor connected (so it disconnects)
        self._pending: dict[Any, _InFlight] = {}
        self._next_node = 0

    def prepare(self, planned: Plan) -> None:
        """The preflight checks (here), then connect and refuse resources no alive node has, before any work."""
        preflight(planned, Session(self.registry or Registry.discover()))
        bench, options = planned.benchmark, self.options
        self.timeout_s = cell_timeout_s(planned)
        self.max_retries = options.max_retries if options.max_retries is not None else bench.get(
            "max_retries", DEFAULT_MAX_RETRIES)
        self.exclusive = bool(options.exclusive_latency if options.exclusive_latency is not None
                              else bench.get("exclusive_latency", False))
        if not self.ray.is_initialized():
            self._connect()
        self.nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        check_feasible(planned.name, planned.cells, self.nodes)

    def _connect(self) -> None:
        address = self.options.address
        try:
            self.ray.init(address=address, log_to_driver=False, logging_level="WARNING", configure_logging=True)
        except Exception as exc:
            where = f"the Ray cluster at {address}" if address else "a Ray cluster"
            raise ExecutorError(f"--executor ray: cannot connect to {where}: {exc}. Start one with `ray start "
                                "--head` (see docs/ray.md) and pass its address with --address") from None
        self._owns_ray = True

    # -- identities
    def keys(self, cells: list[Cell]) -> list[str]:
        """Every cell's identity, computed on the cluster in one task per CPU of the cluster (at most one per cell),
        all at once: the workers that will run the cells start together and load the plugins and data meanwhile."""
        if not cells:
            return []
        task = self.ray.remote(max_retries=self.max_retries)(ray_worker.cell_keys)
        parts = _split(cells, int(sum(n["Resources"].get("CPU", 0.0) for n in self.nodes)))
        refs = [task.remote(self.env, part) for part in parts]
        keys: list[str] = []
        for part, ref in zip(parts, refs, strict=True):
            try:
                keys += self.ray.get(ref)
            except Exception as exc:  # the key task's worker died every try: each cell fails when it runs
                keys += [unresolved_key(cell, f"{type(exc).__name__}: {exc}") for cell in part]
        return keys

    # -- cells
    def _options(self, cell: Cell) -> dict[str, Any]:
        opts = task_options(cell.resources)
        if self._exclusive(cell):
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            node = self._pick_node(node_needs(cell.resources))
            opts["num_cpus"] = node["Resources"].get("CPU", 0.0)
            opts["num_gpus"] = node["Resources"].get("GPU", 0.0)
            opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        return opts

    def _exclusive(self, cell: Cell) -> bool:
        return self.exclusive and cell.latency.get("repetitions", 0) > 0

    def _pick_node(self, needs: dict[str, float]) -> dict[str, Any]:
        """The next alive node (round robin) that can run the cell, so exclusive cells spread over the nodes."""
        alive = [n for n in self.ray.nodes() if n.get("Alive") and fits(n, needs)] or self.nodes
        self._next_node += 1
        return alive[self._next_node % len(alive)]

    def _submit(self, flight: _InFlight, run_id: str) -> None:
        flight.tries += 1
        flight.started = flight.worker = None
        cell = flight.job.cell
        task = self.ray.remote(ray_worker.run_cell).options(num_returns="streaming", **self._options(cell))
        self._pending[task.remote(self.env, cell, flight.job.key, run_id, self._exclusive(cell))] = flight

    def run_many(self, jobs: list[Job], run_id: str, progress: Progress, results: Path) -> Iterator[Record]:
        """Submit every cell, then yield each record as it completes (any order); lost workers are retried.
        ``results`` is not used: the driver writes the per-item sidecars (the workers may be other machines).

        Each task streams two objects: its worker's ``ip:pid`` when the cell starts, then the record; the driver
        blocks in ``ray.wait`` until one arrives (or the next ``cell_timeout_s`` deadline), so it takes no CPU from
        the workers while cells run."""
        for job in jobs:
            self._submit(_InFlight(job), run_id)
        done_by: dict[str, int] = {}
        while self._pending:
            ready, _ = self.ray.wait(list(self._pending), num_returns=1, timeout=self._wait_s())
            self._cancel_overdue()
            for stream in ready:
                flight = self._pending.pop(stream)
                record = self._next(stream, flight, run_id, progress)
                if record is None:
                    continue  # started (still pending), or sent again
                worker = record.environment.get("ray_worker") or flight.worker or "?"
                done_by[worker] = done_by.get(worker, 0) + 1
                progress.worker_done(worker, done_by[worker])
                yield record
    def _wait_s(self) -> float:
        """How long to block for the next streamed object: until the first running cell's timeout, at most
        ``POLL_S`` (so an interrupt is seen promptly)."""
        now = time.monotonic()
        deadlines = [flight.started + self.timeout_s - now for flight in self._pending.values()
                     if flight.started is not None and not flight.timed_out]
        return max(0.0, min([POLL_S, *deadlines]))

    def _cancel_overdue(self) -> None:
        """Cancel (kill) each cell running past ``cell_timeout_s``."""
        now = time.monotonic()
        for stream, flight in self._pending.items():
            if flight.started is not None and not flight.timed_out and now - flight.started > self.timeout_s:
                flight.timed_out = True
                self.ray.cancel(stream, force=True)

    def _next(self, stream: Any, flight: _InFlight, run_id: str, progress: Progress) -> Record | None:
        """Take the next object a cell's task streamed: its worker (the cell started: kept pending, ``None``), its
        record, or its failure (``None`` if the cell was sent again, else a ``failed`` record)."""
        try:
            try:
                item = self.ray.get(next(stream))
            except StopIteration:  # the stream ended without a record: the task's own error says why
                self.ray.get(stream.completed())
                raise RuntimeError("the cell's task ended without a record") from None
        except Exception as exc:
            return self._failed(exc, flight, run_id)
        if isinstance(item, str):
            flight.started, flight.worker = time.monotonic(), item
            progress.cell(f"{flight.job.cell.label} on {item}")
            self._pending[stream] = flight
            return None
        return item

    def _failed(self, exc: Exception, flight: _InFlight, run_id: str) -> Record | None:
        """A cell's task failed: ``None`` if the cell was sent again, else its ``failed`` record."""
        name = type(exc).__name__
        if flight.timed_out:
            reason: BaseException = TimeoutError(
                f"timed out: no result after {self.timeout_s:g} s (cell_timeout_s) on {flight.worker}; the task "
                "was cancelled and its worker killed")
        elif any(name == r or name.endswith(r) for r in RETRYABLE) or isinstance(exc, self._retryable()):
            flight.errors.append(f"try {flight.tries} on {flight.worker or 'a worker'}: {name}: {_first_line(exc)}")
            if flight.tries <= self.max_retries:
                self._submit(flight, run_id)
                return None
            reason = RuntimeError(f"every try failed ({flight.tries}, max_retries = {self.max_retries}): "
                                  + "; ".join(flight.errors))
        else:
            reason = exc
        where = {"ray_worker": flight.worker} if flight.worker else {}
        environment = {**fingerprint_or_error(), **where, "exclusive_node": self._exclusive(flight.job.cell)}
        return failed_record(flight.job, run_id, reason, environment)

    def _retryable(self) -> tuple[type, ...]:
        exceptions = self.ray.exceptions
        return tuple(getattr(exceptions, n) for n in RETRYABLE if isinstance(getattr(exceptions, n, None), type))

    def close(self) -> None:
        for ref in list(self._pending):
            with contextlib.suppress(Exception):  # the cluster may already be gone
                self.ray.cancel(ref, force=True)
        self._pending.clear()
        if self._owns_ray and self.ray.is_initialized():
            self.ray.shutdown()


def _split(cells: list[Cell], n: int) -> list[list[Cell]]:
    """A non-empty ``cells`` in ``min(n, len(cells))`` (at least 1) contiguous parts whose sizes differ by at most 1."""
    n = max(1, min(n, len(cells)))
    size, extra = divmod(len(cells), n)
    bounds = [i * size + min(i, extra) for i in range(n + 1)]
    return [cells[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


def worker_env(environ: dict[str, str] | Any) -> dict[str, str]:
    """The driver's variables that workers need to see the same plugins and settings: ``PYTHONPATH``, ``VLEVAL_*``
    (cache, plugin selection) and thread counts. On a multi-node cluster the paths must exist on every node."""
    keep = ("PYTHONPATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    return {k: v for k, v in environ.items() if k in keep or k.startswith("VLEVAL_")}
