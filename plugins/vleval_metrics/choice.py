"""Multiple-choice accuracy, plain and MMBench CircularEval."""

from __future__ import annotations

from collections import defaultdict

from vleval.api import MCOutputs, Metric, MetricValue, Task
from vleval_metrics.stats import percent_with_ci

CIRCULAR_BASE = 1_000_000


class Accuracy(Metric):
    task = Task.MULTIPLE_CHOICE
    primary = "accuracy"

    def compute(self, outputs: MCOutputs) -> dict[str, MetricValue]:
        hits = [float(p == a) for p, a in zip(outputs.predictions, outputs.answers, strict=True)]
        out = {"accuracy": percent_with_ci(hits)}
        by_category: dict[str, list[float]] = defaultdict(list)
        for category, hit in zip(outputs.categories or [""] * len(hits), hits, strict=True):
            if category:
                by_category[category].append(hit)
        for category, values in sorted(by_category.items()):
            out[f"accuracy/{category}"] = percent_with_ci(values)
        unanswered = sum(p is None for p in outputs.predictions)
        out["unanswered"] = MetricValue(value=100.0 * unanswered / max(len(hits), 1))
        return out


class CircularAccuracy(Metric):
    """Rows whose ``index % 1e6`` agree are rotations of one question; it counts only if all are right.

    A question needs one row per option (all its rotations); groups with fewer rows (a ``limit`` that cut them, or
    data without rotations) are left out of the score and counted in ``incomplete_questions``.
    """

    task = Task.MULTIPLE_CHOICE
    primary = "circular_accuracy"

    def compute(self, outputs: MCOutputs) -> dict[str, MetricValue]:
        groups: dict[int, list[bool]] = defaultdict(list)
        sizes: dict[int, int] = {}
        num_options = outputs.num_options or [0] * len(outputs.indices)
        for index, p, a, n in zip(outputs.indices, outputs.predictions, outputs.answers, num_options, strict=True):
            groups[index % CIRCULAR_BASE].append(p == a)
            sizes[index % CIRCULAR_BASE] = n
        complete = [all(v) for key, v in groups.items() if not sizes[key] or len(v) >= sizes[key]]
        out = {
            "questions": MetricValue(value=float(len(complete))),
            "incomplete_questions": MetricValue(value=float(len(groups) - len(complete))),
        }
        if complete:  # undefined without a single complete question
            out["circular_accuracy"] = percent_with_ci([float(c) for c in complete])
        return out
