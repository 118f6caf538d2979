"""Multiple choice, two ways: the model scores each option (``score``), or generates an answer whose option letter
is extracted (``generate``). ``mc_mode = "auto"`` scores when the model can."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vleval.api import Capability, MCItem, MCOutputs, Model, Prompt, Task, extract_choice, mc_prompt
from vleval.engine.tasks.base import TaskStrategy


def best_option(item: MCItem, scores: Sequence[float]) -> str | None:
    """The highest-scoring option; ``None`` (unanswered) if the scores are not finite or do not discriminate."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size != len(item.options) or not np.isfinite(values).all() or values.max() == values.min():
        return None
    return list(item.options)[int(np.argmax(values))]


class _MultipleChoice(TaskStrategy):
    task = Task.MULTIPLE_CHOICE
    default_metrics = ("mc-accuracy", "circular-accuracy")

    def letter(self, item: MCItem, result: Any) -> str | None:
        raise NotImplementedError

    def raw_answer(self, result: Any) -> str | None:
        """The generated text a metric may extract from again (``None`` for scored options)."""
        return None

    def outputs(self, results: list[list[Any]], items: list[MCItem]) -> MCOutputs:
        flat = [x for batch in results for x in batch]
        letters = [self.letter(item, result) for item, result in zip(items, flat, strict=True)]
        return MCOutputs(predictions=letters, answers=[item.answer for item in items],
                         indices=[item.index for item in items], categories=[item.category for item in items],
                         num_options=[len(item.options) for item in items],
                         raw_answers=[self.raw_answer(result) for result in flat],
                         options=[dict(item.options) for item in items],
                         l2_categories=[item.l2_category for item in items])


class ScoredChoice(_MultipleChoice):
    mode, capability = "score", Capability.SCORE_OPTIONS

    def call(self, batch: Sequence[MCItem]) -> list[list[float]]:
        return self.model.score_options(batch)

    def letter(self, item: MCItem, result: Sequence[float]) -> str | None:
        return best_option(item, result)


class GeneratedChoice(_MultipleChoice):
    mode, capability = "generate", Capability.GENERATE

    def call(self, batch: Sequence[MCItem]) -> list[str]:
        return self.model.generate([Prompt(mc_prompt(item), item.image, max_new_tokens=8) for item in batch])

    def letter(self, item: MCItem, result: str) -> str | None:
        return extract_choice(result, item.options)

    def raw_answer(self, result: str) -> str | None:
        return result


def choose(model: Model, mc_mode: str) -> TaskStrategy:
    if mc_mode == "auto":
        mc_mode = "score" if Capability.SCORE_OPTIONS in model.capabilities else "generate"
    return ScoredChoice(model) if mc_mode == "score" else GeneratedChoice(model)
