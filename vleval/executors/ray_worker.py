"""The Ray tasks: cell identities and cells. Imported by the workers (the installed ``vleval``) to run a task.

This module imports nothing heavy: each task first gives its worker process the driver's variables
(:func:`apply_env`: thread counts, ``PYTHONPATH``), and only then imports :mod:`vleval.executors.ray_cells` (the
engine, and with it numpy and torch), so those read the driver's thread counts when they load.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vleval.plan.cells import Cell
    from vleval.results.record import Record

_WHERE: dict[str, str] | None = None
_ENV: dict[str, str] | None = None


def apply_env(env: dict[str, str]) -> None:
    """Give this worker process the driver's variables (:func:`~vleval.executors.ray_executor.worker_env`), once:
    ``PYTHONPATH`` entries go on ``sys.path`` where the interpreter puts them, the rest into ``os.environ``.

    Every task carries them, instead of a Ray ``runtime_env``: a worker with a ``runtime_env`` is started through a
    setup process that then starts the worker interpreter, twice the start-up work for every worker of every run."""
    global _ENV
    if env == _ENV:
        return
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
    sys.path[1:1] = paths  # after the first entry (the worker's own directory), before the standard library
    os.environ.update(env)
    importlib.invalidate_caches()
    _ENV = dict(env)


def _cells(env: dict[str, str]) -> ModuleType:
    """:mod:`vleval.executors.ray_cells`, imported after :func:`apply_env`."""
    apply_env(env)
    from vleval.executors import ray_cells  # deferred on purpose: it loads numpy and torch, which read env

    return ray_cells


def identity() -> dict[str, str]:
    """Where this code runs: the Ray node id, the node's IP, and ``ip:pid`` of the worker process (computed once per
    worker process)."""
    global _WHERE
    if _WHERE is None:
        import ray

        ip = ray.util.get_node_ip_address()
        _WHERE = {"ray_node_id": ray.get_runtime_context().get_node_id(), "ray_node_ip": ip,
                  "ray_worker": f"{ip}:{os.getpid()}"}
    return dict(_WHERE)


def cell_keys(env: dict[str, str], cells: list[Cell]) -> list[str]:
    """Each cell's identity (it hashes dataset content, so it is computed where the plugins run)."""
    return _cells(env).keys(cells)


def run_cell(env: dict[str, str], cell: Cell, key: str, run_id: str, exclusive: bool) -> Iterator[str | Record]:
    """Execute one cell, as a Ray streaming generator task: first yields ``ip:pid`` of this worker as soon as the
    cell starts (the driver's clock for ``cell_timeout_s`` starts then, not while the task waits for resources, and
    progress names the worker), then the record. The record's environment is this node's fingerprint plus where it
    ran (``ray_node_id``, ``ray_node_ip``, ``ray_worker``) and ``exclusive_node`` (the cell held the whole node while
    it measured latency)."""
    cells = _cells(env)
    where = identity()
    yield where["ray_worker"]
    yield cells.execute(cell, key, run_id, where, exclusive)
