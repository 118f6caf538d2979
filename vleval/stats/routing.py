"""Routing analytics across domains: layer statistics of any record, routing shift source -> target, and whether an
item's routing change predicts its error. Definitions: ``docs/report.md`` (Definitions).

- :func:`layer_table`: per layer, expert load, load entropy, utilization CV, dead-expert fraction, diversity
  ``exp(H)/N``, token entropy (when recorded), image share per expert and the specialization index, recomputed from
  ``expert_load`` where a record predates a field;
- :func:`routing_shift`: Jensen–Shannon divergence (base 2, in [0, 1]) between the source's and the target's expert
  load per layer (all routed tokens of the record);
- :func:`item_shift`: from per-item rows carrying image-token routing (``routing`` in the sidecar), per-layer JSD of
  the pooled image-token distributions with a cluster-bootstrap interval, and per item the JSD between its source
  and its target routing;
- :func:`flip_auc`: the AUC of an item's routing JSD for separating items that flip from right to wrong from items
  that stay right, with a cluster-bootstrap interval.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from vleval.engine.routing import balance
from vleval.results.record import Record
from vleval.stats.bootstrap import cluster_codes, interval, multiplicities


def jsd(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence of two distributions (normalised here), base 2: 0 = identical, 1 = disjoint."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape or p.sum() <= 0 or q.sum() <= 0:
        raise ValueError(f"JSD needs two non-empty distributions of one shape, got {p.shape} and {q.shape}")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        keep = a > 0
        return float((a[keep] * np.log2(a[keep] / m[keep])).sum())

    return max(0.0, (kl(p) + kl(q)) / 2)


def _jsd_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise JSD of two ``[rows, N]`` count matrices (rows with no count on either side: NaN)."""
    ps, qs = p.sum(axis=1, keepdims=True), q.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p, q = p / ps, q / qs
        m = (p + q) / 2
        kl_p = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1) / np.where(m > 0, m, 1)), 0).sum(axis=1)
        kl_q = np.where(q > 0, q * np.log2(np.where(q > 0, q, 1) / np.where(m > 0, m, 1)), 0).sum(axis=1)
    out = np.maximum((kl_p + kl_q) / 2, 0.0)
    out[(ps[:, 0] <= 0) | (qs[:, 0] <= 0)] = np.nan
    return out


def layer_table(routing: dict[str, Any]) -> list[dict[str, Any]]:
    """A record domain's per-layer statistics, each one present (older records: recomputed from expert_load)."""
    out = []
    for layer in routing.get("layers", []):
        entry = {**layer}
        for key, value in balance(np.asarray(layer["expert_load"])).items():
            entry.setdefault(key, value)
        entry.setdefault("token_entropy", None)
        out.append(entry)
    return out


def routing_shift(record: Record) -> list[tuple[int, float]]:
    """``[(layer, JSD source -> target)]`` of a shift record's expert loads; empty without routing on both sides."""
    src, tgt = record.domains.get("source"), record.domains.get("target")
    if not (src and tgt and src.routing and tgt.routing):
        return []
    target = {layer["layer"]: layer["expert_load"] for layer in tgt.routing["layers"]}
    return [(layer["layer"], jsd(layer["expert_load"], target[layer["layer"]]))
            for layer in src.routing["layers"] if layer["layer"] in target and sum(layer["expert_load"]) > 0
            and sum(target[layer["layer"]]) > 0]


@dataclass
class ItemShift:
    """Per-item routing change of one shift record (paired items with image-token routing on both sides)."""

    layers: list[int]
    layer_jsd: list[tuple[float, float, float]]  # per layer: pooled image-token JSD, 95 % interval
    item_jsd: np.ndarray  # per item: mean over layers of the JSD between its source and target routing
    source_correct: np.ndarray
    target_correct: np.ndarray
    clusters: np.ndarray  # cluster codes (int)


