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

from vleval import __version__
from vleval.config.load import ConfigError
from vleval.engine.execute import Progress, _light_fingerprint
from vleval.plan.cells import Cell, Plan, expand
from vleval.results.record import Record, RecordBuilder

DEFAULT_MAX_RETRIES = 1
POLL_S = 1.0  # longest block in ray.wait: how soon an interrupt or a cell timeout is seen
INSTALL_HINT = "pip install 'vleval[ray]'"
# a lost worker, node or object: the cell is sent to a fresh worker (not a failure of the plugin code)
RETRYABLE = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "ObjectLostError", "OutOfMemoryError",
             "TaskUnschedulableError", "RaySystemError", "OwnerDiedError", "ObjectReconstructionFailedError")


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


@dataclass
class RayOptions:
    """How to reach the cluster and what to ask of it (``None``: the benchmark's key, else the default)."""

    address: str | None = None  # None: RAY_ADDRESS, else a cluster started by `ray start` here, else a local one
    max_retries: int | None = None
    exclusive_latency: bool | None = None
    env: dict[str, str] = field(default_factory=dict)  # environment variables set in every worker (with each task)


@dataclass
class _Job:
    cell: Cell
    key: str
    request: tuple[int, dict[str, float]]  # (model entry index, its resources table)
    tries: int = 0
    errors: list[str] = field(default_factory=list)
    started: float | None = None  # driver clock when a worker reported the current try started
    worker: str | None = None
    timed_out: bool = False


def cell_requests(planned: Plan) -> list[tuple[int, dict[str, float]]]:
    """``(model entry index, resources table)`` of each planned cell, in plan order (cells are expanded model entry
    by model entry, so each entry's cells are one contiguous run)."""
    out: list[tuple[int, dict[str, float]]] = []
    for i, model in enumerate(planned.benchmark["models"]):
        count = len(expand(planned.name, {**planned.benchmark, "models": [model]}))
        out += [(i, dict(model.get("resources", {})))] * count
    if len(out) != len(planned.cells):  # pragma: no cover - plan.expand changed its order
        raise RuntimeError("cannot match cells to their model entries' resources")
    return out


def _node_needs(resources: dict[str, float]) -> dict[str, float]:
    """A resources table in the names a node reports (``CPU``, ``GPU``, ``memory``, custom)."""
    names = {"num_cpus": "CPU", "num_gpus": "GPU"}
    needs = {names.get(k, k): float(v) for k, v in resources.items()}
    needs.setdefault("CPU", 1.0)
    return {k: v for k, v in needs.items() if v > 0}


def _fits(node: dict[str, Any], needs: dict[str, float]) -> bool:
    return all(node["Resources"].get(k, 0.0) >= v for k, v in needs.items())


