"""``check_metric``: declared task, primary and direction; finite values and intervals; pure and deterministic."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from vleval.api import CaptionOutputs, MCOutputs, Metric, MetricValue, RetrievalOutputs, Task
from vleval.testing.common import Report, call, expect, identical
from vleval.testing.inputs import sample_outputs

OUTPUT_TYPES: dict[Task, type] = {Task.RETRIEVAL: RetrievalOutputs, Task.MULTIPLE_CHOICE: MCOutputs,
                                  Task.CAPTIONING: CaptionOutputs}


def check_metric(metric: Metric, outputs: Any = None, *, name: str | None = None) -> Report:
    """Check ``metric`` against :class:`vleval.api.Metric` on ``outputs`` (default: :func:`sample_outputs` of its
    task); raise :class:`AssertionError` naming plugin, method, expected and actual on the first violation."""
    plugin = name or type(metric).__name__
    report = Report(plugin)
    task = getattr(metric, "task", None)
    expect(isinstance(task, Task), plugin, "task", "a vleval.api.Task", repr(task))
    primary = getattr(metric, "primary", None)
    expect(isinstance(primary, str) and bool(primary), plugin, "primary", "the name of a computed value", repr(primary))
    direction = getattr(metric, "higher_is_better", None)
    expect(isinstance(direction, bool), plugin, "higher_is_better", "True or False", direction)
    outputs = sample_outputs(task) if outputs is None else outputs
    want = OUTPUT_TYPES[task]
    expect(isinstance(outputs, want), plugin, "compute", f"outputs of type {want.__name__} for task {task.value!r} "
           "(the check's input)", type(outputs).__name__)
    before = copy.deepcopy(outputs)
    values = call(plugin, "compute", metric.compute, outputs)
    expect(isinstance(values, dict) and bool(values), plugin, "compute", "a non-empty dict of MetricValue",
           type(values).__name__)
    expect(primary in values, plugin, "compute", f"the primary value {primary!r} among the results", sorted(values))
    for key, value in values.items():
        _check_value(plugin, key, value)
    report.ok("values")
    expect(_same_outputs(before, outputs), plugin, "compute", "its outputs argument left unmodified",
           "modified outputs")
    again = call(plugin, "compute", metric.compute, copy.deepcopy(before))
    expect(set(again) == set(values) and all(identical(again[k].value, values[k].value) for k in values), plugin,
           "compute", "the same values for the same outputs", {k: v.value for k, v in again.items()})
    report.ok("deterministic")
    return report


def _check_value(plugin: str, key: str, value: Any) -> None:
    method = f"compute[{key!r}]"
    expect(isinstance(key, str) and bool(key), plugin, "compute", "string keys", key)
    expect(isinstance(value, MetricValue), plugin, method, "a vleval.api.MetricValue", type(value).__name__)
    expect(_number(value.value) and math.isfinite(value.value), plugin, method, "a finite float value", value.value)
    for bound in ("ci_low", "ci_high", "stderr"):
        got = getattr(value, bound)
        expect(got is None or (_number(got) and math.isfinite(got)), plugin, method, f"{bound}: None or finite", got)
    if value.ci_low is not None and value.ci_high is not None:
        slack = 1e-9 * max(1.0, abs(value.value))  # round-off, e.g. a Wilson bound at p = 1
        expect(value.ci_low - slack <= value.value <= value.ci_high + slack, plugin, method,
               "ci_low <= value <= ci_high", (value.ci_low, value.value, value.ci_high))
    if value.stderr is not None:
        expect(value.stderr >= 0, plugin, method, "stderr >= 0", value.stderr)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _same_outputs(a: Any, b: Any) -> bool:
    return all(identical(_plain(getattr(a, f)), _plain(getattr(b, f))) for f in vars(a))


def _plain(value: Any) -> Any:
    return np.asarray(value) if isinstance(value, np.ndarray) else value
