"""Building one cell's record as it runs: ``add_domain``... then ``finish`` (with the shift's drop), or ``skip`` /
``fail`` on the way."""

from __future__ import annotations

import traceback
from typing import Any

from vleval.results.record import Domain, Record, now


def drops(source: Domain, target: Domain) -> dict[str, dict[str, float]]:
    """Source minus target for every metric value both domains have."""
    out: dict[str, dict[str, float]] = {}
    for metric, values in source.metrics.items():
        for key, value in values.items():
            other = target.metrics.get(metric, {}).get(key)
            if other is not None and value["value"] is not None and other["value"] is not None:
                out.setdefault(metric, {})[key] = value["value"] - other["value"]
    return out


class RecordBuilder:
    """Builds one cell's record: ``start`` → ``add_domain``... → ``finish``, or ``skip``/``fail`` on the way."""

    def __init__(self, run_id: str, cell_key: str, benchmark: str, cell: dict[str, Any], seed: int, version: str):
        self.record = Record(run_id=run_id, cell_key=cell_key, benchmark=benchmark, cell=cell, seed=seed,
                             started_at=now(), vleval_version=version)

    def add_domain(self, name: str, domain: Domain) -> None:
        self.record.domains[name] = domain

    def skip(self, reason: str) -> None:
        self.record.status, self.record.skip_reason = "skipped", reason

    def fail(self, exc: BaseException) -> None:
        self.record.status = "failed"
        self.record.error = {"type": type(exc).__name__, "message": str(exc),
                             "traceback": "".join(traceback.format_exception(exc, limit=20))}

    def finish(self, environment: dict[str, Any]) -> Record:
        """Complete the record: the drop of a shift, the environment, the finishing time."""
        record = self.record
        if record.status == "ok" and {"source", "target"} <= set(record.domains):
            record.drop = drops(record.domains["source"], record.domains["target"])
        if record.status != "ok":
            record.primary_metric = None
        record.environment = record.environment or environment
        record.finished_at = now()
        return record
