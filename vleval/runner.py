"""The runner: cells in, one validated record per cell out.

Top to bottom: :func:`run_benchmark` expands a benchmark into cells and, for each cell not already complete,
calls :func:`run_cell`, which builds (or reuses) the model, resolves the cell's datasets, optionally prunes or re-routes
experts, and evaluates every domain: warmup, a traced pass for outputs and routing, timed passes for latency.
"""

from __future__ import annotations

import hashlib
import json
import random
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vleval import __version__, routing
from vleval.api import TASK_CAPABILITIES, Dataset, DatasetSpec, Metric, Model, Task
from vleval.config import Cell, expand, validate_benchmark
from vleval.latency import LatencyRecorder
from vleval.plugins import PluginError, Registration, Registry
from vleval.records import SCHEMA_VERSION, ResultStore
from vleval.schema import ValidationFailed
from vleval.tasks import TaskRunner, batches

DEFAULT_CALIBRATION_LIMIT = 128


class CellSkipped(Exception):
    """The model cannot serve the cell's task; recorded with the reason, not counted as a failure."""


@dataclass
class RunSummary:
    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    resumed: int = 0

    @property
    def failed(self) -> int:
        return sum(r["status"] == "failed" for r in self.records)


class Progress:
    """What the runner reports while it works; the CLI passes a rich-backed one, tests the silent default."""

    def start(self, cells: int) -> None: ...
    def cell(self, label: str) -> None: ...
    def samples(self, total: int, description: str) -> Callable[[int], None]:
        return lambda n: None
    def cell_done(self, record: dict[str, Any]) -> None: ...


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_benchmark(name: str, bench: dict[str, Any], out_dir: Path, registry: Registry | None = None,
                  resume: bool = False, progress: Progress | None = None) -> RunSummary:
    """Run every cell of benchmark ``name`` and append its records to ``out_dir/<name>.jsonl``."""
    validate_benchmark(name, bench)
    registry = registry or Registry.discover()
    check_names(bench, registry, name)
    progress = progress or Progress()
    store = ResultStore(Path(out_dir) / f"{name}.jsonl")
    if store.path.exists() and not resume:  # keep earlier results: move them aside, never overwrite
        aside = store.path.with_suffix(f".{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}.jsonl")
        store.path.rename(aside)
    completed = store.completed_keys() if resume else set()
    ctx = RunContext(registry, run_id=uuid.uuid4().hex[:12])
    summary = RunSummary(store.path)
    cells = expand(name, bench)
    progress.start(len(cells))
    for cell in cells:
        progress.cell(cell.label)
        key = ctx.cell_key(cell)
        if key in completed:
            summary.resumed += 1
            continue
        record = run_cell(cell, key, ctx, progress)
        try:
            store.append(record)
        except ValidationFailed as exc:  # e.g. a plugin produced NaN: keep the cell, as a failure
            record = {**record, "status": "failed", "domains": {}, "error": {
                "type": "InvalidRecord", "message": str(exc)}}
            record.pop("drop", None)
            record.pop("primary_metric", None)
            store.append(record)
        summary.records.append(record)
        progress.cell_done(record)
    ctx.release_model()
    return summary


def check_names(bench: dict[str, Any], registry: Registry, name: str = "benchmark") -> None:
    """Fail before any work if the benchmark names a plugin that is not installed (or is ambiguous), or gives a
    model, dataset or shift arguments its factory does not take."""
    from vleval.config import ConfigError

    def check(kind: str, where: str, plugin: str, args: dict[str, Any]) -> None:
        try:
            registry.get(kind, plugin).check_args(args)
        except PluginError as exc:
            raise ConfigError(f"benchmarks.{name}.{where}: {exc}") from None

    for i, model in enumerate(bench["models"]):
        swept = {key: values[0] for key, values in model.get("sweep", {}).items()}
        check("model", f"models[{i}]", model["name"], {**model.get("args", {}), **swept})
    for kind, key in (("dataset", "datasets"), ("shift", "shifts")):
        for i, ref in enumerate(bench.get(key, [])):
            check(kind, f"{key}[{i}]", ref["name"], ref.get("args", {}))
    for i, metric in enumerate(bench.get("metrics") or []):
        check("metric", f"metrics[{i}]", metric, {})


