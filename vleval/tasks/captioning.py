"""Captioning: the model describes each image; metrics compare with the reference captions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vleval.api import CAPTION_PROMPT, Capability, CaptionItem, CaptionOutputs, Prompt, Task
from vleval.tasks.base import TaskStrategy


class Captioning(TaskStrategy):
    task, mode, capability = Task.CAPTIONING, "generate", Capability.GENERATE
    default_metrics = ("caption-bleu",)

    def call(self, batch: Sequence[CaptionItem]) -> list[str]:
        return self.model.generate([Prompt(CAPTION_PROMPT, item.image, max_new_tokens=32) for item in batch])

    def outputs(self, results: list[list[str]], items: list[CaptionItem]) -> CaptionOutputs:
        return CaptionOutputs(predictions=[text for batch in results for text in batch],
                              references=[item.references for item in items])


def choose(model: Any, mc_mode: str) -> TaskStrategy:
    return Captioning(model)
