"""Step 1 of a run, planning: a validated benchmark → typed cells, in the order they run.

A cell is one model variant (factory arguments + inference-time scaling) evaluated on one dataset or one shift with
one seed and batch size. Its :meth:`Cell.config` is what the record stores and what its identity hashes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from vleval.api.shift import DatasetSpec
from vleval.config.load import ConfigError, validate_benchmark

DEFAULT_LATENCY = {"warmup": 2, "repetitions": 1}
DEFAULT_CALIBRATION_LIMIT = 128


@dataclass(frozen=True)
class DatasetEvaluation:
    """Evaluate one registered dataset (one domain, ``data``)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "dataset"

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "args": self.args}


@dataclass(frozen=True)
class ShiftEvaluation:
    """Evaluate a registered shift: its ``source`` and ``target`` domains, and the drop between them."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "shift"

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "args": self.args}


Evaluation = DatasetEvaluation | ShiftEvaluation


@dataclass(frozen=True)
class Scaling:
    """Inference-time expert scaling: ``top_k`` per token, pruning to the ``prune_to`` most loaded experts per layer
    on ``calibration`` data (default: the held-out split of the evaluated data)."""

    top_k: int | None = None
    prune_to: int | None = None
    calibration: DatasetSpec | None = None
    calibration_limit: int = DEFAULT_CALIBRATION_LIMIT
    raw: dict[str, Any] = field(default_factory=dict, compare=False)  # as written in the benchmark

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> Scaling:
        ref = raw.get("calibration")
        return cls(top_k=raw.get("top_k"), prune_to=raw.get("prune_to"),
                   calibration=DatasetSpec(ref["name"], ref.get("args", {})) if ref else None,
                   calibration_limit=raw.get("calibration_limit", DEFAULT_CALIBRATION_LIMIT), raw=dict(raw))


@dataclass(frozen=True)
class Cell:
    """One unit of work, and one record."""

    benchmark: str
    model: str
    model_args: dict[str, Any]
    scaling: Scaling
    label: str
    evaluation: Evaluation
    metrics: list[Any] | None  # as the benchmark lists them (names or {name, args}); None: the task's defaults
    seed: int
    batch_size: int
    limit: int | None
    threads: int | None
    mc_mode: str
    latency: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LATENCY))
    variant: str = ""  # the label without the replicate arguments: what a board row pools over ("": ``label``)
    replicate: dict[str, Any] = field(default_factory=dict)  # the model entry's ``replicates`` arguments of this cell
    model_index: int = 0  # the model entry of the benchmark this cell comes from (``models[i]``)
    resources: dict[str, float] = field(default_factory=dict)  # that entry's ``resources`` table (executors)

    def config(self) -> dict[str, Any]:
        """What the record stores as ``cell`` and the cell's identity hashes (``model_index`` and ``resources``
        say where the cell runs, not what it measures: they are left out)."""
        return {"benchmark": self.benchmark, "model": self.model, "model_args": self.model_args,
                "scaling": self.scaling.raw, "label": self.label, "variant": self.variant or self.label,
                "replicate": self.replicate, "evaluation": self.evaluation.config(),
                "metrics": self.metrics, "seed": self.seed, "batch_size": self.batch_size, "limit": self.limit,
                "threads": self.threads, "mc_mode": self.mc_mode, "latency": self.latency}

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.config(), sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Plan:
    name: str
    benchmark: dict[str, Any]
    cells: list[Cell]


def variant_label(name: str, args: dict[str, Any], scaling: dict[str, Any], label: str | None = None) -> str:
    """``name(arg=value, ..., top_k=k, prune_to=n)``: every factory argument (or only the swept ones after an
    explicit ``label``), so two different variants never share a label."""
    parts = [f"{k}={v}" for k, v in args.items()]
    parts += [f"{k}={v}" for k, v in scaling.items() if k in ("top_k", "prune_to")]
    return f"{label or name}({', '.join(parts)})" if parts else (label or name)


def shift_evaluations(bench: dict[str, Any]) -> list[tuple[int, ShiftEvaluation]]:
    """``(index of the entry in shifts, evaluation)`` for every shift evaluation: an entry with a ``sweep`` of
    arguments (``sweep = { severity = [1, 2, 3] }``) gives one evaluation per combination of swept values (their
    cartesian product, in the order listed), each with the swept values among its ``args`` (so in its record)."""
    out = []
    for i, entry in enumerate(bench.get("shifts", [])):
        sweep = entry.get("sweep", {})
        for values in itertools.product(*sweep.values()):
            out.append((i, ShiftEvaluation(entry["name"], {**entry.get("args", {}),
                                                          **dict(zip(sweep, values, strict=True))})))
    return out


def replicate_args(model: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    """``(arguments, timed)`` for each replicate of a model entry's ``replicates`` table (e.g. ``{ training_seed =
    [0, 1, 2] }``: the same architecture trained with other seeds). Replicates share the architecture, so only the
    first is timed (latency does not depend on the training seed); the others are evaluated for accuracy only."""
    table = model.get("replicates", {})
    clash = sorted(set(table) & (set(model.get("sweep", {})) | set(model.get("args", {}))))
    if clash:
        raise ConfigError(f"model {model['name']!r}: {', '.join(clash)} is both a replicate argument and a "
                          "sweep or fixed argument; name each argument in one place")
    return [(dict(zip(table, values, strict=True)), i == 0)
            for i, values in enumerate(itertools.product(*table.values()))]


def evaluation_lists(bench: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """Where a model's evaluations are listed: its own ``shifts``/``datasets`` when it has either, else the
    benchmark's (so one benchmark can pair captioning models with captioning data only)."""
    return model if ("shifts" in model or "datasets" in model) else bench


