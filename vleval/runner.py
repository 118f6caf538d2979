"""The runner: a benchmark in, one validated record per cell out, in three steps.

1. **plan** (:mod:`vleval.plan`): validate the benchmark once and expand it into typed cells;
2. **resolve** (:mod:`vleval.resolve`): check plugin names and arguments before any work, then give each cell its
   identity (``cell_key``, which ``--resume`` matches) from a shared cache of models, shifts, datasets and hashes;
3. **execute** (:mod:`vleval.execute`): run each cell not already complete and append its record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from vleval.execute import CellSkipped, Progress, execute_cell  # noqa: F401  (re-exported)
from vleval.plan import plan
from vleval.plugins import Registry
from vleval.record import Record
from vleval.records import ResultStore
from vleval.resolve import Resolver
from vleval.schema import ValidationFailed


@dataclass
class RunSummary:
    """What a run did: its records (typed in ``results``; as written, JSON, in ``records``)."""

    path: Path
    results: list[Record] = field(default_factory=list)
    resumed: int = 0
    quarantined: Path | None = None  # a torn last line found on --resume, moved here

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.results]

    @property
    def failed(self) -> int:
        return sum(r.status == "failed" for r in self.results)


def run_benchmark(name: str, bench: dict[str, Any], out_dir: Path, registry: Registry | None = None,
                  resume: bool = False, progress: Progress | None = None, validated: bool = False) -> RunSummary:
    """Run every cell of benchmark ``name`` and append its records to ``out_dir/<name>.jsonl``.

    ``validated``: the benchmark was already checked against the schema (by :func:`vleval.config.load_file`).
    """
    planned = plan(name, bench, validated=validated)                         # 1. plan
    resolver = Resolver(registry or Registry.discover())                     # 2. resolve
    resolver.preflight(planned)
    progress = progress or Progress()
    store = _open_store(Path(out_dir) / f"{name}.jsonl", resume)
    completed = store.completed_keys() if resume else set()
    summary = RunSummary(store.path, quarantined=store.quarantined)
    run_id = uuid.uuid4().hex[:12]
    progress.start(len(planned.cells))
    for cell in planned.cells:
        progress.cell(cell.label)
        key = resolver.cell_key(cell)
        if key in completed:
            summary.resumed += 1
            continue
        record = execute_cell(cell, key, resolver, run_id, progress)       # 3. execute
        try:
            store.append(record)
        except ValidationFailed as exc:  # e.g. a plugin produced NaN: keep the cell, as a failure
            record = record.invalid(str(exc))
            store.append(record)
        summary.results.append(record)
        progress.cell_done(record)
    resolver.release_model()
    return summary


def _open_store(path: Path, resume: bool) -> ResultStore:
    """The results file: continued with ``resume`` (a torn last line quarantined), else a new one with any earlier
    file moved aside, never overwritten."""
    if path.exists() and not resume:
        path.rename(path.with_suffix(f".{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}.jsonl"))
    return ResultStore(path).open()
