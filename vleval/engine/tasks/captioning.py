"""Captioning: the model describes each image; metrics compare with the reference captions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vleval.api import CAPTION_PROMPT, Capability, CaptionItem, CaptionOutputs, Prompt, Task
from vleval.engine.tasks.base import TaskStrategy

#: Generated tokens per caption: one-sentence captions (the offline corpus' longest has 18 words; COCO's references
#: average about 10 words, ~13 subword tokens), so 32 leaves room for subword tokenizers and an end token.
MAX_NEW_TOKENS = 32


class Captioning(TaskStrategy):
    task, mode, capability = Task.CAPTIONING, "generate", Capability.GENERATE
    default_metrics = ("coco-caption",)

    def call(self, batch: Sequence[CaptionItem]) -> list[str]:
        return self.model.generate([Prompt(CAPTION_PROMPT, item.image, max_new_tokens=MAX_NEW_TOKENS)
                                    for item in batch])

    def outputs(self, results: list[list[str]], items: list[CaptionItem]) -> CaptionOutputs:
        return CaptionOutputs(predictions=[text for batch in results for text in batch],
                              references=[item.references for item in items])


def choose(model: Any, mc_mode: str) -> TaskStrategy:
    return Captioning(model)
