"""How each task calls a model: one strategy module per task (retrieval, multiple choice, captioning)."""

from __future__ import annotations

from vleval.api import Model, Task
from vleval.engine.tasks import captioning, multiple_choice, retrieval
from vleval.engine.tasks.base import TaskStrategy

_MODULES = {Task.RETRIEVAL: retrieval, Task.MULTIPLE_CHOICE: multiple_choice, Task.CAPTIONING: captioning}


def strategy(task: Task, model: Model, mc_mode: str = "auto") -> TaskStrategy:
    """The strategy that runs ``task`` on ``model`` (``mc_mode`` picks scoring or generation for multiple choice)."""
    return _MODULES[Task(task)].choose(model, mc_mode)


__all__ = ["TaskStrategy", "strategy"]
