"""The result record: one per cell, the only module that knows its JSON shape (``schemas/result.schema.json``).

:class:`RecordBuilder` assembles a record while a cell runs (start, add domains, skip or fail, finish);
:meth:`Record.to_json` writes it and :meth:`Record.from_json` reads it back, so leaderboards and summaries read
typed fields rather than string keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

SCHEMA_VERSION = "1.0"
TIMING_SCOPE = "model call per batch (model-side preprocessing + forward); excludes data loading"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays to Python, dict keys to strings, NaN to ``None``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


@dataclass
class PluginRef:
    """Which registered plugin (and distribution) produced part of a record."""

    name: str
    version: str
    distribution: str
    plugin: str | None = None
    fingerprint: str | None = None
    args: dict[str, Any] | None = None  # metrics: the arguments given in the benchmark (omitted when none)
    settings: dict[str, Any] | None = None  # metrics: their describe() (mode, tokenizer, unavailable parts)

    def to_json(self) -> dict[str, Any]:
        out = _drop_none(asdict(self))
        for key in ("args", "settings"):
            if not out.get(key):
                out.pop(key, None)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PluginRef:
        keys = ("name", "version", "distribution", "plugin", "fingerprint", "args", "settings")
        return cls(**{k: data.get(k) for k in keys})


@dataclass
class Plugins:
    model: PluginRef | None = None
    shift: PluginRef | None = None
    metrics: list[PluginRef] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.model:
            out["model"] = self.model.to_json()
        if self.shift:
            out["shift"] = self.shift.to_json()
        if self.metrics is not None:
            out["metrics"] = [m.to_json() for m in self.metrics]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plugins:
        metrics = data.get("metrics")
        return cls(model=PluginRef.from_json(data["model"]) if data.get("model") else None,
                   shift=PluginRef.from_json(data["shift"]) if data.get("shift") else None,
                   metrics=None if metrics is None else [PluginRef.from_json(m) for m in metrics])


@dataclass
class DatasetInfo:
    name: str
    args: dict[str, Any]
    id: str
    size: int
    content_hash: str
    version: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Domain:
    """One evaluated domain (``data``, or ``source``/``target`` of a shift): metrics, latency, routing."""

    dataset: DatasetInfo
    metrics: dict[str, dict[str, dict[str, Any]]]  # metric -> key -> {value, ci_low, ci_high, stderr}
    latency: dict[str, Any]
    routing: dict[str, Any] | None
    #: per-item rows (``vleval.results.sidecars``), written to the record's sidecar, never into the record itself
    item_rows: list[dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def value(self, metric: str, key: str) -> float | None:
        entry = self.metrics.get(metric, {}).get(key)
        return None if entry is None else entry["value"]

    @property
    def p50_ms(self) -> float | None:
        return self.latency["sample_ms"]["p50"]

    @property
    def p90_ms(self) -> float | None:
        return self.latency["sample_ms"]["p90"]

    @property
    def throughput(self) -> float | None:
        return self.latency["throughput_samples_per_s"]

    def to_json(self) -> dict[str, Any]:
        return {"dataset": asdict(self.dataset), "metrics": self.metrics, "latency": self.latency,
                "routing": self.routing}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Domain:
        ds = data["dataset"]
        info = DatasetInfo(name=ds["name"], args=ds.get("args", {}), id=ds["id"], size=ds["size"],
                           content_hash=ds["content_hash"], version=ds["version"], details=ds.get("details", {}))
        return cls(info, data["metrics"], data["latency"], data.get("routing"))


@dataclass
class PrimaryMetric:
    metric: str
    key: str
    higher_is_better: bool = True

    @property
    def name(self) -> str:
        return f"{self.metric}/{self.key}"


@dataclass
class Record:
    """One cell's result. ``cell`` is the cell's config as planned (its hash is part of ``cell_key``)."""

    run_id: str
    cell_key: str
    benchmark: str
    cell: dict[str, Any]
    seed: int
    started_at: str
    status: str = "ok"  # ok | failed | skipped
    finished_at: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    plugins: Plugins = field(default_factory=Plugins)
    domains: dict[str, Domain] = field(default_factory=dict)
    vleval_version: str = ""
    task: str | None = None
    mode: str | None = None
    model_info: dict[str, Any] | None = None
    scaling: dict[str, Any] | None = None
    drop: dict[str, dict[str, float]] | None = None
    primary_metric: PrimaryMetric | None = None
    skip_reason: str | None = None
    error: dict[str, str] | None = None
    items: dict[str, Any] | None = None  # the per-item sidecar: {path (relative to the results file), sha256, rows}
    schema_version: str = SCHEMA_VERSION

    # -- reading
    @property
    def label(self) -> str:
        return self.cell["label"]

    @property
    def variant(self) -> str:
        """The variant's label without replicate arguments (records written before 0.2 carry none: the label)."""
        return self.cell.get("variant", self.cell["label"])

    @property
    def replicate(self) -> dict[str, Any]:
        """This record's replicate arguments (``{}`` when its model entry has no ``replicates`` table)."""
        return self.cell.get("replicate", {})

    @property
    def evaluation(self) -> dict[str, Any]:
        return self.cell["evaluation"]

    @property
    def batch_size(self) -> int:
        return self.cell["batch_size"]

    @property
    def timed(self) -> Domain | None:
        """The domain whose latency a board reports: ``source`` of a shift, else ``data``."""
        return self.domains.get("source") or self.domains.get("data")

    def primary(self, domain: str, metric: PrimaryMetric | None = None) -> float | None:
        """The value of ``metric`` (default: this record's primary metric) in ``domain``; ``None`` if absent."""
        block, metric = self.domains.get(domain), metric or self.primary_metric
        if block is None or metric is None:
            return None
        return block.value(metric.metric, metric.key)

    @property
    def experts(self) -> int:
        """Experts per MoE layer as run: kept experts when pruned, else the model's maximum; 1 for a dense model."""
        keep = (self.scaling or {}).get("keep_experts")
        if keep:
            return len(next(iter(keep.values())))
        per_layer = (self.model_info or {}).get("experts_per_layer")
        return max(per_layer) if per_layer else 1

    @property
    def top_k(self) -> int | None:
        return (self.scaling or {}).get("top_k") or (self.model_info or {}).get("top_k")

    @property
    def active_params(self) -> int | None:
        return (self.model_info or {}).get("active_params_per_token")

    def invalid(self, message: str) -> Record:
        """This record as a failure: what it held did not match the schema (e.g. a plugin returned NaN)."""
        return replace(self, status="failed", domains={}, drop=None, primary_metric=None, items=None,
                       error={"type": "InvalidRecord", "message": message})

    # -- JSON
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": self.schema_version, "run_id": self.run_id, "cell_key": self.cell_key,
            "benchmark": self.benchmark, "started_at": self.started_at, "finished_at": self.finished_at,
            "cell": self.cell, "seed": self.seed, "status": self.status, "environment": self.environment,
            "plugins": self.plugins.to_json(), "domains": {k: d.to_json() for k, d in self.domains.items()},
            "vleval_version": self.vleval_version, "model_info": self.model_info,
        }
        optional = {"task": self.task, "mode": self.mode, "scaling": self.scaling, "drop": self.drop,
                    "primary_metric": asdict(self.primary_metric) if self.primary_metric else None,
                    "skip_reason": self.skip_reason, "error": self.error, "items": self.items}
        return {**out, **_drop_none(optional)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        primary = data.get("primary_metric")
        return cls(
            run_id=data["run_id"], cell_key=data["cell_key"], benchmark=data["benchmark"], cell=data["cell"],
            seed=data["seed"], started_at=data["started_at"], status=data["status"],
            finished_at=data.get("finished_at"), environment=data.get("environment", {}),
            plugins=Plugins.from_json(data.get("plugins", {})),
            domains={k: Domain.from_json(v) for k, v in data.get("domains", {}).items()},
            vleval_version=data.get("vleval_version", ""), task=data.get("task"), mode=data.get("mode"),
            model_info=data.get("model_info"), scaling=data.get("scaling"), drop=data.get("drop"),
            primary_metric=PrimaryMetric(primary["metric"], primary["key"], primary.get("higher_is_better", True))
            if primary else None,
            skip_reason=data.get("skip_reason"), error=data.get("error"), items=data.get("items"),
            schema_version=data.get("schema_version", SCHEMA_VERSION),
        )
