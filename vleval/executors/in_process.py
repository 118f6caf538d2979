"""The in-process executor: cells run in this process, one after the other (no fault isolation, no cell timeout).
The API default, what tests with explicit registries use, and ``vleval run --in-process`` (e.g. under a debugger)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from vleval.engine.execute import execute_cell
from vleval.engine.identity import cell_key
from vleval.engine.preflight import preflight
from vleval.engine.progress import Progress
from vleval.engine.session import Session
from vleval.executors.base import Job
from vleval.plan.cells import Cell, Plan
from vleval.registry.discovery import Registry
from vleval.results.record import Record


class InProcessExecutor:
    """Runs cells with the plugins of ``registry``, sharing one :class:`~vleval.engine.session.Session`."""

    def __init__(self, registry: Registry):
        self.session = Session(registry)

    def prepare(self, planned: Plan) -> None:
        preflight(planned, self.session)

    def keys(self, cells: list[Cell]) -> list[str]:
        return [cell_key(cell, self.session.instances) for cell in cells]

    def run_many(self, jobs: list[Job], run_id: str, progress: Progress, results: Path) -> Iterator[Record]:
        """The jobs' records, in order (the runner writes their sidecars)."""
        for job in jobs:
            progress.cell(job.cell.label)
            yield execute_cell(job.cell, job.key, self.session, run_id, progress)

    def close(self) -> None:
        self.session.release_model()