class RayExecutor:
    """Runs a plan's cells on a Ray cluster (see the module docstring); ``keys`` then ``run_many``, then ``close``."""

    def __init__(self, planned: Plan, options: RayOptions, timeout_s: float):
        self.ray = import_ray()
        self.plan, self.timeout_s = planned, timeout_s
        bench = planned.benchmark
        self.max_retries = options.max_retries if options.max_retries is not None else bench.get(
            "max_retries", DEFAULT_MAX_RETRIES)
        self.exclusive = bool(options.exclusive_latency if options.exclusive_latency is not None
                              else bench.get("exclusive_latency", False))
        self.requests = {id(c): r for c, r in zip(planned.cells, cell_requests(planned), strict=True)}
        self._owns_ray = not self.ray.is_initialized()
        self.env = dict(options.env)  # set by each task in its worker (see ray_worker._apply_env)
        self._pending: dict[Any, _Job] = {}
        if self._owns_ray:
            self._connect(options)
        try:
            self.nodes = [n for n in self.ray.nodes() if n.get("Alive")]
            self._check_feasible()
            self._next_node = 0
        except BaseException:
            # refused before any work (e.g. resources no node has): disconnect, or this process stays a driver of
            # the cluster, and Ray ends a driver whose cluster has gone away
            self.close()
            raise

    def _connect(self, options: RayOptions) -> None:
        try:
            self.ray.init(address=options.address, log_to_driver=False,
                          logging_level="WARNING", configure_logging=True)
        except Exception as exc:
            where = f"the Ray cluster at {options.address}" if options.address else "a Ray cluster"
            raise ConfigError(f"--executor ray: cannot connect to {where}: {exc}. Start one with `ray start --head` "
                              "(see docs/ray.md) and pass its address with --address") from None

    def _check_feasible(self) -> None:
        for index, resources in dict(self.requests.values()).items():
            needs = _node_needs(resources)
            if not any(_fits(node, needs) for node in self.nodes):
                have = "; ".join(f"{n['NodeManagerAddress']}: {_show(n['Resources'])}" for n in self.nodes)
                raise ConfigError(f"benchmarks.{self.plan.name}.models[{index}].resources: no node of the Ray "
                                  f"cluster has {_show(needs)} (nodes: {have or 'none alive'})")

    # -- identities
    def keys(self, cells: list[Cell]) -> list[str]:
        """Every cell's identity, computed on the cluster in one task per CPU of the cluster (at most one per cell),
        all at once: the workers that will run the cells start together and load the plugins and data meanwhile."""
        from vleval.executors import ray_worker
        from vleval.executors.worker import unresolved_key

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
    def _options(self, job: _Job) -> dict[str, Any]:
        resources = dict(job.request[1])
        opts: dict[str, Any] = {"num_cpus": resources.pop("num_cpus", 1), "num_gpus": resources.pop("num_gpus", 0),
                                "max_retries": 0, "retry_exceptions": False}
        if "memory" in resources:
            opts["memory"] = resources.pop("memory")
        if self._exclusive(job.cell):
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            node = self._pick_node(_node_needs(job.request[1]))
            opts["num_cpus"] = node["Resources"].get("CPU", 0.0)
            opts["num_gpus"] = node["Resources"].get("GPU", 0.0)
            opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        if resources:
            opts["resources"] = resources
        return opts

    def _exclusive(self, cell: Cell) -> bool:
        return self.exclusive and cell.latency.get("repetitions", 0) > 0

    def _pick_node(self, needs: dict[str, float]) -> dict[str, Any]:
        """The next alive node (round robin) that can run the cell, so exclusive cells spread over the nodes."""
        alive = [n for n in self.ray.nodes() if n.get("Alive") and _fits(n, needs)] or self.nodes
        self._next_node += 1
        return alive[self._next_node % len(alive)]

    def _submit(self, job: _Job, run_id: str) -> None:
        from vleval.executors import ray_worker

        job.tries += 1
        job.started = job.worker = None
        task = self.ray.remote(ray_worker.run_cell).options(num_returns="streaming", **self._options(job))
        self._pending[task.remote(self.env, job.cell, job.key, run_id, self._exclusive(job.cell))] = job

    def run_many(self, jobs: list[tuple[Cell, str]], run_id: str, progress: Progress,
                 results: Path | None = None) -> Iterator[Record]:
        """Submit every cell, then yield each record as it completes (any order); lost workers are retried.
        ``results`` is not used: the driver writes the per-item sidecars (the workers may be other machines).

        Each task streams two objects: its worker's ``ip:pid`` when the cell starts, then the record; the driver
        blocks in ``ray.wait`` until one arrives (or the next ``cell_timeout_s`` deadline), so it takes no CPU from
        the workers while cells run."""
        for cell, key in jobs:
            self._submit(_Job(cell, key, self.requests[id(cell)]), run_id)
        done_by: dict[str, int] = {}
        while self._pending:
            ready, _ = self.ray.wait(list(self._pending), num_returns=1, timeout=self._wait_s())
            self._cancel_overdue()
            for stream in ready:
                job = self._pending.pop(stream)
                record = self._next(stream, job, run_id, progress)
                if record is None:
                    continue  # started (still pending), or sent again
                worker = record.environment.get("ray_worker") or job.worker or "?"
                done_by[worker] = done_by.get(worker, 0) + 1
                report = getattr(progress, "worker_done", None)
                if callable(report):
                    report(worker, done_by[worker])
                yield record

    def _wait_s(self) -> float:
        """How long to block for the next streamed object: until the first running cell's timeout, at most
        ``POLL_S`` (so an interrupt is seen promptly)."""
        now = time.monotonic()
        deadlines = [job.started + self.timeout_s - now for job in self._pending.values()
                     if job.started is not None and not job.timed_out]
        return max(0.0, min([POLL_S, *deadlines]))

    def _cancel_overdue(self) -> None:
        """Cancel (kill) each cell running past ``cell_timeout_s``."""
        now = time.monotonic()
        for stream, job in self._pending.items():
            if job.started is not None and not job.timed_out and now - job.started > self.timeout_s:
                job.timed_out = True
                self.ray.cancel(stream, force=True)

    def _next(self, stream: Any, job: _Job, run_id: str, progress: Progress) -> Record | None:
        """Take the next object a cell's task streamed: its worker (the cell started: kept pending, ``None``), its
        record, or its failure (``None`` if the cell was sent again, else a ``failed`` record)."""
        try:
            try:
                item = self.ray.get(next(stream))
            except StopIteration:  # the stream ended without a record: the task's own error says why
                self.ray.get(stream.completed())
                raise RuntimeError("the cell's task ended without a record") from None
        except Exception as exc:
            return self._failed(exc, job, run_id)
        if isinstance(item, str):
            job.started, job.worker = time.monotonic(), item
            progress.cell(f"{job.cell.label} on {item}")
            self._pending[stream] = job
            return None
        return item

    def _failed(self, exc: Exception, job: _Job, run_id: str) -> Record | None:
        """A cell's task failed: ``None`` if the cell was sent again, else its ``failed`` record."""
        name = type(exc).__name__
        if job.timed_out:
            reason: BaseException = TimeoutError(
                f"timed out: no result after {self.timeout_s:g} s (cell_timeout_s) on {job.worker}; the task "
                "was cancelled and its worker killed")
        elif any(name == r or name.endswith(r) for r in RETRYABLE) or isinstance(exc, self._retryable()):
            job.errors.append(f"try {job.tries} on {job.worker or 'a worker'}: {name}: {_first_line(exc)}")
            if job.tries <= self.max_retries:
                self._submit(job, run_id)
                return None
            reason = RuntimeError(f"every try failed ({job.tries}, max_retries = {self.max_retries}): "
                                  + "; ".join(job.errors))
        else:
            reason = exc
        build = RecordBuilder(run_id, job.key, job.cell.benchmark, job.cell.config(), job.cell.seed, __version__)
        build.fail(reason)
        where = {"ray_worker": job.worker} if job.worker else {}
        return build.finish({**_light_fingerprint(), **where, "exclusive_node": self._exclusive(job.cell)})

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


def _show(resources: dict[str, float]) -> str:
    shown = {k: v for k, v in resources.items() if not k.startswith("node:") and k != "object_store_memory"}
    return ", ".join(f"{k}={v:g}" for k, v in sorted(shown.items())) or "nothing"


def worker_env(environ: dict[str, str] | Any) -> dict[str, str]:
    """The driver's variables that workers need to see the same plugins and settings: ``PYTHONPATH``, ``VLEVAL_*``
    (cache, plugin selection) and thread counts. On a multi-node cluster the paths must exist on every node."""
    keep = ("PYTHONPATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    return {k: v for k, v in environ.items() if k in keep or k.startswith("VLEVAL_")}
