"""Is a shift's drop real? Intervals and tests for the source - target difference of a board's primary metric.

From a record's per-item rows (:mod:`vleval.results.sidecars`), the primary metric is recomputed on bootstrap resamples
of clusters. Every supported metric is a sum of ratios of per-cluster sums, so a resample is a vector of cluster
multiplicities and all draws are one matrix product (the same percentile interval as
:func:`vleval.stats.paired.bootstrap_difference`, which a test checks, at a fraction of its cost):

- **paired** when source and target evaluate the same items (e.g. natural vs synthetic renders of the same scenes):
  one resample of clusters serves both domains;
- **unpaired** when they are different datasets (Flickr30K vs MSCOCO): each domain is resampled on its own and the
  difference of the draws gives the interval.

Supported primary metrics: ``accuracy`` (rows' ``correct``), ``circular_accuracy`` (a group counts if all of its
rows are right), ``rsum`` and ``i2t_r{k}`` / ``t2i_r{k}`` (ranks), and the caption scores that are means of per-image
values (``cider``, ``rouge_l``). Others (corpus BLEU, METEOR) get no interval rather than a wrong one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from vleval.stats.paired import holm

Rows = list[dict]
#: caption scores whose corpus value is the mean of the per-image values (not BLEU or METEOR: corpus statistics)
MEAN_OF_IMAGES = ("cider", "rouge_l")


@dataclass(frozen=True)
class DropVerdict:
    estimate: float
    low: float
    high: float
    p_value: float
    paired: bool
    p_adjusted: float = float("nan")
    tost_p: float | None = None  # two one-sided tests against ``[-margin, margin]`` (when a margin was given)
    tost_adjusted: float | None = None  # Holm-adjusted across the board's equivalence tests

    @property
    def test(self) -> str:
        return "paired cluster bootstrap" if self.paired else "unpaired cluster bootstrap"

    def significant(self, alpha: float = 0.05) -> bool:
        p = self.p_adjusted if self.p_adjusted == self.p_adjusted else self.p_value
        return p < alpha


Component = tuple[np.ndarray, np.ndarray]  # per cluster: (sum of the outcome, number of rows)


def components(rows: Rows, key: str, clusters: dict[str, int]) -> list[Component] | None:
    """The primary metric ``key`` as a sum of ratios ``sum(num) / sum(den)`` over clusters (x100 where a rate),
    or ``None`` when rows cannot give it. Every supported metric has this form, so a bootstrap resample is a
    weighted sum: fast and exact."""
    n = len(clusters)
    code = np.fromiter((clusters[r["cluster"]] for r in rows), dtype=np.intp, count=len(rows))

    def ratio(select: np.ndarray | None, value: np.ndarray, scale: float = 100.0) -> Component:
        # per cluster, in row order (as a loop adding row by row: the same sums bit for bit)
        where = code if select is None else code[select]
        values = value if select is None else value[select]
        return (np.bincount(where, weights=scale * values, minlength=n),
                np.bincount(where, minlength=n).astype(np.float64))

    kinds = np.array([r["kind"] for r in rows], dtype=str)
    if key == "accuracy":
        question = kinds == "question"
        return [ratio(question, np.array([float(r["correct"]) if q else 0.0
                                          for r, q in zip(rows, question, strict=True)]))]
    if key == "circular_accuracy":
        right: dict[str, bool] = {}
        for r in rows:
            right[r["cluster"]] = right.get(r["cluster"], True) and bool(r["correct"])
        num, den = np.zeros(n), np.zeros(n)
        for cluster, ok in right.items():
            num[clusters[cluster]], den[clusters[cluster]] = 100.0 * ok, 1.0
        return [(num, den)]
    recalls = [(d, k) for d in ("i2t", "t2i") for k in (1, 5, 10)] if key == "rsum" else (
        [(key[:3], int(key[5:]))] if key[:3] in ("i2t", "t2i") and key[3:5] == "_r" and key[5:].isdigit() else [])
    if recalls:
        out, ranks = [], {}
        for direction, k in recalls:
            kind, rank = ("image", "i2t_rank") if direction == "i2t" else ("text", "t2i_rank")
            select = kinds == kind
            if kind not in ranks:  # each row's rank (rows of another kind: not selected, 0)
                ranks[kind] = np.array([r[rank] if s else 0 for r, s in zip(rows, select, strict=True)],
                                       dtype=np.float64)
            out.append(ratio(select, (ranks[kind] < k).astype(np.float64)))
        return out
    if key in MEAN_OF_IMAGES and rows and key in rows[0]:
        return [ratio(None, np.array([float(r[key]) for r in rows]), scale=1.0)]
    return None


def _value(parts: list[Component], weights: np.ndarray) -> np.ndarray:
    """The metric under cluster weights ``[resamples, clusters]`` (all ones: the observed value)."""
    return sum(weights @ num / np.maximum(weights @ den, 1e-12) for num, den in parts)


def _weights(clusters: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster multiplicities of ``resamples`` bootstrap draws (clusters resampled with replacement)."""
    return rng.multinomial(clusters, np.full(clusters, 1.0 / clusters), size=resamples).astype(np.float64)


