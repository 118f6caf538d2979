"""Checks before any work: every plugin a benchmark names is installed (and not ambiguous), and takes the arguments
the benchmark gives it; each failure is a :class:`~vleval.config.load.ConfigError` naming the benchmark's key."""

from __future__ import annotations

from typing import Any

from vleval.api.shift import TransformShift
from vleval.config.load import ConfigError
from vleval.engine.metric_selection import metric_entry
from vleval.engine.session import Session
from vleval.plan.cells import Plan, ShiftEvaluation, evaluation_lists, shift_evaluations
from vleval.registry.discovery import PluginError


def preflight(plan: Plan, session: Session) -> None:
    """Fail before any work if the benchmark names a plugin that is not installed (or is ambiguous), or gives a
    model, dataset, shift or metric arguments its factory does not take (metric argument values too). Shifts and
    metrics are created here (cheap, and their constructors check their arguments), into ``session``'s caches."""
    bench, name = plan.benchmark, plan.name
    registry = session.registry

    def check(kind: str, where: str, plugin: str, args: dict[str, Any]) -> None:
        try:
            registry.get(kind, plugin).check_args(args)
        except PluginError as exc:
            raise ConfigError(f"benchmarks.{name}.{where}: {exc}") from None

    lists: list[tuple[str, dict[str, Any]]] = [("", bench)]
    for i, model in enumerate(bench["models"]):
        first = {key: values[0] for table in ("sweep", "replicates") for key, values in model.get(table, {}).items()}
        check("model", f"models[{i}]", model["name"], {**model.get("args", {}), **first})
        if evaluation_lists(bench, model) is model:
            lists.append((f"models[{i}].", model))
    for prefix, entry in lists:
        for i, ref in enumerate(entry.get("datasets", [])):
            check("dataset", f"{prefix}datasets[{i}]", ref["name"], ref.get("args", {}))
        for i, evaluation in shift_evaluations(entry):
            check("shift", f"{prefix}shifts[{i}]", evaluation.name, evaluation.args)
            _check_shift(f"benchmarks.{name}.{prefix}shifts[{i}]", evaluation, session)
    for i, metric in enumerate(bench.get("metrics") or []):
        metric_name, args = metric_entry(metric)
        check("metric", f"metrics[{i}]", metric_name, args)
        try:  # metrics are cheap to create: a bad argument value is refused here, not in every cell
            session.metrics.get(metric)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"benchmarks.{name}.metrics[{i}] ({metric_name}): {exc}") from None


def _check_shift(where: str, evaluation: ShiftEvaluation, session: Session) -> None:
    """Every shift is created here (constructors are cheap and check their arguments: missing local files are
    reported before any work); a transform shift's wrapped dataset must be registered and take its arguments."""
    try:
        shift = session.instances.shift(evaluation)
        if isinstance(shift, TransformShift):
            spec = shift.source()
            session.registry.get("dataset", spec.name).check_args(spec.args)
    except (PluginError, ValueError, TypeError, OSError) as exc:
        raise ConfigError(f"{where} ({evaluation.name}, args {evaluation.args}): {exc}") from None
    except Exception as exc:  # a plugin's own fault: it would fail every cell of the shift
        raise ConfigError(f"{where} ({evaluation.name}): creating the shift failed: "
                          f"{type(exc).__name__}: {exc}") from exc
