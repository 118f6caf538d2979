"""benchmarks.toml → validated benchmarks → the cells a run executes."""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vleval import schema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_LATENCY = {"warmup": 2, "repetitions": 1}


class ConfigError(ValueError):
    """A benchmarks file the user must fix; the message names the file and key path."""


@dataclass(frozen=True)
class Cell:
    """One unit of work: a model variant evaluated on one dataset or shift with one seed and batch size."""

    benchmark: str
    model: str
    model_args: dict[str, Any]
    scaling: dict[str, Any]
    label: str
    evaluation: dict[str, Any]  # {"kind": "shift"|"dataset", "name": ..., "args": {...}}
    metrics: list[str] | None
    seed: int
    batch_size: int
    limit: int | None
    threads: int | None
    mc_mode: str
    latency: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LATENCY))

    def config(self) -> dict[str, Any]:
        return asdict(self)

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.config(), sort_keys=True, default=str).encode()).hexdigest()


def load_file(path: str | Path) -> dict[str, Any]:
    """Parse and validate a benchmarks file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such benchmarks file (pass one with -c FILE)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        schema.check("benchmark", data, str(path))
    except schema.ValidationFailed as exc:
        raise ConfigError(str(exc)) from None
    return data


def select(data: dict[str, Any], name: str | None, path: str | Path = "benchmarks.toml") -> tuple[str, dict]:
    """The benchmark called ``name`` (or the file's ``default``, or its only one)."""
    benchmarks = data["benchmarks"]
    name = name or data.get("default") or (next(iter(benchmarks)) if len(benchmarks) == 1 else None)
    if name is None:
        raise ConfigError(f"{path}: several benchmarks and no `default`; name one of: {', '.join(benchmarks)}")
    if name not in benchmarks:
        raise ConfigError(f"{path}: no benchmark {name!r}; defined: {', '.join(benchmarks)}")
    return name, benchmarks[name]


def validate_benchmark(name: str, bench: dict[str, Any], where: str = "benchmark") -> None:
    try:
        schema.check("benchmark", {"benchmarks": {name: bench}}, where)
    except schema.ValidationFailed as exc:
        raise ConfigError(str(exc)) from None


def variant_label(name: str, args: dict[str, Any], scaling: dict[str, Any], label: str | None = None) -> str:
    """``name(arg=value, ..., top_k=k, prune_to=n)``: every factory argument (or only the swept ones after an
    explicit ``label``), so two different variants never share a label."""
    parts = [f"{k}={v}" for k, v in args.items()]
    parts += [f"{k}={v}" for k, v in scaling.items() if k in ("top_k", "prune_to")]
    return f"{label or name}({', '.join(parts)})" if parts else (label or name)


def expand(name: str, bench: dict[str, Any]) -> list[Cell]:
    """The cartesian product models × variants × scalings × evaluations × seeds × batch sizes, in that order."""
    evaluations = [{"kind": "shift", "name": s["name"], "args": s.get("args", {})} for s in bench.get("shifts", [])]
    evaluations += [{"kind": "dataset", "name": d["name"], "args": d.get("args", {})}
                    for d in bench.get("datasets", [])]
    latency = {**DEFAULT_LATENCY, **bench.get("latency", {})}
    cells = []
    for model in bench["models"]:
        sweep = model.get("sweep", {})
        for values in itertools.product(*sweep.values()):
            args = {**model.get("args", {}), **dict(zip(sweep, values, strict=True))}
            for scaling in model.get("scaling", [{}]):
                shown = {k: args[k] for k in sweep} if "label" in model else args
                label = variant_label(model["name"], shown, scaling, model.get("label"))
                for evaluation, seed, batch_size in itertools.product(
                    evaluations, bench.get("seeds", [0]), bench.get("batch_sizes", [32])
                ):
                    cells.append(Cell(
                        benchmark=name, model=model["name"], model_args=args, scaling=dict(scaling), label=label,
                        evaluation=evaluation, metrics=bench.get("metrics"), seed=seed, batch_size=batch_size,
                        limit=bench.get("limit"), threads=bench.get("threads"),
                        mc_mode=bench.get("mc_mode", "auto"), latency=latency,
                    ))
    return cells


def parse_kv(text: str | None, what: str) -> dict[str, Any]:
    """``"a=1,b=x,c=true"`` → ``{"a": 1, "b": "x", "c": True}`` (values parsed as TOML where they can be)."""
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what}: expected key=value, got {part!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value.strip()
    return out
