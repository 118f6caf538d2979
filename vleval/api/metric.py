"""The metric interface and the task outputs metrics read."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    """One predicted option letter (``None`` if none could be extracted) per item."""

    predictions: list[str | None]
    answers: list[str]
    indices: list[int]
    categories: list[str] = field(default_factory=list)
    num_options: list[int] = field(default_factory=list)


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
