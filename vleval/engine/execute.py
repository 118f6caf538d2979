"""Executing: one cell → one record; one domain → metrics, latency and routing.

:func:`execute_cell` loads what the cell needs through a :class:`~vleval.engine.session.Session`, picks the task
strategy, optionally prunes experts on calibration data (:mod:`vleval.engine.calibration`), and measures each domain
with :func:`measure_domain`: one traced pass for outputs and routing (untimed), warmup batches right before the
clock starts, ``repetitions`` timed passes. Each domain's items are loaded once
(:class:`~vleval.engine.prepared.PreparedData`) and reused by every pass and by later cells. Any exception becomes a
``failed`` record so that the other cells go on.
"""

from __future__ import annotations

import random
from dataclasses import asdict

from vleval import __version__
from vleval.api import TASK_CAPABILITIES, Dataset, DatasetSpec
from vleval.engine import item_rows, machine_load, plugin_attributes, routing
from vleval.engine.calibration import calibrate
from vleval.engine.environment import fingerprint, fingerprint_or_error
from vleval.engine.latency import LatencyRecorder
from vleval.engine.metric_selection import ResolvedMetric
from vleval.engine.passes import run_pass
from vleval.engine.progress import Progress
from vleval.engine.provenance import plugin_ref
from vleval.engine.session import Session
from vleval.engine.tasks import TaskStrategy, strategy
from vleval.plan.cells import Cell
from vleval.results.builder import RecordBuilder
from vleval.results.record import TIMING_SCOPE, DatasetInfo, Domain, Record, jsonable


class CellSkipped(Exception):
    """The model cannot serve the cell's task; recorded with the reason, not counted as a failure."""


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def execute_cell(cell: Cell, key: str, session: Session, run_id: str, progress: Progress) -> Record:
    """Evaluate one cell into its record."""
    build = RecordBuilder(run_id, key, cell.benchmark, cell.config(), cell.seed, __version__)
    record = build.record
    instances, registry = session.instances, session.registry
    try:
        if cell.threads:
            import torch

            torch.set_num_threads(cell.threads)
        seed_everything(cell.seed)
        model = instances.model(cell)
        record.environment = fingerprint(model.device)
        record.plugins.model = plugin_ref(registry, "model", cell.model, fingerprint=cell.model_args)
        if cell.evaluation.kind == "shift":
            record.plugins.shift = plugin_ref(registry, "shift", cell.evaluation.name)
        specs = instances.domains(cell.evaluation)
        datasets = {d: instances.dataset(spec) for d, spec in specs.items()}
        task = next(iter(datasets.values())).task
        runner = strategy(task, model, cell.mc_mode)
        record.task, record.mode = task.value, runner.mode
        if not model.accepts_images:
            with_images = [d.id for d in datasets.values() if len(d) and d[0].image is not None]
            if with_images:
                raise CellSkipped(f"model {cell.model!r} takes no images (text-only checkpoint, or no image "
                                  f"processor); the items of {', '.join(with_images)} have images")
        if runner.capability not in model.capabilities:
            wanted = " or ".join(c.value for c in TASK_CAPABILITIES[task])
            raise CellSkipped(f"model {cell.model!r} declares {sorted(c.value for c in model.capabilities)}; "
                              f"task {task.value!r} (mode {runner.mode!r}) needs {wanted}")
        metrics = session.metrics.for_task(cell.metrics, task, runner.default_metrics)
        record.plugins.metrics = [m.ref for m in metrics]
        keep = calibrate(cell, runner, instances, progress) if cell.scaling.prune_to else None
        record.scaling = {"top_k": cell.scaling.top_k, "keep_experts": jsonable(keep)}
        with model.scale_experts(top_k=cell.scaling.top_k, keep_experts=keep):
            record.model_info = jsonable(asdict(model.info()))  # as scaled: top-k changes active parameters
            timed = cell.latency["repetitions"] > 0  # an untimed replicate has no latency figure to flag
            before = machine_load.snapshot() if timed else None
            for name, spec in specs.items():
                build.add_domain(name, measure_domain(cell, runner, datasets[name], spec, metrics, session,
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
    return build.finish(record.environment or fingerprint_or_error())


def measure_domain(cell: Cell, runner: TaskStrategy, dataset: Dataset, spec: DatasetSpec,
                   metrics: list[ResolvedMetric], session: Session, progress: Progress, domain: str) -> Domain:
    """One traced pass (outputs + routing, untimed), ``warmup`` batches, then ``repetitions`` timed passes.

    The warmup runs right before the clock starts, after the traced pass (which already touched every batch once),
    so that the timed passes begin on the untraced path with warm caches and allocator."""
    instances = session.instances
    data = instances.prepared(spec, cell.batch_size, cell.limit)
    model = runner.model
    recorder = LatencyRecorder(device=model.device)
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
    per_image = {k: v for m in metrics for k, v in plugin_attributes.per_image_scores(m.metric).items()}
    rows = item_rows.rows(outputs, [item for batch in data.batches() for item in batch], per_image)
    if trace.events:
        one_per_item = [row for row in rows if row["kind"] in ("image", "question")]  # in order
        for row, routed in zip(one_per_item, routing.per_item(trace, marks), strict=True):
            if routed:
                row["routing"] = routed
    latency = {**recorder.summary(), "timing_scope": TIMING_SCOPE}
    info = DatasetInfo(name=spec.name, args=jsonable(spec.args), id=dataset.id, size=data.size,
                       content_hash=instances.content_hash(spec),
                       version=session.registry.get("dataset", spec.name).version,
                       details=jsonable(dataset.describe()))
    return Domain(info, values, latency, routing.summarize(trace) if trace.events else None, item_rows=rows)
