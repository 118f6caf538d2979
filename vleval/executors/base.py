"""What every executor provides (:class:`Executor`), the job it runs, and the record of a job that produced none.

An executor is where cells run: this process (:mod:`vleval.executors.in_process`), a worker process
(:mod:`vleval.executors.worker`) or a Ray cluster (:mod:`vleval.executors.ray_executor`). The runner calls, in order,
:meth:`~Executor.prepare` (before the results file is touched), :meth:`~Executor.keys`, :meth:`~Executor.run_many`,
and always :meth:`~Executor.close`.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vleval import __version__
from vleval.engine.progress import Progress
from vleval.plan.cells import Cell, Plan
from vleval.results.builder import RecordBuilder
from vleval.results.record import Record

DEFAULT_CELL_TIMEOUT_S = 4 * 3600.0  # generous, for large models on full datasets; lower it per benchmark


@dataclass(frozen=True)
class Job:
    """A cell to run and its identity (what its record is keyed by)."""

    cell: Cell
    key: str


class Executor(Protocol):
    """Runs a plan's cells somewhere and yields their records; the runner alone appends them."""

    def prepare(self, planned: Plan) -> None:
        """Check the plan before any work (plugin names and arguments; for Ray, the cluster's resources) and take
        its execution settings (``cell_timeout_s``, ...). Raises :class:`~vleval.config.load.ConfigError` for the
        benchmark's mistakes, :class:`~vleval.executors.errors.ExecutorError` when cells cannot run where asked."""

    def keys(self, cells: list[Cell]) -> list[str]:
        """Every cell's identity (:func:`~vleval.engine.identity.cell_key`), computed where the plugins run."""

    def run_many(self, jobs: list[Job], run_id: str, progress: Progress, results: Path) -> Iterator[Record]:
        """Each job's record, as it completes (``results``: the results file, beside which an executor may write
        the per-item sidecars itself)."""

    def close(self) -> None:
        """Release what the executor holds (models, worker processes, the cluster connection); safe to repeat."""


def cell_timeout_s(planned: Plan) -> float:
    """How long a cell may run before it is failed (the benchmark's ``cell_timeout_s``)."""
    return float(planned.benchmark.get("cell_timeout_s", DEFAULT_CELL_TIMEOUT_S))


def failed_record(job: Job, run_id: str, reason: BaseException, environment: dict[str, Any]) -> Record:
    """The ``failed`` record of a job whose own record never came (a hang, a dead worker, a record that cannot
    travel), with ``reason`` as its error and ``environment`` as its fingerprint."""
    build = RecordBuilder(run_id, job.key, job.cell.benchmark, job.cell.config(), job.cell.seed, __version__)
    build.fail(reason)
    return build.finish(environment)


def sendable(record: Record, job: Job, run_id: str) -> Record:
    """``record`` if it can be pickled (to travel to the driver), else a ``failed`` record saying why (a plugin put
    an object in it that cannot travel)."""
    try:
        pickle.dumps(record)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        reason = TypeError(f"the cell's record cannot be sent to the driver: {exc}")
        return failed_record(job, run_id, reason, record.environment)
    return record
