"""Ranks for image-text retrieval, shared by metrics and the core's per-item results.

Ties are broken by the lower index first (what a stable sort gives, and what CLIP_benchmark's hits match); the
counting runs in row chunks, so the extra memory is a few ``chunk x columns`` blocks whatever the matrix size.
"""

from __future__ import annotations

import numpy as np


def retrieval_ranks(similarity: np.ndarray, text_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(i2t, t2i)`` 0-based ranks: per image, the rank of its best-ranked own caption among all texts; per text, the
    rank of its own image among all images. ``similarity[i, t]`` is image ``i`` vs text ``t``."""
    sim, owner = np.asarray(similarity), np.asarray(text_image)
    return _stable_rank(sim, _best_caption(sim, owner)), _stable_rank(sim.T, owner)


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
