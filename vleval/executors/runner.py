"""The runner: a benchmark in, one validated record per cell out, in three steps.

1. **plan** (:mod:`vleval.plan.cells`): validate the benchmark once and expand it into typed cells;
2. **prepare** (:meth:`Executor.prepare <vleval.executors.base.Executor.prepare>`): check plugin names and arguments
   before any work, then give each cell its identity (:func:`~vleval.engine.identity.cell_key`, which ``--resume``
   matches);
3. **execute** (:meth:`Executor.run_many <vleval.executors.base.Executor.run_many>`): run each cell not already
   complete and append its record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from vleval.config.schema import ValidationFailed
from vleval.engine.progress import Progress
from vleval.executors.base import Executor, Job
from vleval.executors.in_process import InProcessExecutor
from vleval.plan.cells import Plan, plan
from vleval.registry.discovery import Registry
from vleval.results import sidecars
from vleval.results.lock import RunLock
from vleval.results.paths import results_path
from vleval.results.record import Record
from vleval.results.store import ResultStore


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
                  repair: bool = False, executor: Executor | None = None) -> RunSummary:
    """Run every cell of benchmark ``name`` and append its records to ``out_dir/<name>.jsonl``, holding its lock
    (one writer per results file) for the whole run.

    ``executor``: where the cells run (:mod:`vleval.executors`); default: this process, with the plugins of
    ``registry`` (default: the installed ones). The other executors find their plugins themselves, so ``registry``
    goes with the default only. The executor is closed when the run ends, whatever happens.

    ``validated``: the benchmark was already checked against the schema (by :func:`vleval.config.load.load_file`).
    ``repair`` (with ``resume``): move bad lines of the results file to a quarantine file instead of refusing.
    """
    if executor is None:
        executor = InProcessExecutor(registry or Registry.discover())
    elif registry is not None:
        executor.close()
        raise ValueError("run_benchmark: registry is for the default in-process executor; an executor given "
                         "finds its plugins itself")
    try:
        planned = plan(name, bench, validated=validated)                     # 1. plan
        path = results_path(Path(out_dir), name)
        with RunLock(path):
            executor.prepare(planned)                                        # 2. check, before any work
            store, moved = _open_store(path, resume, repair)
            return _execute(planned, store, executor, resume, progress or Progress(), moved)
    finally:
        executor.close()


def _keep(record: Record, store: ResultStore, summary: RunSummary, progress: Progress) -> None:
    """Append one record (its sidecar first); a record the schema refuses is kept as a failure."""
    try:
        sidecars.attach(record, store.path)  # a worker process did this already
        store.append(record)
    except ValidationFailed as exc:  # e.g. a plugin produced NaN: keep the cell, as a failure
        record = record.invalid(str(exc))
        store.append(record)
    summary.results.append(record)
    progress.cell_done(record)


def _execute(planned: Plan, store: ResultStore, executor: Executor, resume: bool, progress: Progress,
             moved: Path | None) -> RunSummary:
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
            todo.append(Job(cell, key))
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