def evaluations(entry: dict[str, Any]) -> list[Evaluation]:
    """The shift evaluations (sweeps expanded), then the dataset evaluations, of a benchmark or model entry."""
    out: list[Evaluation] = [evaluation for _, evaluation in shift_evaluations(entry)]
    return out + [DatasetEvaluation(d["name"], d.get("args", {})) for d in entry.get("datasets", [])]


def expand(name: str, bench: dict[str, Any]) -> list[Cell]:
    """The cartesian product models × variants × scalings × replicates × evaluations × seeds × batch sizes, in
    that order. Replicates after the first are not timed (``latency.repetitions = 0``)."""
    latency = {**DEFAULT_LATENCY, **bench.get("latency", {})}
    cells = []
    for index, model in enumerate(bench["models"]):
        sweep, model_evaluations = model.get("sweep", {}), evaluations(evaluation_lists(bench, model))
        for values in itertools.product(*sweep.values()):
            args = {**model.get("args", {}), **dict(zip(sweep, values, strict=True))}
            for scaling, (replicate, timed) in itertools.product(model.get("scaling", [{}]), replicate_args(model)):
                cell_args = {**args, **replicate}
                shown = {k: cell_args[k] for k in [*sweep, *replicate]} if "label" in model else cell_args
                label = variant_label(model["name"], shown, scaling, model.get("label"))
                pooled = {k: v for k, v in shown.items() if k not in replicate}
                variant = variant_label(model["name"], pooled, scaling, model.get("label"))
                for evaluation, seed, batch_size in itertools.product(
                    model_evaluations, bench.get("seeds", [0]), bench.get("batch_sizes", [32])
                ):
                    cells.append(Cell(
                        benchmark=name, model=model["name"], model_args=cell_args,
                        scaling=Scaling.from_config(scaling), label=label, evaluation=evaluation,
                        metrics=bench.get("metrics"), seed=seed, batch_size=batch_size, limit=bench.get("limit"),
                        threads=bench.get("threads"), mc_mode=bench.get("mc_mode", "auto"),
                        latency=latency if timed else {**latency, "warmup": 0, "repetitions": 0},
                        variant=variant, replicate=replicate, model_index=index,
                        resources=dict(model.get("resources", {})),
                    ))
    return cells


def plan(name: str, bench: dict[str, Any], validated: bool = False) -> Plan:
    """Validate benchmark ``name`` (unless ``validated``: :func:`vleval.config.load.load_file` already checked the whole
    file) and expand it into cells."""
    if not validated:
        validate_benchmark(name, bench)
    return Plan(name, bench, expand(name, bench))
