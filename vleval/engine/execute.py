"""Step 3 of a run, executing: one cell → one record; one domain → metrics, latency and routing.

:func:`execute_cell` loads what the cell needs through the :class:`~vleval.engine.resolve.Resolver`, picks the task
strategy, optionally prunes experts on calibration data, and measures each domain with :func:`measure_domain`:
one traced pass for outputs and routing (untimed), warmup batches right before the clock starts, ``repetitions``
timed passes. Each domain's
items are loaded once (:class:`~vleval.engine.prepared.PreparedData`) and reused by every pass and by later cells. Any
exception becomes a ``failed`` record so that the other cells go on.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from vleval import __version__
from vleval.api import TASK_CAPABILITIES, Dataset, DatasetSpec, Model, TaskOutputs
from vleval.engine import item_rows, machine_load, routing
from vleval.engine.checks import check_call
from vleval.engine.latency import LatencyRecorder
from vleval.engine.prepared import PreparedData
from vleval.engine.resolve import ResolvedMetric, Resolver
from vleval.engine.tasks import TaskStrategy, strategy
from vleval.plan.cells import Cell
from vleval.results.record import TIMING_SCOPE, DatasetInfo, Domain, Record, RecordBuilder, jsonable


class CellSkipped(Exception):
    """The model cannot serve the cell's task; recorded with the reason, not counted as a failure."""


class Progress:
    """What the runner reports while it works; the CLI passes a rich-backed one, tests the silent default."""

    def start(self, cells: int) -> None: ...
    def cell(self, label: str) -> None: ...
    def samples(self, total: int, description: str) -> Callable[[int], None]:
        return lambda n: None
    def cell_done(self, record: Record) -> None: ...


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def execute_cell(cell: Cell, key: str, resolver: Resolver, run_id: str, progress: Progress) -> Record:
    """Evaluate one cell into its record."""
    from vleval.engine.environment import fingerprint

    build = RecordBuilder(run_id, key, cell.benchmark, cell.config(), cell.seed, __version__)
    record = build.record
    try:
        if cell.threads:
            import torch

            torch.set_num_threads(cell.threads)
        seed_everything(cell.seed)
        model = resolver.model(cell)
        record.environment = fingerprint(getattr(model, "device", "cpu"))
        record.plugins.model = resolver.plugin_ref("model", cell.model, fingerprint=cell.model_args)
        if cell.evaluation.kind == "shift":
            record.plugins.shift = resolver.plugin_ref("shift", cell.evaluation.name)
        specs = resolver.domains(cell.evaluation)
        datasets = {d: resolver.dataset(spec) for d, spec in specs.items()}
        task = next(iter(datasets.values())).task
        runner = strategy(task, model, cell.mc_mode)
        record.task, record.mode = task.value, runner.mode
        if not getattr(model, "accepts_images", True):
            with_images = [d.id for d in datasets.values() if len(d) and getattr(d[0], "image", None) is not None]
            if with_images:
                raise CellSkipped(f"model {cell.model!r} takes no images (text-only checkpoint, or no image "
                                  f"processor); the items of {', '.join(with_images)} have images")
        if runner.capability not in model.capabilities:
            wanted = " or ".join(c.value for c in TASK_CAPABILITIES[task])
            raise CellSkipped(f"model {cell.model!r} declares {sorted(c.value for c in model.capabilities)}; "
                              f"task {task.value!r} (mode {runner.mode!r}) needs {wanted}")
        metrics = resolver.metrics(cell.metrics, task, runner.default_metrics)
        record.plugins.metrics = [m.ref for m in metrics]
        keep = calibrate(cell, runner, resolver, progress) if cell.scaling.prune_to else None
        record.scaling = {"top_k": cell.scaling.top_k, "keep_experts": jsonable(keep)}
        with model.scale_experts(top_k=cell.scaling.top_k, keep_experts=keep):
            record.model_info = jsonable(asdict(model.info()))  # as scaled: top-k changes active parameters
            timed = cell.latency["repetitions"] > 0  # an untimed replicate has no latency figure to flag
            before = machine_load.snapshot() if timed else None
            for name, spec in specs.items():
                build.add_domain(name, measure_domain(cell, runner, datasets[name], spec, metrics, resolver,
                                                      progress, name))
            if timed:
                import torch

                load = machine_load.assess(before, machine_load.snapshot(), own_threads=torch.get_num_threads())
                for domain in record.domains.values():
                    domain.latency["machine_load"] = load
        if metrics:
            record.primary_metric = metrics[0].primary
    except CellSkipped as exc:
        build.skip(str(exc))
    except Exception as exc:
        build.fail(exc)
    return build.finish(record.environment or _light_fingerprint())


