"""The runner: a benchmark in, one validated record per cell out, in three steps.

1. **plan** (:mod:`vleval.plan.cells`): validate the benchmark once and expand it into typed cells;
2. **resolve** (:mod:`vleval.engine.resolve`): check plugin names and arguments before any work, then give each cell its
   identity (``cell_key``, which ``--resume`` matches) from a shared cache of models, shifts, datasets and hashes;
3. **execute** (:mod:`vleval.engine.execute`): run each cell not already complete and append its record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vleval.config.schema import ValidationFailed
from vleval.engine.execute import CellSkipped, Progress, execute_cell  # noqa: F401  (re-exported)
from vleval.engine.resolve import Resolver
from vleval.executors.worker import DEFAULT_CELL_TIMEOUT_S, InProcess, Isolated
from vleval.plan.cells import Plan, plan
from vleval.registry.discovery import Registry
from vleval.results import sidecars as item_results
from vleval.results.lock import RunLock
from vleval.results.paths import results_path
from vleval.results.record import Record
from vleval.results.store import ResultStore

if TYPE_CHECKING:
    from vleval.executors.ray_executor import RayExecutor, RayOptions


@dataclass
class RunSummary:
    """What a run did: its records (typed in ``results``; as written, JSON, in ``records``)."""

    path: Path
    results: list[Record] = field(default_factory=list)
    resumed: int = 0
    quarantined: Path | None = None  # a torn last line found on --resume, moved here
    repaired: tuple[Path, int] | None = None  # --resume --repair: (file the bad lines went to, how many)
    moved_aside: Path | None = None  # the earlier results file, renamed (a run without --resume)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.results]

    @property
    def failed(self) -> int:
        return sum(r.status == "failed" for r in self.results)


def run_benchmark(name: str, bench: dict[str, Any], out_dir: Path, registry: Registry | None = None,
                  resume: bool = False, progress: Progress | None = None, validated: bool = False,
                  repair: bool = False, isolate: bool | Isolated = False, ray: RayOptions | None = None,
                  meanwhile: Callable[[], object] | None = None) -> RunSummary:
    """Run every cell of benchmark ``name`` and append its records to ``out_dir/<name>.jsonl``, holding its lock
    (one writer per results file) for the whole run.

    ``isolate``: run the cells in a worker process (:mod:`vleval.executors.worker`) that discovers the installed plugins
    itself; a cell that hangs past the benchmark's ``cell_timeout_s`` or crashes the interpreter is recorded as
    failed and the run goes on (``registry`` then serves only the preflight checks). An :class:`Isolated` executor
    the caller launched already (the CLI starts it first thing) is used as given.

    ``ray``: run the cells as Ray tasks on a cluster (:mod:`vleval.executors.ray_executor`; needs
    ``pip install 'vleval[ray]'``); the driver (this process) still alone appends records.

    ``validated``: the benchmark was already checked against the schema (by :func:`vleval.config.load.load_file`).
    ``repair`` (with ``resume``): move bad lines of the results file to a quarantine file instead of refusing.
    ``meanwhile``: called once before the first cell, while a worker process starts if there is one (its imports
    take seconds and the driver's CPU is idle): e.g. the CLI imports what it needs after the cells.
    """
    planned = plan(name, bench, validated=validated)                         # 1. plan
    path = results_path(Path(out_dir), name)
    with RunLock(path):
        return _run(planned, path, registry, resume, progress or Progress(), repair, isolate, ray, meanwhile)


def _run(planned: Plan, path: Path, registry: Registry | None, resume: bool, progress: Progress,
         repair: bool, isolate: bool | Isolated, ray: RayOptions | None = None,
         meanwhile: Callable[[], object] | None = None) -> RunSummary:
    timeout = planned.benchmark.get("cell_timeout_s", DEFAULT_CELL_TIMEOUT_S)
    executor: InProcess | Isolated | RayExecutor
    local_worker = bool(isolate) and ray is None
    if local_worker:  # first: the worker's imports (torch: seconds) overlap everything the driver does until a cell
        executor = isolate if isinstance(isolate, Isolated) else Isolated()
        executor.timeout_s = timeout
        executor.launch()
    try:                                                                     # 2. resolve
        if local_worker and registry is None:  # the worker discovers the same plugins: it checks the plan
            executor.preflight(planned, meanwhile)
        else:
            resolver = Resolver(registry or Registry.discover())
            resolver.preflight(planned)
            if ray is not None:  # connect (and check resources) before the results file is touched
                from vleval.executors.ray_executor import RayExecutor

                executor = RayExecutor(planned, ray, timeout)
            elif not isolate:
                executor = InProcess(resolver)
            if meanwhile is not None:
                meanwhile()
    except BaseException:
        if local_worker:
            executor.close()
        raise
    try:
        store, moved = _open_store(path, resume, repair)
        return _execute(planned, store, executor, resume, progress, moved)
    finally:
        executor.close()


def _keep(record: Record, store: ResultStore, summary: RunSummary, progress: Progress) -> None:
    """Append one record (its sidecar first); a record the schema refuses is kept as a failure."""
    try:
        item_results.attach(record, store.path)  # a worker process did this already
        store.append(record)
    except ValidationFailed as exc:  # e.g. a plugin produced NaN: keep the cell, as a failure
        record = record.invalid(str(exc))
        store.append(record)
    summary.results.append(record)
    progress.cell_done(record)


def _execute(planned: Plan, store: ResultStore, executor: InProcess | Isolated | RayExecutor, resume: bool,
             progress: Progress, moved: Path | None) -> RunSummary:
    """Every identity first, then the cells not complete; records are appended as they arrive."""
    completed = store.completed_keys() if resume else set()
    summary = RunSummary(store.path, quarantined=store.quarantined, repaired=store.repaired, moved_aside=moved)
    run_id = uuid.uuid4().hex[:12]
    progress.start(len(planned.cells))
    todo = []
    for cell, key in zip(planned.cells, executor.keys(planned.cells), strict=True):
        if key in completed:
            summary.resumed += 1
        else:
            todo.append((cell, key))
    for record in executor.run_many(todo, run_id, progress, store.path):     # 3. execute
        _keep(record, store, summary, progress)
    return summary


def _open_store(path: Path, resume: bool, repair: bool) -> tuple[ResultStore, Path | None]:
    """The results file: continued with ``resume`` (a torn last line quarantined; refused if other lines are bad,
    unless ``repair``), else a new one with any earlier file moved aside (never overwritten) and named."""
    if resume:
        return ResultStore(path).open().check(repair=repair), None
    moved = None
    if path.exists():
        moved = path.with_suffix(f".{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}.jsonl")
        path.rename(moved)
    return ResultStore(path), moved
