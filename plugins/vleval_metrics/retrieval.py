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
        i2t_rank = _stable_rank(sim, _best_caption(sim, owner))
        # text -> image: rank of the caption's own image
        t2i_rank = _stable_rank(sim.T, owner)
        out = {}
        for k in KS:
            out[f"i2t_r{k}"] = percent_with_ci((i2t_rank < k).astype(float).tolist())
            out[f"t2i_r{k}"] = percent_with_ci((t2i_rank < k).astype(float).tolist(), clusters=owner.tolist())
        out["rsum"] = MetricValue(value=float(sum(v.value for v in out.values())))
        return out


def _best_caption(sim: np.ndarray, owner: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Per image row, the column of its highest-scoring own caption (first on ties), in row chunks: the extra
    memory is a ``chunk x texts`` block, not a masked copy of the whole matrix."""
    best = np.empty(sim.shape[0], dtype=np.int64)
    for start in range(0, sim.shape[0], chunk):
        rows = sim[start:start + chunk]
        mine = owner[None, :] == np.arange(start, start + len(rows))[:, None]
        best[start:start + len(rows)] = np.where(mine, rows, -np.inf).argmax(axis=1)
    return best


def _stable_rank(scores: np.ndarray, target: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """0-based position of column ``target[r]`` in row ``r`` sorted by descending score, ties by column index
    (what a stable argsort gives), counted in row chunks instead of sorting the whole matrix (extra memory: a few
    ``chunk x columns`` blocks, whatever the matrix size)."""
    ranks = np.empty(len(target), dtype=np.int64)
    columns = np.arange(scores.shape[1])
    for start in range(0, len(target), chunk):
        rows = scores[start:start + chunk]
        wanted = target[start:start + chunk]
        own = rows[np.arange(len(rows)), wanted][:, None]
        ahead = (rows > own) | ((rows == own) & (columns[None, :] < wanted[:, None]))
        ranks[start:start + chunk] = ahead.sum(axis=1)
    return ranks
