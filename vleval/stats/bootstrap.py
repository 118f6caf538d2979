"""The cluster bootstrap behind every interval and test of vleval (boards, ``vleval compare``, routing analytics).

Items of one cluster (an MMBench question's rotations, an image's captions) are not independent, so a resample
draws whole clusters with replacement. A resample is then a vector of cluster multiplicities (how often each
cluster was drawn), and every statistic here is a sum of ratios of per-cluster sums
(:class:`Ratio`; :mod:`vleval.stats.outcomes` builds them from per-item rows), so all resamples are one matrix
product whose values equal the statistic recomputed on each concatenated resample (a test checks it by brute force).

- :func:`cluster_codes`: each cluster's column, in first-seen order (the order multiplicities are assigned in);
- :func:`multiplicities`: seeded draws: the same seed, resamples and cluster count give the same numbers, so the
  same comparison gives bit-identical results wherever it is made;
- :func:`evaluate` / :func:`observed`: a statistic under multiplicities / on the data as it is;
- :func:`interval`, :func:`two_sided_p`, :func:`tost_p`: the 95 % percentile interval, the p-value for "no
  difference" and the two one-sided tests (TOST) against ``[-margin, margin]``, from resampled values.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from vleval.stats.confidence import TAILS

#: resamples of a comparison unless the caller asks for others (``vleval compare --resamples``)
RESAMPLES = 2000


class Ratio(NamedTuple):
    """Per cluster: the sum of an outcome over its rows, and the number of rows counted."""

    numerator: np.ndarray
    denominator: np.ndarray


#: a statistic: the sum of its ratios ``sum(w @ numerator) / sum(w @ denominator)`` (e.g. rsum: six recalls)
Statistic = list[Ratio]


def cluster_codes(clusters: Iterable[str]) -> dict[str, int]:
    """Each distinct cluster id's column, in first-seen order."""
    return {c: i for i, c in enumerate(dict.fromkeys(clusters))}


def _draw(clusters: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster multiplicities of ``resamples`` bootstrap draws (``clusters`` clusters drawn with replacement)."""
    return rng.multinomial(clusters, np.full(clusters, 1.0 / clusters), size=resamples).astype(np.float64)


@functools.lru_cache(maxsize=4)  # a board's comparisons share 1-3 shapes; the arrays can be large
def multiplicities(seed: int, resamples: int, *clusters: int) -> tuple[np.ndarray, ...]:
    """``[resamples, n]`` multiplicities for each ``n`` in ``clusters``, drawn in turn from one generator seeded
    with ``seed`` (two unpaired samples: two entries). Read-only arrays, shared between callers."""
    rng = np.random.default_rng(seed)
    out = tuple(_draw(n, resamples, rng) for n in clusters)
    for weights in out:
        weights.setflags(write=False)
    return out


def evaluate(statistic: Statistic, weights: np.ndarray) -> np.ndarray:
    """The statistic under cluster multiplicities ``weights`` (``[resamples, clusters]``)."""
    return sum(weights @ r.numerator / np.maximum(weights @ r.denominator, 1e-12) for r in statistic)


def observed(statistic: Statistic) -> float:
    """The statistic on the data as it is (every cluster once)."""
    return float(evaluate(statistic, np.ones((1, len(statistic[0].numerator))))[0])


def interval(draws: np.ndarray) -> tuple[float, float]:
    """The 95 % percentile interval of resampled values (NaN values, e.g. a resample without a class, left out)."""
    low, high = np.nanquantile(draws, TAILS)
    return float(low), float(high)


def two_sided_p(draws: np.ndarray) -> float:
    """Bootstrap p-value for "no difference": twice the share of resampled differences on the smaller side of 0."""
    return min(1.0, 2 * min(float((draws <= 0).mean()), float((draws >= 0).mean())))


def tost_p(draws: np.ndarray, margin: float) -> float:
    """Two one-sided tests of "the difference lies inside ``[-margin, margin]``": the larger one-sided p-value."""
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be a positive number, got {margin}")
    return max(float((draws <= -margin).mean()), float((draws >= margin).mean()))