class RunContext:
    """What cells of one run share: the registry, the loaded model, resolved datasets and the fingerprint."""

    def __init__(self, registry: Registry, run_id: str):
        self.registry, self.run_id = registry, run_id
        self._model_key: str | None = None
        self._model: Model | None = None
        self._datasets: dict[str, Dataset] = {}
        self._hashes: dict[str, str] = {}

    def model(self, cell: Cell) -> Model:
        key = json.dumps([cell.model, cell.model_args], sort_keys=True, default=str)
        if key != self._model_key:
            self.release_model()
            self._model = self.registry.create("model", cell.model, cell.model_args)
            self._model_key = key
        return self._model

    def release_model(self) -> None:
        self._model, self._model_key = None, None

    def domains(self, evaluation: dict[str, Any]) -> dict[str, DatasetSpec]:
        if evaluation["kind"] == "dataset":
            return {"data": DatasetSpec(evaluation["name"], evaluation["args"])}
        shift = self.registry.create("shift", evaluation["name"], evaluation["args"])
        return {"source": shift.source(), "target": shift.target()}

    def calibration(self, cell: Cell) -> tuple[DatasetSpec, int]:
        limit = cell.scaling.get("calibration_limit", DEFAULT_CALIBRATION_LIMIT)
        if "calibration" in cell.scaling:
            ref = cell.scaling["calibration"]
            return DatasetSpec(ref["name"], ref.get("args", {})), limit
        evaluation = cell.evaluation
        if evaluation["kind"] == "shift":
            spec = self.registry.create("shift", evaluation["name"], evaluation["args"]).calibration()
            if spec is not None:
                return spec, limit
            spec = self.domains(evaluation)["source"]
        else:
            spec = self.domains(evaluation)["data"]
        return DatasetSpec(spec.name, {**spec.args, "split": "val"}), limit

    def dataset(self, spec: DatasetSpec) -> Dataset:
        key = json.dumps([spec.name, spec.args], sort_keys=True, default=str)
        if key not in self._datasets:
            self._datasets[key] = self.registry.create("dataset", spec.name, spec.args)
        return self._datasets[key]

    def content_hash(self, spec: DatasetSpec) -> str:
        key = json.dumps([spec.name, spec.args], sort_keys=True, default=str)
        if key not in self._hashes:
            self._hashes[key] = self.dataset(spec).content_hash()
        return self._hashes[key]

    def cell_key(self, cell: Cell) -> str:
        """Identity of a cell's result: its config, the versions of its plugins and its data's content hashes."""
        try:
            domains = self.domains(cell.evaluation)
            data = {d: [s.name, self.registry.get("dataset", s.name).version, self.content_hash(s)]
                    for d, s in domains.items()}
            model = self.registry.get("model", cell.model)
            versions = [model.version, model.fingerprint(cell.model_args)]
            if cell.evaluation["kind"] == "shift":
                versions.append(self.registry.get("shift", cell.evaluation["name"]).version)
        except Exception as exc:  # resolved again, and recorded as a failure, in run_cell
            data, versions = {"unresolved": f"{type(exc).__name__}: {exc}"}, []
        blob = json.dumps([cell.config_hash(), versions, data], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def metrics(self, cell: Cell, task: Task) -> list[tuple[Registration, Metric]]:
        names = cell.metrics if cell.metrics is not None else list(self.registry.items["metric"])
        chosen = []
        for name in names:
            reg = self.registry.get("metric", name)
            metric = reg.create()
            if metric.task == task:
                chosen.append((reg, metric))
        return chosen


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_cell(cell: Cell, key: str, ctx: RunContext, progress: Progress) -> dict[str, Any]:
    """Evaluate one cell; any exception becomes a ``failed`` record so the other cells go on."""
    from vleval.environment import fingerprint

    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "run_id": ctx.run_id, "cell_key": key, "benchmark": cell.benchmark,
        "started_at": now(), "cell": cell.config(), "seed": cell.seed, "status": "ok",
        "model_info": None, "plugins": {}, "domains": {}, "vleval_version": __version__,
    }
    try:
        if cell.threads:
            import torch

            torch.set_num_threads(cell.threads)
        seed_everything(cell.seed)
        model = ctx.model(cell)
        record["environment"] = fingerprint(getattr(model, "device", "cpu"))
        registration = ctx.registry.get("model", cell.model)
        record["plugins"]["model"] = {**_plugin(registration), "fingerprint": registration.fingerprint(cell.model_args)}
        if cell.evaluation["kind"] == "shift":
            record["plugins"]["shift"] = _plugin(ctx.registry.get("shift", cell.evaluation["name"]))
        domains = ctx.domains(cell.evaluation)
        datasets = {d: ctx.dataset(spec) for d, spec in domains.items()}
        task = next(iter(datasets.values())).task
        runner = TaskRunner(task, model, cell.mc_mode)
        record["task"], record["mode"] = task.value, runner.mode
        if runner.required_capability() not in model.capabilities:
            wanted = " or ".join(c.value for c in TASK_CAPABILITIES[task])
            raise CellSkipped(f"model {cell.model!r} declares {sorted(c.value for c in model.capabilities)}; "
                              f"task {task.value!r} (mode {runner.mode!r}) needs {wanted}")
        metrics = ctx.metrics(cell, task)
        if cell.metrics is not None and not metrics:
            raise ValueError(f"none of the metrics {cell.metrics} applies to task {task.value!r}; add one that does")
        record["plugins"]["metrics"] = [_plugin(reg) for reg, _ in metrics]
        keep = _calibrate(cell, model, runner, ctx, progress) if "prune_to" in cell.scaling else None
        record["scaling"] = {"top_k": cell.scaling.get("top_k"), "keep_experts": _jsonable(keep)}
        with model.scale_experts(top_k=cell.scaling.get("top_k"), keep_experts=keep):
            record["model_info"] = _jsonable(asdict(model.info()))  # as scaled: top-k changes active parameters
            for domain, spec in domains.items():
                record["domains"][domain] = evaluate_domain(cell, runner, datasets[domain], spec, metrics,
                                                            ctx, progress, domain)
        if len(domains) == 2:
            record["drop"] = _drops(record["domains"]["source"], record["domains"]["target"])
        if metrics:
            reg, metric = metrics[0]
            record["primary_metric"] = {"metric": reg.name, "key": metric.primary,
                                        "higher_is_better": bool(getattr(metric, "higher_is_better", True))}
    except CellSkipped as exc:
        record.update(status="skipped", skip_reason=str(exc))
    except Exception as exc:
        record.update(status="failed", error={"type": type(exc).__name__, "message": str(exc),
                                               "traceback": traceback.format_exc(limit=20)})
    record.setdefault("environment", _light_fingerprint())
    record["finished_at"] = now()
    return record


