"""One pass of a task strategy over prepared data: the model calls every measurement is made of."""

from __future__ import annotations

from collections.abc import Callable

from vleval.api import TaskOutputs
from vleval.engine.checks import check_call
from vleval.engine.latency import LatencyRecorder
from vleval.engine.prepared import PreparedData
from vleval.engine.tasks import TaskStrategy


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
