"""What runs on a Ray worker: cell identities and cells. Imported by the workers (the installed ``vleval``);
``ray`` and everything heavy are imported only inside functions, after :func:`_apply_env`, so the driver's thread
counts are set before numpy or torch load.

Each worker process keeps one :class:`~vleval.engine.resolve.Resolver` across the tasks it runs, so models, datasets and
prepared data stay loaded from one cell to the next, as in the local worker process (:mod:`vleval.executors.worker`).
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vleval.engine.resolve import Resolver
    from vleval.plan.cells import Cell
    from vleval.results.record import Record

_RESOLVER: Resolver | None = None
_WHERE: dict[str, str] | None = None
_ENV: dict[str, str] | None = None


def _apply_env(env: dict[str, str]) -> None:
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


def _resolver() -> Resolver:
    """This worker process's resolver (plugins discovered once, from the packages installed on the node)."""
    global _RESOLVER
    if _RESOLVER is None:
        from vleval.engine.resolve import Resolver
        from vleval.registry.discovery import Registry

        _RESOLVER = Resolver(Registry.discover())
    return _RESOLVER


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
    _apply_env(env)
    from vleval.executors.worker import unresolved_key

    resolver, keys = _resolver(), []
    for cell in cells:
        try:
            keys.append(resolver.cell_key(cell))
        except Exception as exc:  # the cell will fail with the reason when it runs
            keys.append(unresolved_key(cell, f"{type(exc).__name__}: {exc}"))
    return keys


def run_cell(env: dict[str, str], cell: Cell, key: str, run_id: str, exclusive: bool) -> Iterator[str | Record]:
    """Execute one cell, as a Ray streaming generator task: first yields ``ip:pid`` of this worker as soon as the
    cell starts (the driver's clock for ``cell_timeout_s`` starts then, not while the task waits for resources, and
    progress names the worker), then the record. The record's environment is this node's fingerprint (computed by
    :func:`~vleval.engine.execute.execute_cell` here) plus where it ran (``ray_node_id``, ``ray_node_ip``, ``ray_worker``)
    and ``exclusive_node`` (the cell held the whole node while it measured latency)."""
    _apply_env(env)
    where = identity()
    yield where["ray_worker"]
    from vleval import __version__
    from vleval.engine.execute import Progress, _light_fingerprint, execute_cell
    from vleval.results.record import RecordBuilder

    record = execute_cell(cell, key, _resolver(), run_id, Progress())
    record.environment = {**record.environment, **where, "exclusive_node": exclusive}
    try:  # pickled once here so a record that cannot travel fails its cell instead of the task
        pickle.dumps(record)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        build = RecordBuilder(run_id, key, cell.benchmark, cell.config(), cell.seed, __version__)
        build.fail(TypeError(f"the cell's record cannot be sent to the driver: {exc}"))
        record = build.finish({**_light_fingerprint(), **where, "exclusive_node": exclusive})
    yield record
