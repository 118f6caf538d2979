"""What per-item rows (:mod:`vleval.results.sidecars`) give as a bootstrap statistic (:mod:`vleval.stats.bootstrap`).

Every supported metric is a sum of ratios of per-cluster sums, so a resample is a weighted sum: fast and exact.

- :func:`metric_ratios`: a board's primary metric: ``accuracy`` (rows' ``correct``), ``circular_accuracy`` (a group
  counts if all of its rows are right), ``rsum`` and ``i2t_r{k}`` / ``t2i_r{k}`` (ranks), and the caption scores
  that are means of per-image values (``cider``, ``rouge_l``); others (corpus BLEU, METEOR) give ``None``: no
  interval rather than a wrong one;
- :func:`mean_ratios`: the mean of any per-row value (``vleval compare``'s per-image caption scores).
"""

from __future__ import annotations

import numpy as np

from vleval.stats.bootstrap import Ratio, Statistic

Rows = list[dict]
#: caption scores whose corpus value is the mean of the per-image values (not BLEU or METEOR: corpus statistics)
MEAN_OF_IMAGES = ("cider", "rouge_l")
#: recall cut-offs of retrieval (R@1, R@5, R@10; rsum is their sum over both directions)
RECALL_AT = (1, 5, 10)
#: retrieval direction -> (row kind, rank field)
DIRECTIONS = {"i2t": ("image", "i2t_rank"), "t2i": ("text", "t2i_rank")}


def _ratio(code: np.ndarray, n: int, select: np.ndarray | None, value: np.ndarray, scale: float = 100.0) -> Ratio:
    """Per cluster, in row order (as a loop adding row by row: the same sums bit for bit)."""
    where = code if select is None else code[select]
    values = value if select is None else value[select]
    return Ratio(np.bincount(where, weights=scale * values, minlength=n),
                 np.bincount(where, minlength=n).astype(np.float64))


def _codes_of(rows: Rows, clusters: dict[str, int]) -> np.ndarray:
    return np.fromiter((clusters[r["cluster"]] for r in rows), dtype=np.intp, count=len(rows))


def _recalls(key: str) -> list[tuple[str, int]]:
    if key == "rsum":
        return [(d, k) for d in DIRECTIONS for k in RECALL_AT]
    direction, cut = key[:3], key[5:]
    return [(direction, int(cut))] if direction in DIRECTIONS and key[3:5] == "_r" and cut.isdigit() else []


def metric_ratios(rows: Rows, key: str, clusters: dict[str, int]) -> Statistic | None:
    """The primary metric ``key`` of ``rows`` (x100 where a rate), or ``None`` when rows cannot give it."""
    n, code = len(clusters), _codes_of(rows, clusters)
    kinds = np.array([r["kind"] for r in rows], dtype=str)
    if key == "accuracy":
        question = kinds == "question"
        return [_ratio(code, n, question, np.array([float(r["correct"]) if q else 0.0
                                                    for r, q in zip(rows, question, strict=True)]))]
    if key == "circular_accuracy":
        right: dict[str, bool] = {}
        for r in rows:
            right[r["cluster"]] = right.get(r["cluster"], True) and bool(r["correct"])
        num, den = np.zeros(n), np.zeros(n)
        for cluster, ok in right.items():
            num[clusters[cluster]], den[clusters[cluster]] = 100.0 * ok, 1.0
        return [Ratio(num, den)]
    recalls = _recalls(key)
    if recalls:
        out, ranks = [], {}
        for direction, k in recalls:
            kind, field = DIRECTIONS[direction]
            select = kinds == kind
            if kind not in ranks:  # each row's rank (rows of another kind: not selected, 0)
                ranks[kind] = np.array([r[field] if s else 0 for r, s in zip(rows, select, strict=True)],
                                       dtype=np.float64)
            out.append(_ratio(code, n, select, (ranks[kind] < k).astype(np.float64)))
        return out
    if key in MEAN_OF_IMAGES:
        return mean_ratios(rows, key, clusters)
    return None


def mean_ratios(rows: Rows, key: str, clusters: dict[str, int]) -> Statistic | None:
    """The mean of the per-row value ``key`` (its own unit), or ``None`` when the rows do not carry it."""
    if not rows or key not in rows[0]:
        return None
    return [_ratio(_codes_of(rows, clusters), len(clusters), None, np.array([float(r[key]) for r in rows]),
                   scale=1.0)]