def evaluate_domain(cell: Cell, runner: TaskRunner, dataset: Dataset, spec: DatasetSpec,
                    metrics: list[tuple[Registration, Metric]], ctx: RunContext, progress: Progress,
                    domain: str) -> dict[str, Any]:
    """Warmup, one traced pass (outputs + routing), then ``repetitions`` timed passes (latency)."""
    n = len(dataset) if cell.limit is None else min(cell.limit, len(dataset))

    def data():
        return batches(dataset, cell.batch_size, cell.limit)

    model = runner.model
    recorder = LatencyRecorder(device=getattr(model, "device", "cpu"))
    warm = cell.latency["warmup"]
    for i, batch in enumerate(data()):
        if i >= warm:
            break
        with recorder.measure(len(batch), record=False):
            runner.call(batch)
    advance = progress.samples(n * (1 + cell.latency["repetitions"]), f"{domain}: {dataset.id}")
    with model.trace_routing() as trace:
        outputs = runner.run_pass(data, None, collect=True, advance=advance)
    for _ in range(cell.latency["repetitions"]):
        runner.run_pass(data, recorder, collect=False, advance=advance)
    values = {}
    for reg, metric in metrics:
        values[reg.name] = {k: _jsonable(asdict(v)) for k, v in metric.compute(outputs).items()}
    latency = recorder.summary()
    latency["timing_scope"] = "model call per batch (model-side preprocessing + forward); excludes data loading"
    return {
        "dataset": {"name": spec.name, "args": _jsonable(spec.args), "id": dataset.id, "size": n,
                    "content_hash": ctx.content_hash(spec), "version": ctx.registry.get("dataset", spec.name).version,
                    "details": _jsonable(dataset.describe())},
        "metrics": values,
        "latency": latency,
        "routing": routing.summarize(trace) if trace.events else None,
    }


def _calibrate(cell: Cell, model: Model, runner: TaskRunner, ctx: RunContext, progress: Progress):
    """Experts to keep per layer: the ``prune_to`` most loaded on held-out calibration data."""
    spec, limit = ctx.calibration(cell)
    if spec in ctx.domains(cell.evaluation).values():
        raise ValueError(f"prune_to: the calibration data {spec} is the evaluated data; name held-out data with "
                         "scaling.calibration = {name = ..., args = {...}}")
    try:
        dataset = ctx.dataset(spec)
    except Exception as exc:
        raise ValueError(f"prune_to: cannot load calibration data {spec} ({exc}); name held-out data with "
                         "scaling.calibration = {name = ..., args = {...}}") from exc
    calibrator = TaskRunner(dataset.task, model, cell.mc_mode)
    advance = progress.samples(min(limit, len(dataset)), f"calibration: {dataset.id}")
    with model.trace_routing() as trace:
        calibrator.run_pass(lambda: batches(dataset, cell.batch_size, limit), None, collect=False, advance=advance)
    if not trace.events:
        raise ValueError(f"pruning needs routing: model {cell.model!r} recorded no routing on {dataset.id}")
    return routing.keep_most_loaded(trace, cell.scaling["prune_to"])


def _drops(source: dict[str, Any], target: dict[str, Any]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for metric, values in source["metrics"].items():
        for key, value in values.items():
            other = target["metrics"].get(metric, {}).get(key)
            if other is not None:
                out.setdefault(metric, {})[key] = value["value"] - other["value"]
    return out


def _plugin(reg: Registration) -> dict[str, str]:
    return {"name": reg.name, "version": reg.version, "distribution": reg.distribution, "plugin": reg.plugin}


def _light_fingerprint() -> dict[str, Any]:
    try:
        from vleval.environment import fingerprint

        return fingerprint()
    except Exception as exc:  # pragma: no cover - torch itself broken
        return {"error": str(exc)}


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays to Python, dict keys to strings, NaN to ``None``."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
