"""``median-rank``: rank-based retrieval quality, numpy only.

For each text (t2i) the rank of its image among all images; for each image (i2t) the rank of its first-ranked
correct caption among all captions. Ranks are 1-based. Tied scores are resolved by their expectation under a random
order of the tied candidates, so the result never depends on the order of the dataset (a model that scores
everything equal gets the chance-level ranks, not rank 1).
"""

from __future__ import annotations

import math

import numpy as np

from vleval.api import Metric, MetricValue, RetrievalOutputs, Task

Z95 = 1.959964


def query_ranks(scores: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected rank and expected reciprocal rank of the first correct candidate, per query (row).

    ``scores`` and ``correct`` are ``[queries, candidates]``; queries without a correct candidate are dropped.
    With ``g`` wrong candidates scoring above the best correct score ``s``, and ``w`` wrong and ``c`` correct ones
    scoring exactly ``s``, the first correct one lands at ``g + J`` where ``J`` is the position of the first correct
    item in a random order of the ``w + c`` tied ones: ``E[J] = 1 + w / (c + 1)``.
    """
    has_correct = correct.any(axis=1)
    scores, correct = scores[has_correct], correct[has_correct]
    best = np.where(correct, scores, -np.inf).max(axis=1, keepdims=True)
    above = ((scores > best) & ~correct).sum(axis=1)
    wrong_tied = ((scores == best) & ~correct).sum(axis=1)
    right_tied = ((scores == best) & correct).sum(axis=1)
    ranks = 1.0 + above + wrong_tied / (right_tied + 1.0)
    reciprocal = 1.0 / (1.0 + above)
    for q in np.flatnonzero(wrong_tied):  # exact E[1 / (g + J)] where ties exist
        g, w, c = int(above[q]), int(wrong_tied[q]), int(right_tied[q])
        j = np.arange(1, w + 2, dtype=np.float64)
        # P(J = 1) = c / (w + c);  P(J = j + 1) / P(J = j) = (w - j + 1) / (w + c - j)
        ratios = (w - j[:-1] + 1) / (w + c - j[:-1])
        p = (c / (w + c)) * np.concatenate([[1.0], np.cumprod(ratios)])
        reciprocal[q] = float((p / (g + j)).sum())
    return ranks, reciprocal


def median_with_ci(values: np.ndarray, low: float, high: float) -> MetricValue:
    """Median with the distribution-free 95 % interval from order statistics (no normality assumed)."""
    n = len(values)
    ordered = np.sort(values)
    half = Z95 * math.sqrt(n) / 2
    lo, hi = max(int(round(n / 2 - half)), 1), min(int(round(1 + n / 2 + half)), n)
    return MetricValue(value=float(np.median(values)), ci_low=max(float(ordered[lo - 1]), low),
                       ci_high=min(float(ordered[hi - 1]), high))


def mean_with_ci(values: np.ndarray, low: float, high: float) -> MetricValue:
    """Mean with its standard error and a normal 95 % interval clipped to ``[low, high]``."""
    n = len(values)
    mean = float(values.mean())
    stderr = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    return MetricValue(value=mean, ci_low=max(low, mean - Z95 * stderr), ci_high=min(high, mean + Z95 * stderr),
                       stderr=stderr)


class MedianRank(Metric):
    """Median and mean rank (lower is better) per direction, MRR per direction and ``mrr``, their mean (primary,
    higher is better: leaderboards rank the primary value in descending order)."""

    task = Task.RETRIEVAL
    primary = "mrr"

    def compute(self, outputs: RetrievalOutputs) -> dict[str, MetricValue]:
        similarity = np.asarray(outputs.similarity, dtype=np.float64)
        owner = np.asarray(outputs.text_image)
        n_images, n_texts = similarity.shape
        t2i_rank, t2i_rr = query_ranks(similarity.T, owner[:, None] == np.arange(n_images)[None, :])
        i2t_rank, i2t_rr = query_ranks(similarity, owner[None, :] == np.arange(n_images)[:, None])
        if not len(t2i_rank) or not len(i2t_rank):
            raise ValueError(f"median-rank needs at least one image with a caption ({n_images} images, "
                             f"{n_texts} captions)")
        out = {
            "t2i_median_rank": median_with_ci(t2i_rank, 1, n_images),
            "i2t_median_rank": median_with_ci(i2t_rank, 1, n_texts),
            "t2i_mean_rank": mean_with_ci(t2i_rank, 1, n_images),
            "i2t_mean_rank": mean_with_ci(i2t_rank, 1, n_texts),
            "t2i_mrr": mean_with_ci(t2i_rr, 0, 1),
            "i2t_mrr": mean_with_ci(i2t_rr, 0, 1),
        }
        out["mrr"] = MetricValue(value=(out["t2i_mrr"].value + out["i2t_mrr"].value) / 2)
        return out