def run_pass(runner: TaskStrategy, data: PreparedData, recorder: LatencyRecorder | None = None,
             collect: bool = False, advance: Callable[[int], None] = lambda n: None,
             plugin: str = "?") -> TaskOutputs | None:
    """One pass over the data; each batch's model call is timed if ``recorder`` is given. Collected results are
    checked against their batch (:mod:`vleval.engine.checks`; ``plugin`` names the model in errors), untimed."""
    results, items = [], []
    for batch in data.batches():
        if recorder is None:
            result = runner.call(batch)
        else:
            with recorder.measure(len(batch)):
                result = runner.call(batch)
        if collect:
            check_call(runner.mode, plugin, batch, result)
            results.append(result)
            items.extend(batch)
        advance(len(batch))
    return runner.outputs(results, items) if collect else None


def measure_domain(cell: Cell, runner: TaskStrategy, dataset: Dataset, spec: DatasetSpec,
                   metrics: list[ResolvedMetric], resolver: Resolver, progress: Progress, domain: str) -> Domain:
    """One traced pass (outputs + routing, untimed), ``warmup`` batches, then ``repetitions`` timed passes.

    The warmup runs right before the clock starts, after the traced pass (which already touched every batch once),
    so that the timed passes begin on the untraced path with warm caches and allocator."""
    data = resolver.prepared(spec, cell.batch_size, cell.limit)
    model = runner.model
    recorder = LatencyRecorder(device=getattr(model, "device", "cpu"))
    advance = progress.samples(data.size * (1 + cell.latency["repetitions"]), f"{domain}: {dataset.id}")
    marks: list[tuple[int, int]] = []  # (routing events so far, batch size) after each batch: per-item routing

    def traced(n: int) -> None:
        marks.append((len(trace.events), n))
        advance(n)

    with model.trace_routing() as trace:
        outputs = run_pass(runner, data, collect=True, advance=traced, plugin=cell.model)
    if cell.latency["repetitions"]:
        for i, batch in enumerate(data.batches()):
            if i >= cell.latency["warmup"]:
                break
            with recorder.measure(len(batch), record=False):
                runner.call(batch)
    for _ in range(cell.latency["repetitions"]):
        run_pass(runner, data, recorder, advance=advance)
        recorder.end_pass()
    values = {m.name: {k: jsonable(asdict(v)) for k, v in m.metric.compute(outputs).items()} for m in metrics}
    per_image = {k: v for m in metrics if callable(getattr(m.metric, "per_image", None))
                 for k, v in m.metric.per_image().items()}
    rows = item_rows.rows(outputs, [item for batch in data.batches() for item in batch], per_image)
    if trace.events:
        one_per_item = [row for row in rows if row["kind"] in ("image", "question")]  # in order
        for row, routed in zip(one_per_item, routing.per_item(trace, marks), strict=True):
            if routed:
                row["routing"] = routed
    latency = {**recorder.summary(), "timing_scope": TIMING_SCOPE}
    info = DatasetInfo(name=spec.name, args=jsonable(spec.args), id=dataset.id, size=data.size,
                       content_hash=resolver.content_hash(spec),
                       version=resolver.registry.get("dataset", spec.name).version,
                       details=jsonable(dataset.describe()))
    return Domain(info, values, latency, routing.summarize(trace) if trace.events else None, item_rows=rows)


def calibrate(cell: Cell, runner: TaskStrategy, resolver: Resolver, progress: Progress) -> dict[int, list[int]]:
    """Experts to keep per layer: the ``prune_to`` most loaded on held-out calibration data."""
    spec = resolver.calibration(cell)
    if spec in resolver.domains(cell.evaluation).values():
        raise ValueError(f"prune_to: the calibration data {spec} is the evaluated data; name held-out data with "
                         "scaling.calibration = {name = ..., args = {...}}")
    try:
        dataset = resolver.dataset(spec)
    except Exception as exc:
        raise ValueError(f"prune_to: cannot load calibration data {spec} ({exc}); name held-out data with "
                         "scaling.calibration = {name = ..., args = {...}}") from exc
    model: Model = runner.model
    calibrator = strategy(dataset.task, model, cell.mc_mode)
    data = resolver.prepared(spec, cell.batch_size, cell.scaling.calibration_limit)
    advance = progress.samples(data.size, f"calibration: {dataset.id}")
    with model.trace_routing() as trace:
        run_pass(calibrator, data, advance=advance)
    if not trace.events:
        raise ValueError(f"pruning needs routing: model {cell.model!r} recorded no routing on {dataset.id}")
    return routing.keep_most_loaded(trace, cell.scaling.prune_to)


def _light_fingerprint() -> dict[str, Any]:
    try:
        from vleval.engine.environment import fingerprint

        return fingerprint()
    except Exception as exc:  # pragma: no cover - torch itself broken
        return {"error": str(exc)}
