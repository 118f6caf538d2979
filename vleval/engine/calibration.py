"""Pruning experts on held-out calibration data: which data (the policy) and which experts (the most loaded)."""

from __future__ import annotations

from vleval.api import DatasetSpec, Model
from vleval.engine import routing
from vleval.engine.instances import Instances
from vleval.engine.passes import run_pass
from vleval.engine.progress import Progress
from vleval.engine.tasks import TaskStrategy, strategy
from vleval.plan.cells import Cell

HINT = "name held-out data with scaling.calibration = {name = ..., args = {...}}"


def calibration_spec(cell: Cell, instances: Instances) -> DatasetSpec:
    """Held-out data for pruning: the cell's ``scaling.calibration``, the shift's, else the evaluated data's
    ``split="val"``."""
    if cell.scaling.calibration is not None:
        return cell.scaling.calibration
    domains = instances.domains(cell.evaluation)
    if cell.evaluation.kind == "shift":
        spec = instances.shift(cell.evaluation).calibration()
        if spec is not None:
            return spec
    spec = domains.get("source") or domains["data"]
    return DatasetSpec(spec.name, {**spec.args, "split": "val"})  # a transform shift's source: the wrapped data


def calibrate(cell: Cell, runner: TaskStrategy, instances: Instances, progress: Progress) -> dict[int, list[int]]:
    """Experts to keep per layer: the ``prune_to`` most loaded on held-out calibration data."""
    spec = calibration_spec(cell, instances)
    if spec in instances.domains(cell.evaluation).values():
        raise ValueError(f"prune_to: the calibration data {spec} is the evaluated data; {HINT}")
    try:
        dataset = instances.dataset(spec)
    except Exception as exc:
        raise ValueError(f"prune_to: cannot load calibration data {spec} ({exc}); {HINT}") from exc
    model: Model = runner.model
    calibrator = strategy(dataset.task, model, cell.mc_mode)
    data = instances.prepared(spec, cell.batch_size, cell.scaling.calibration_limit)
    advance = progress.samples(data.size, f"calibration: {dataset.id}")
    with model.trace_routing() as trace:
        run_pass(calibrator, data, advance=advance)
    if not trace.events:
        raise ValueError(f"pruning needs routing: model {cell.model!r} recorded no routing on {dataset.id}")
    return routing.keep_most_loaded(trace, cell.scaling.prune_to)
