"""Step 2 of a run, resolving: plugin names → instances, each created once and shared by the cells of a run.

The :class:`Resolver` holds the registry and caches the loaded model (one at a time), shift instances, datasets and
their content hashes; it gives each cell its identity (:meth:`Resolver.cell_key`) and its metrics.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from vleval.api import Dataset, DatasetSpec, Metric, Model, Shift, Task
from vleval.api.shift import TransformedDataset, TransformShift
from vleval.config.load import ConfigError
from vleval.engine.prepared import Budget, PreparedData
from vleval.plan.cells import Cell, Evaluation, Plan, ShiftEvaluation, evaluation_lists, shift_evaluations
from vleval.registry.discovery import PluginError, Registry
from vleval.results.record import PluginRef, PrimaryMetric, jsonable


def metric_entry(entry: str | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(name, args)`` of a benchmark's ``metrics`` entry: ``"name"`` or ``{ name = ..., args = {...} }``."""
    if isinstance(entry, str):
        return entry, {}
    return entry["name"], dict(entry.get("args") or {})


def _key(*parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def _spec_key(spec: DatasetSpec, *more: Any) -> str:
    """Cache key of a domain: dataset name and arguments, and the transform's identity if any."""
    transform = spec.transform.identity() if spec.transform is not None else None
    return _key(spec.name, spec.args, transform, *more) if transform else _key(spec.name, spec.args, *more)


@dataclass
class ResolvedMetric:
    name: str
    metric: Metric
    ref: PluginRef

    @property
    def primary(self) -> PrimaryMetric:
        return PrimaryMetric(self.name, self.metric.primary, bool(getattr(self.metric, "higher_is_better", True)))


class Resolver:
    """What the cells of one run share: the registry and everything created from it."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._model_key: str | None = None
        self._model: Model | None = None
        self._shifts: dict[str, Shift] = {}
        self._datasets: dict[str, Dataset] = {}
        self._hashes: dict[str, str] = {}
        self._metrics: dict[str, ResolvedMetric] = {}
        self._prepared: dict[str, PreparedData] = {}
        self._budget = Budget()

    # -- names and arguments, before any work
    def preflight(self, plan: Plan) -> None:
        """Fail before any work if the benchmark names a plugin that is not installed (or is ambiguous), or gives a
        model, dataset, shift or metric arguments its factory does not take (metric argument values too)."""
        bench, name = plan.benchmark, plan.name

        def check(kind: str, where: str, plugin: str, args: dict[str, Any]) -> None:
            try:
                self.registry.get(kind, plugin).check_args(args)
            except PluginError as exc:
                raise ConfigError(f"benchmarks.{name}.{where}: {exc}") from None

        lists: list[tuple[str, dict[str, Any]]] = [("", bench)]
        for i, model in enumerate(bench["models"]):
            first = {key: values[0] for table in ("sweep", "replicates")
                     for key, values in model.get(table, {}).items()}
            check("model", f"models[{i}]", model["name"], {**model.get("args", {}), **first})
            if evaluation_lists(bench, model) is model:
                lists.append((f"models[{i}].", model))
        for prefix, entry in lists:
            for i, ref in enumerate(entry.get("datasets", [])):
                check("dataset", f"{prefix}datasets[{i}]", ref["name"], ref.get("args", {}))
            for i, evaluation in shift_evaluations(entry):
                check("shift", f"{prefix}shifts[{i}]", evaluation.name, evaluation.args)
                self._check_shift(f"benchmarks.{name}.{prefix}shifts[{i}]", evaluation)
        for i, metric in enumerate(bench.get("metrics") or []):
            metric_name, args = metric_entry(metric)
            check("metric", f"metrics[{i}]", metric_name, args)
            try:  # metrics are cheap to create: a bad argument value is refused here, not in every cell
                self.metric(metric)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"benchmarks.{name}.metrics[{i}] ({metric_name}): {exc}") from None

    def _check_shift(self, where: str, evaluation: ShiftEvaluation) -> None:
        """Every shift is created here (constructors are cheap and check their arguments: missing local files are
        reported before any work); a transform shift's wrapped dataset must be registered and take its arguments."""
        try:
            shift = self.shift(evaluation)
            if isinstance(shift, TransformShift):
                spec = shift.source()
                self.registry.get("dataset", spec.name).check_args(spec.args)
        except (PluginError, ValueError, TypeError, OSError) as exc:
            raise ConfigError(f"{where} ({evaluation.name}, args {evaluation.args}): {exc}") from None
        except Exception as exc:  # a plugin's own fault: it would fail every cell of the shift
            raise ConfigError(f"{where} ({evaluation.name}): creating the shift failed: "
                              f"{type(exc).__name__}: {exc}") from exc

    # -- instances
    def model(self, cell: Cell) -> Model:
        """The cell's model; consecutive cells of one variant share it, a new variant releases the previous one."""
        key = _key(cell.model, cell.model_args)
        if key != self._model_key:
            self.release_model()
            self._model = self.registry.create("model", cell.model, cell.model_args)
            self._model_key = key
        return self._model

    def release_model(self) -> None:
        self._model, self._model_key = None, None

    def shift(self, evaluation: Evaluation) -> Shift:
        key = _key(evaluation.name, evaluation.args)
        if key not in self._shifts:
            self._shifts[key] = self.registry.create("shift", evaluation.name, evaluation.args)
        return self._shifts[key]

    def domains(self, evaluation: Evaluation) -> dict[str, DatasetSpec]:
        """``{"data": spec}`` for a dataset, ``{"source": ..., "target": ...}`` for a shift."""
        if evaluation.kind == "dataset":
            return {"data": DatasetSpec(evaluation.name, evaluation.args)}
        shift = self.shift(evaluation)
        return {"source": shift.source(), "target": shift.target()}

    def dataset(self, spec: DatasetSpec) -> Dataset:
        """The registered dataset of ``spec``; with a transform, the same items through it (a transform shift's
        target)."""
        key = _spec_key(spec)
        if key not in self._datasets:
            if spec.transform is not None:
                self._datasets[key] = TransformedDataset(self.dataset(spec.untransformed()), spec.transform)
            else:
                self._datasets[key] = self.registry.create("dataset", spec.name, spec.args)
        return self._datasets[key]

    def prepared(self, spec: DatasetSpec, batch_size: int, limit: int | None) -> PreparedData:
        """The data's items in batches, decoded once for the whole run (within the memory budget)."""
        key = _spec_key(spec, batch_size, limit)
        if key not in self._prepared:
            self._prepared[key] = PreparedData(self.dataset(spec), batch_size, limit, self._budget)
        return self._prepared[key]

    def content_hash(self, spec: DatasetSpec) -> str:
        """The data's content hash; a transformed domain's is that of (source hash, shift, version, params)."""
        key = _spec_key(spec)
        if key not in self._hashes:
            self._hashes[key] = self.dataset(spec).content_hash()
        return self._hashes[key]

    def calibration(self, cell: Cell) -> DatasetSpec:
        """Held-out data for pruning: the cell's ``scaling.calibration``, the shift's, else the evaluated data's
        ``split="val"``."""
        if cell.scaling.calibration is not None:
            return cell.scaling.calibration
        domains = self.domains(cell.evaluation)
        if cell.evaluation.kind == "shift":
            spec = self.shift(cell.evaluation).calibration()
            if spec is not None:
                return spec
        spec = domains.get("source") or domains["data"]
        return DatasetSpec(spec.name, {**spec.args, "split": "val"})  # a transform shift's source: the wrapped data

    # -- identity
    def cell_key(self, cell: Cell) -> str:
        """Identity of a cell's result: its config, the versions of its plugins and its data's content hashes."""
        try:
            data = {d: [s.name, self.registry.get("dataset", s.name).version, self.content_hash(s)]
                    for d, s in self.domains(cell.evaluation).items()}
            model = self.registry.get("model", cell.model)
            versions = [model.version, model.fingerprint(cell.model_args)]
            if cell.evaluation.kind == "shift":
                versions.append(self.registry.get("shift", cell.evaluation.name).version)
        except Exception as exc:  # resolved again, and recorded as a failure, when the cell runs
            data, versions = {"unresolved": f"{type(exc).__name__}: {exc}"}, []
        blob = json.dumps([cell.config_hash(), versions, data], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    # -- provenance
    def plugin_ref(self, kind: str, name: str, fingerprint: dict[str, Any] | None = None) -> PluginRef:
        reg = self.registry.get(kind, name)
        return PluginRef(reg.name, reg.version, reg.distribution, reg.plugin,
                         reg.fingerprint(fingerprint) if fingerprint is not None else None)

    # -- metrics
    def metric(self, entry: str | dict[str, Any]) -> ResolvedMetric:
        """The metric of one benchmark entry: a name, or ``{name, args}``; one instance per distinct entry."""
        name, args = metric_entry(entry)
        key = _key(name, args)
        if key not in self._metrics:
            metric = self.registry.create("metric", name, args)
            ref = self.plugin_ref("metric", name)
            ref.args = args or None
            describe = getattr(metric, "describe", None)
            ref.settings = jsonable(describe()) if callable(describe) else None
            self._metrics[key] = ResolvedMetric(name, metric, ref)
        return self._metrics[key]

    def metrics(self, listed: list[Any] | None, task: Task, defaults: tuple[str, ...]) -> list[ResolvedMetric]:
        """The cell's metrics, the first being the primary one; never in plugin discovery order.

        Listed by the benchmark: those that apply to ``task``, in the benchmark's order. Otherwise every registered
        metric of the task: the task's ``defaults`` first (in their order), then any others by name, so installing
        a plugin can add metrics to a record but never changes which one a board ranks by.
        """
        if listed is not None:
            chosen = [m for m in map(self.metric, listed) if m.metric.task == task]
            if not chosen:
                raise ValueError(f"none of the metrics {listed} applies to task {task.value!r}; add one that does")
            return chosen
        registered = sorted(self.registry.items["metric"])
        order = [n for n in defaults if n in registered] + [n for n in registered if n not in defaults]
        return [m for m in map(self.metric, order) if m.metric.task == task]
