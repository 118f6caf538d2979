"""What a Ray worker process does once its environment is set (:mod:`vleval.executors.ray_worker` imports this
module only then): the cells' identities and the cells, with one :class:`~vleval.engine.session.Session` kept
across the tasks the process runs, so models, datasets and prepared data stay loaded from one cell to the next, as in
the local worker process."""

from __future__ import annotations

from vleval.engine.execute import execute_cell
from vleval.engine.identity import cell_key
from vleval.engine.progress import Progress
from vleval.engine.session import Session
from vleval.executors.base import Job, sendable
from vleval.plan.cells import Cell
from vleval.registry.discovery import Registry
from vleval.results.record import Record

_SESSION: Session | None = None


def _session() -> Session:
    """This worker process's session (plugins discovered once, from the packages installed on the node)."""
    global _SESSION
    if _SESSION is None:
        _SESSION = Session(Registry.discover())
    return _SESSION


def keys(cells: list[Cell]) -> list[str]:
    """Each cell's identity (a cell whose plugins cannot be resolved gets the unresolved key: it fails when it
    runs)."""
    session = _session()
    return [cell_key(cell, session.instances) for cell in cells]


def execute(cell: Cell, key: str, run_id: str, where: dict[str, str], exclusive: bool) -> Record:
    """The cell's record, its environment completed with where it ran and ``exclusive_node``; a failed record if it
    cannot travel to the driver."""
    job = Job(cell, key)
    record = execute_cell(cell, key, _session(), run_id, Progress())
    record.environment = {**record.environment, **where, "exclusive_node": exclusive}
    return sendable(record, job, run_id)
