"""How each task runs a model over a dataset: batches in, task outputs out, every model call timed by the core."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from vleval.api import (
    Capability,
    CaptionOutputs,
    Dataset,
    MCItem,
    MCOutputs,
    Model,
    Prompt,
    RetrievalOutputs,
    Task,
    TaskOutputs,
)
from vleval.api.prompts import CAPTION_PROMPT, MC_INSTRUCTION, extract_choice, mc_prompt  # noqa: F401
from vleval.latency import LatencyRecorder


def batches(dataset: Dataset, size: int, limit: int | None) -> Iterator[list[Any]]:
    """Load items (decoding images) before the model sees them, so loading is never timed."""
    n = len(dataset) if limit is None else min(limit, len(dataset))
    for start in range(0, n, size):
        yield [dataset[i] for i in range(start, min(start + size, n))]


def _array(x: Any) -> np.ndarray:
    detach = getattr(x, "detach", None)
    x = detach().float().cpu().numpy() if detach is not None else np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _best_option(item: MCItem, scores: Sequence[float]) -> str | None:
    """The highest-scoring option; ``None`` (unanswered) if the scores are not finite or do not discriminate."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size != len(item.options) or not np.isfinite(values).all() or values.max() == values.min():
        return None
    return list(item.options)[int(np.argmax(values))]


class TaskRunner:
    """Runs one task with one strategy; ``__call__`` is one timed model call on a batch."""

    def __init__(self, task: Task, model: Model, mc_mode: str = "auto"):
        self.task, self.model = task, model
        self.mode = self._choose_mode(mc_mode)
        self._collected: list[Any] = []

    def _choose_mode(self, mc_mode: str) -> str:
        caps = self.model.capabilities
        if self.task is Task.RETRIEVAL:
            return "embed"
        if self.task is Task.CAPTIONING:
            return "generate"
        if mc_mode == "auto":
            return "score" if Capability.SCORE_OPTIONS in caps else "generate"
        return mc_mode

    def required_capability(self) -> Capability:
        return {"embed": Capability.EMBED, "score": Capability.SCORE_OPTIONS,
                "generate": Capability.GENERATE}[self.mode]

    def call(self, batch: Sequence[Any]) -> Any:
        """The model call the core times."""
        model = self.model
        if self.mode == "embed":
            images = model.embed_images([item.image for item in batch])
            texts = model.embed_texts([caption for item in batch for caption in item.captions])
            return images, texts
        if self.mode == "score":
            return model.score_options(batch)
        if self.task is Task.MULTIPLE_CHOICE:
            return model.generate([Prompt(mc_prompt(item), item.image, max_new_tokens=8) for item in batch])
        return model.generate([Prompt(CAPTION_PROMPT, item.image, max_new_tokens=32) for item in batch])

    def run_pass(self, data: Callable[[], Iterator[list[Any]]], recorder: LatencyRecorder | None,
                 collect: bool, advance: Callable[[int], None] = lambda n: None) -> TaskOutputs | None:
        """One pass over the data; every batch's model call is timed if ``recorder`` is given."""
        outputs, items = [], []
        for batch in data():
            if recorder is None:
                result = self.call(batch)
            else:
                with recorder.measure(len(batch)):
                    result = self.call(batch)
            if collect:
                outputs.append(result)
                items.extend(batch)
            advance(len(batch))
        return self._finish(outputs, items) if collect else None

    def _finish(self, outputs: list[Any], items: list[Any]) -> TaskOutputs:
        if self.mode == "embed":
            empty = [item.id for item in items if not item.captions]
            if empty:
                raise ValueError(f"retrieval needs at least one caption per image; none for {empty[:5]}")
            images = np.concatenate([_array(o[0]) for o in outputs])
            texts = np.concatenate([_array(o[1]) for o in outputs])
            text_image = np.asarray([i for i, item in enumerate(items) for _ in item.captions])
            return RetrievalOutputs(similarity=images @ texts.T, text_image=text_image)
        flat = [x for o in outputs for x in o]
        if self.task is Task.CAPTIONING:
            return CaptionOutputs(predictions=list(flat), references=[item.references for item in items])
        if self.mode == "score":
            letters = [_best_option(item, scores) for item, scores in zip(items, flat, strict=True)]
        else:
            letters = [extract_choice(text, item.options) for item, text in zip(items, flat, strict=True)]
        return MCOutputs(predictions=letters, answers=[item.answer for item in items],
                         indices=[item.index for item in items], categories=[item.category for item in items],
                         num_options=[len(item.options) for item in items])
