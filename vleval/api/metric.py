"""The metric interface and the task outputs metrics read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vleval.api.dataset import Task


@dataclass
class MetricValue:
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    stderr: float | None = None


@dataclass
class RetrievalOutputs:
    """``similarity[i, t]`` between image ``i`` and text ``t``; ``text_image[t]`` is the image text ``t`` describes."""

    similarity: np.ndarray
    text_image: np.ndarray


@dataclass
class MCOutputs:
    """Per item: the predicted option letter (``None`` if none could be extracted), the ground truth from the
    dataset and what a metric needs to score on its own.

    ``raw_answers[i]`` is the text the model generated (``None`` when it scored the options instead, so that
    ``predictions[i]`` is its highest-scoring option); ``predictions`` of generated answers hold the core's
    default (strict) extraction, and a metric may extract again under its own rules. ``indices`` follow MMBench
    (:data:`~vleval.api.items.CIRCULAR_BASE`): the circular rotations of one question share
    ``index % CIRCULAR_BASE``, and rotation 0 has ``index < CIRCULAR_BASE``. Empty lists mean "not provided"
    (outputs built by older plugins).
    """

    predictions: list[str | None]
    answers: list[str]
    indices: list[int]
    categories: list[str] = field(default_factory=list)
    num_options: list[int] = field(default_factory=list)
    raw_answers: list[str | None] = field(default_factory=list)
    options: list[dict[str, str]] = field(default_factory=list)
    l2_categories: list[str] = field(default_factory=list)


@dataclass
class CaptionOutputs:
    predictions: list[str]
    references: list[list[str]]


TaskOutputs = RetrievalOutputs | MCOutputs | CaptionOutputs


class Metric:
    """Turns the outputs of one task into named values. ``primary`` names the value leaderboards rank by;
    ``higher_is_better`` says which way (a rank or an error rate is lower-is-better)."""

    task: Task
    primary: str
    higher_is_better: bool = True

    def compute(self, outputs: TaskOutputs) -> dict[str, MetricValue]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Settings worth recording beside the values (a mode, a tokenizer, parts unavailable and why); JSON types."""
        return {}

    def per_image(self) -> dict[str, list[float]]:
        """Per-item scores of the last :meth:`compute` (name -> one value per item, in evaluation order), e.g.
        CIDEr per image; kept in the per-item results and compared item by item. Empty when the metric has none."""
        return {}