@functools.lru_cache(maxsize=4)  # a board's comparisons share 1-3 shapes; the arrays can be large
def seeded_weights(seed: int, resamples: int, *clusters: int) -> tuple[np.ndarray, ...]:
    """The weights of successive :func:`_weights` draws (one per entry of ``clusters``) from a generator seeded
    with ``seed``: the same numbers every time, so a board's many comparisons over equal-sized data draw them once.
    Read-only arrays (shared between callers)."""
    rng = np.random.default_rng(seed)
    out = tuple(_weights(n, resamples, rng) for n in clusters)
    for weights in out:
        weights.setflags(write=False)
    return out


def _codes(rows: Rows) -> dict[str, int]:
    return {c: i for i, c in enumerate(dict.fromkeys(r["cluster"] for r in rows))}


def level(rows: Rows, key: str, *, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float] | None:
    """Metric ``key`` of one domain with its 95 % cluster-bootstrap interval (clusters: e.g. an MMBench question's
    rotations, an image's captions), or ``None`` when rows cannot give it."""
    codes = _codes(rows)
    parts = components(rows, key, codes) if rows else None
    if parts is None:
        return None
    draws = _value(parts, seeded_weights(seed, resamples, len(codes))[0])
    estimate = float(_value(parts, np.ones((1, len(codes))))[0])
    if not np.isfinite(estimate) or not np.isfinite(draws).all():
        return None
    low, high = np.quantile(draws, [0.025, 0.975])
    return estimate, float(low), float(high)


def drop(source: Rows, target: Rows, key: str, *, resamples: int = 2000, seed: int = 0,
         margin: float | None = None) -> DropVerdict | None:
    """Source minus target of metric ``key`` with a 95 % interval and a two-sided p-value; ``None`` if unsupported.
    With ``margin``, also the TOST p-value for "the difference lies inside ``[-margin, margin]``"."""
    if not source or not target:
        return None
    paired = {(r["kind"], r["id"]) for r in source} == {(r["kind"], r["id"]) for r in target}
    if paired:  # one cluster coding for both domains: the source's (items are the same)
        cluster_of = {(r["kind"], r["id"]): r["cluster"] for r in source}
        target = [{**r, "cluster": cluster_of[(r["kind"], r["id"])]} for r in target]
        codes_s = codes_t = _codes(source)
    else:
        codes_s, codes_t = _codes(source), _codes(target)
    parts_s, parts_t = components(source, key, codes_s), components(target, key, codes_t)
    if parts_s is None or parts_t is None:
        return None
    ones_s, ones_t = np.ones((1, len(codes_s))), np.ones((1, len(codes_t)))
    estimate = float(_value(parts_s, ones_s)[0] - _value(parts_t, ones_t)[0])
    if paired:
        (w_s,) = seeded_weights(seed, resamples, len(codes_s))
        w_t = w_s
    else:
        w_s, w_t = seeded_weights(seed, resamples, len(codes_s), len(codes_t))
    draws = _value(parts_s, w_s) - _value(parts_t, w_t)
    if not np.isfinite(estimate) or not np.isfinite(draws).all():
        return None
    low, high = np.quantile(draws, [0.025, 0.975])
    p = min(1.0, 2 * min(float((draws <= 0).mean()), float((draws >= 0).mean())))
    tost = None if margin is None else max(float((draws <= -margin).mean()), float((draws >= margin).mean()))
    return DropVerdict(estimate, float(low), float(high), p, paired=paired, tost_p=tost)


def adjust(verdicts: list[DropVerdict | None]) -> list[DropVerdict | None]:
    """Holm-adjust the p-values of one board's tests together (differences as one family, equivalence tests as
    another)."""
    present = [v for v in verdicts if v is not None]
    adjusted = iter(holm([v.p_value for v in present]))
    equivalent = iter(holm([v.tost_p for v in present if v.tost_p is not None]))
    return [None if v is None else replace(v, p_adjusted=next(adjusted),
                                           tost_adjusted=None if v.tost_p is None else next(equivalent))
            for v in verdicts]
