"""Image-text retrieval recall, computed as in the Karpathy-split literature (5 captions per image)."""

from __future__ import annotations

import numpy as np

from vleval.api import Metric, MetricValue, RetrievalOutputs, Task
from vleval_metrics.stats import percent_with_ci

KS = (1, 5, 10)


class RetrievalRecall(Metric):
    task = Task.RETRIEVAL
    primary = "rsum"

    def compute(self, outputs: RetrievalOutputs) -> dict[str, MetricValue]:
        sim, owner = np.asarray(outputs.similarity), np.asarray(outputs.text_image)
        n_images, n_texts = sim.shape
        # image -> text: rank of the image's best caption (ties: lower caption index first, as a stable sort)
        masked = np.where(owner[None, :] == np.arange(n_images)[:, None], sim, -np.inf)
        best = masked.argmax(axis=1)
        i2t_rank = _stable_rank(sim, best)
        # text -> image: rank of the caption's own image
        t2i_rank = _stable_rank(sim.T, owner)
        out = {}
        for k in KS:
            out[f"i2t_r{k}"] = percent_with_ci((i2t_rank < k).astype(float).tolist())
            out[f"t2i_r{k}"] = percent_with_ci((t2i_rank < k).astype(float).tolist(), clusters=owner.tolist())
        out["rsum"] = MetricValue(value=float(sum(v.value for v in out.values())))
        return out


def _stable_rank(scores: np.ndarray, target: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """0-based position of column ``target[r]`` in row ``r`` sorted by descending score, ties by column index
    (what a stable argsort gives), counted in row chunks instead of sorting the whole matrix."""
    ranks = np.empty(len(target), dtype=np.int64)
    columns = np.arange(scores.shape[1])
    for start in range(0, len(target), chunk):
        rows = scores[start:start + chunk]
        wanted = target[start:start + chunk]
        own = rows[np.arange(len(rows)), wanted][:, None]
        ahead = (rows > own) | ((rows == own) & (columns[None, :] < wanted[:, None]))
        ranks[start:start + chunk] = ahead.sum(axis=1)
    return ranks
