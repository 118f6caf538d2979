"""What runs on a Ray worker: cell identities and cells. Imported by the workers (the installed ``vleval``);
``ray`` is imported only inside functions, so this module loads wherever vleval does.

Each worker process keeps one :class:`~vleval.resolve.Resolver` across the tasks it runs, so models, datasets and
prepared data stay loaded from one cell to the next, as in the local worker process (:mod:`vleval.isolation`).
"""

from __future__ import annotations

import os
import pickle
from typing import Any

from vleval import __version__
from vleval.execute import Progress, _light_fingerprint, execute_cell
from vleval.isolation import unresolved_key
from vleval.plan import Cell
from vleval.record import Record, RecordBuilder
from vleval.resolve import Resolver

_RESOLVER: Resolver | None = None


def _resolver() -> Resolver:
    """This worker process's resolver (plugins discovered once, from the packages installed on the node)."""
    global _RESOLVER
    if _RESOLVER is None:
        from vleval.plugins import Registry

        _RESOLVER = Resolver(Registry.discover())
    return _RESOLVER


def identity() -> dict[str, str]:
    """Where this code runs: the Ray node id, the node's IP, and ``ip:pid`` of the worker process."""
    import ray

    ip = ray.util.get_node_ip_address()
    return {"ray_node_id": ray.get_runtime_context().get_node_id(), "ray_node_ip": ip,
            "ray_worker": f"{ip}:{os.getpid()}"}


def cell_keys(cells: list[Cell]) -> list[str]:
    """Each cell's identity (it hashes dataset content, so it is computed where the plugins run)."""
    resolver, keys = _resolver(), []
    for cell in cells:
        try:
            keys.append(resolver.cell_key(cell))
        except Exception as exc:  # the cell will fail with the reason when it runs
            keys.append(unresolved_key(cell, f"{type(exc).__name__}: {exc}"))
    return keys


class Tracker:
    """A Ray actor (created by the driver, no CPU) that workers tell when they start a cell: the driver's clock for
    ``cell_timeout_s`` starts then (not while the task waits for resources), and progress names the worker."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, str]] = []

    def started(self, token: Any, worker: str) -> None:
        self.events.append((token, worker))

    def since(self, n: int) -> list[tuple[Any, str]]:
        return self.events[n:]


def run_cell(cell: Cell, key: str, run_id: str, exclusive: bool, tracker: Any, token: Any) -> Record:
    """Execute one cell into its record; the record's environment is this node's fingerprint (computed by
    :func:`~vleval.execute.execute_cell` here) plus where it ran (``ray_node_id``, ``ray_node_ip``, ``ray_worker``)
    and ``exclusive_node`` (the cell held the whole node while it measured latency)."""
    where = identity()
    if tracker is not None:
        tracker.started.remote(token, where["ray_worker"])
    record = execute_cell(cell, key, _resolver(), run_id, Progress())
    record.environment = {**record.environment, **where, "exclusive_node": exclusive}
    try:  # pickled once here so a record that cannot travel fails its cell instead of the task
        pickle.dumps(record)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        build = RecordBuilder(run_id, key, cell.benchmark, cell.config(), cell.seed, __version__)
        build.fail(TypeError(f"the cell's record cannot be sent to the driver: {exc}"))
        record = build.finish({**_light_fingerprint(), **where, "exclusive_node": exclusive})
    return record
