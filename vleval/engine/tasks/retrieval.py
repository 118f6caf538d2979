"""Image-text retrieval: embed images and captions; similarity of every image to every caption."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vleval.api import Capability, RetrievalItem, RetrievalOutputs, Task
from vleval.engine.tasks.base import TaskStrategy


def normalized(x: Any) -> np.ndarray:
    """Rows of a numpy array or torch tensor, L2-normalised, as float32 numpy."""
    detach = getattr(x, "detach", None)
    x = detach().float().cpu().numpy() if detach is not None else np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class Retrieval(TaskStrategy):
    task, mode, capability = Task.RETRIEVAL, "embed", Capability.EMBED
    default_metrics = ("retrieval-recall",)

    def call(self, batch: Sequence[RetrievalItem]) -> tuple[Any, Any]:
        images = self.model.embed_images([item.image for item in batch])
        texts = self.model.embed_texts([caption for item in batch for caption in item.captions])
        return images, texts

    def outputs(self, results: list[tuple[Any, Any]], items: list[RetrievalItem]) -> RetrievalOutputs:
        empty = [item.id for item in items if not item.captions]
        if empty:
            raise ValueError(f"retrieval needs at least one caption per image; none for {empty[:5]}")
        images = np.concatenate([normalized(r[0]) for r in results])
        texts = np.concatenate([normalized(r[1]) for r in results])
        text_image = np.asarray([i for i, item in enumerate(items) for _ in item.captions])
        return RetrievalOutputs(similarity=images @ texts.T, text_image=text_image)


def choose(model: Any, mc_mode: str) -> TaskStrategy:
    return Retrieval(model)
