"""Which metrics a cell computes, each created once per distinct benchmark entry (name and arguments).

A benchmark lists its metrics (names or ``{name, args}``), or lists none and gets every registered metric of the
cell's task, the task's defaults first: installing a plugin can add metrics to a record but never changes which
one a board ranks by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vleval.api import Metric, Task
from vleval.engine import plugin_attributes
from vleval.engine.instances import cache_key
from vleval.engine.provenance import plugin_ref
from vleval.registry.discovery import Registry
from vleval.results.record import PluginRef, PrimaryMetric, jsonable


def metric_entry(entry: str | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(name, args)`` of a benchmark's ``metrics`` entry: ``"name"`` or ``{ name = ..., args = {...} }``."""
    if isinstance(entry, str):
        return entry, {}
    return entry["name"], dict(entry.get("args") or {})


@dataclass
class ResolvedMetric:
    """A metric instance with its benchmark name and its provenance (arguments and settings included)."""

    name: str
    metric: Metric
    ref: PluginRef

    @property
    def primary(self) -> PrimaryMetric:
        return PrimaryMetric(self.name, self.metric.primary, plugin_attributes.higher_is_better(self.metric))


class Metrics:
    """The metrics of a run: the one owner of the metric instances (one per distinct entry)."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._resolved: dict[str, ResolvedMetric] = {}

    def get(self, entry: str | dict[str, Any]) -> ResolvedMetric:
        """The metric of one benchmark entry: a name, or ``{name, args}``; its settings (``describe()``) are
        recorded when it is first created."""
        name, args = metric_entry(entry)
        key = cache_key(name, args)
        if key not in self._resolved:
            metric = self.registry.create("metric", name, args)
            ref = plugin_ref(self.registry, "metric", name)
            ref.args = args or None
            settings = plugin_attributes.settings(metric)
            ref.settings = jsonable(settings) if settings is not None else None
            self._resolved[key] = ResolvedMetric(name, metric, ref)
        return self._resolved[key]

    def for_task(self, listed: list[Any] | None, task: Task, defaults: tuple[str, ...]) -> list[ResolvedMetric]:
        """The cell's metrics, the first being the primary one; never in plugin discovery order.

        Listed by the benchmark: those that apply to ``task``, in the benchmark's order. Otherwise every registered
        metric of the task: the task's ``defaults`` first (in their order), then any others by name.
        """
        if listed is not None:
            chosen = [m for m in map(self.get, listed) if m.metric.task == task]
            if not chosen:
                raise ValueError(f"none of the metrics {listed} applies to task {task.value!r}; add one that does")
            return chosen
        registered = sorted(self.registry.items["metric"])
        order = [n for n in defaults if n in registered] + [n for n in registered if n not in defaults]
        return [m for m in map(self.get, order) if m.metric.task == task]
