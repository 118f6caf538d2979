"""What every task strategy provides: the timed model call on a batch, and the task outputs metrics read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from vleval.api import Capability, Model, Task, TaskOutputs


class TaskStrategy:
    """How one task runs a model: :meth:`call` is the one model call the core times; :meth:`outputs` turns the
    collected call results (and the items) into the outputs metrics read.

    ``default_metrics``: the metrics a benchmark that lists none gets, the first being the primary one.
    """

    task: ClassVar[Task]
    mode: ClassVar[str]
    capability: ClassVar[Capability]
    default_metrics: ClassVar[tuple[str, ...]]

    def __init__(self, model: Model):
        self.model = model

    def call(self, batch: Sequence[Any]) -> Any:
        raise NotImplementedError

    def outputs(self, results: list[Any], items: list[Any]) -> TaskOutputs:
        raise NotImplementedError