def item_shift(source: list[dict], target: list[dict], *, resamples: int = 1000, seed: int = 0) -> ItemShift | None:
    """Routing change item by item; ``None`` unless both sides hold the same items with ``routing`` and
    ``correct`` (multiple choice)."""
    by_id = {(r["kind"], r["id"]): r for r in target}
    pairs = [(r, by_id[(r["kind"], r["id"])]) for r in source
             if (r["kind"], r["id"]) in by_id and r.get("routing") and by_id[(r["kind"], r["id"])].get("routing")
             and "correct" in r]
    if not pairs:
        return None
    layers = sorted({int(k) for a, b in pairs for k in a["routing"] if k in b["routing"]})
    if not layers:
        return None

    def counts(side: int, layer: int) -> np.ndarray:
        width = max(len(p[side]["routing"].get(str(layer), [])) for p in pairs)
        return np.array([p[side]["routing"].get(str(layer), [0] * width) for p in pairs], dtype=np.float64)

    codes = cluster_codes(a["cluster"] for a, _ in pairs)
    clusters = np.array([codes[a["cluster"]] for a, _ in pairs])
    # cluster multiplicities of each resample (drawn once for every record with as many clusters), applied to
    # per-cluster sums of every layer's and side's counts in one product: the item-level product regrouped
    # (counts are integers, so the sums are exact and equal)
    (weights,) = multiplicities(seed, resamples, len(codes))
    matrices = [counts(side, layer) for layer in layers for side in (0, 1)]
    per_cluster = np.zeros((len(codes), sum(m.shape[1] for m in matrices)))
    np.add.at(per_cluster, clusters, np.hstack(matrices))
    resampled = np.split(weights @ per_cluster, np.cumsum([m.shape[1] for m in matrices])[:-1], axis=1)
    per_item, summaries = [], []
    for i in range(len(layers)):
        (s, t), (drawn_s, drawn_t) = matrices[2 * i:2 * i + 2], resampled[2 * i:2 * i + 2]
        per_item.append(_jsd_rows(s, t))
        estimate = jsd(s.sum(axis=0), t.sum(axis=0)) if s.sum() > 0 and t.sum() > 0 else float("nan")
        draws = _jsd_rows(drawn_s, drawn_t)
        low, high = interval(draws) if np.isfinite(draws).any() else (np.nan, np.nan)
        summaries.append((estimate, low, high))
    with warnings.catch_warnings():  # an item without image tokens in any layer: NaN, left out later
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_jsd = np.nanmean(np.vstack(per_item), axis=0)
    return ItemShift(layers, summaries, mean_jsd, np.array([bool(a["correct"]) for a, _ in pairs]),
                     np.array([bool(b["correct"]) for _, b in pairs]), clusters)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties count 1/2): the chance that a positive scores above a
    negative. NaN without both classes."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2  # 1-based average rank of each tie group
    ranks[order] = np.repeat(average, counts)
    return float((ranks[labels].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


@dataclass(frozen=True)
class FlipAUC:
    auc: float
    low: float
    high: float
    flipped: int  # items right on the source and wrong on the target
    kept: int  # items right on both


def flip_auc(shift: ItemShift, *, resamples: int = 1000, seed: int = 0) -> FlipAUC | None:
    """Does an item's routing JSD predict that it flips to wrong? AUC among items right on the source (positives:
    wrong on the target), with a 95 % cluster-bootstrap interval: every cluster of the shift resampled (the draws
    of :func:`item_shift`), the AUC taken among the resampled items right on the source. ``None`` without both
    outcomes."""
    keep = shift.source_correct & np.isfinite(shift.item_jsd)
    scores, labels = shift.item_jsd[keep], ~shift.target_correct[keep]
    if labels.all() or not labels.any():
        return None
    _, group = np.unique(shift.clusters, return_inverse=True)  # each item's cluster column, all clusters
    group = group.ravel()
    (weights,) = multiplicities(seed, resamples, int(group.max()) + 1)
    low, high = interval(_weighted_auc(weights, scores, labels, group[keep]))
    return FlipAUC(auc(scores, labels), low, high, int(labels.sum()), int((~labels).sum()))


def _weighted_auc(weights: np.ndarray, scores: np.ndarray, labels: np.ndarray, group: np.ndarray) -> np.ndarray:
    """:func:`auc` of every resample at once: item ``i`` repeated ``weights[r, group[i]]`` times in resample ``r``.

    Mann–Whitney U as weighted pair counts: at each distinct score of a positive, (positives there) x (negatives
    below + half the negatives there). Every sum is of integers or halves, so exact: each value equals :func:`auc`
    on the concatenated resample bit for bit. NaN where a resample lacks one class."""
    values = np.unique(scores[labels])  # the distinct scores of positives: the levels
    levels = len(values)
    at = np.searchsorted(values, scores)  # a positive's level; a negative's level if tied with one
    above = np.searchsorted(values, scores, side="right")  # the first level above the item's score
    negative = ~labels
    tied = negative & (at < levels) & (values[np.minimum(at, levels - 1)] == scores)
    # per group: positives at each level | negatives tied at each level | negatives by first level above (or none)
    per_group = np.zeros((weights.shape[1], 3 * levels + 1))
    np.add.at(per_group, (group[labels], at[labels]), 1.0)
    np.add.at(per_group, (group[tied], levels + at[tied]), 1.0)
    np.add.at(per_group, (group[negative], 2 * levels + above[negative]), 1.0)
    drawn = weights @ per_group
    pos, ties = drawn[:, :levels], drawn[:, levels:2 * levels]
    below = np.cumsum(drawn[:, 2 * levels:3 * levels], axis=1)  # negatives whose first level above is <= k
    n_pos, n_neg = pos.sum(axis=1), drawn[:, 2 * levels:].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (pos * (below + 0.5 * ties)).sum(axis=1) / (n_pos * n_neg)
    out[(n_pos == 0) | (n_neg == 0)] = np.nan
    return out
