"""Paired statistics for comparing two evaluations of the same items: is a difference real?

Every function takes per-item outcomes of two evaluations **aligned item by item** (the same items in the same
order: two variants on one domain, or one variant on a source and a target that keeps the items paired), plus
optional cluster ids (the image of a caption, the question of a circular rotation): items of one cluster are not
independent, so resampling draws whole clusters.

- :func:`bootstrap_difference`: a paired, cluster-aware percentile bootstrap CI for ``statistic(b) - statistic(a)``
  of any per-item statistic (a mean, a recall, a corpus-level score computed from the resampled items).
- :func:`mcnemar`: McNemar's exact test for paired 0/1 outcomes (accuracy), with its discordant counts.
- :func:`equivalence`: a two one-sided tests (TOST) decision from the bootstrap distribution: is the difference
  inside ``[-margin, margin]`` ("pruning did not hurt")?
- :func:`holm`: Holm's step-down adjustment of the p-values of the comparisons one board makes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Statistic = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Difference:
    """``estimate = statistic(b) - statistic(a)`` with a ``confidence`` percentile interval and a two-sided
    bootstrap p-value for "no difference" (the share of resampled differences on the other side of zero, x2)."""

    estimate: float
    low: float
    high: float
    p_value: float
    confidence: float
    resamples: int
    clusters: int
    draws: np.ndarray  # the resampled differences, for equivalence tests and plots

    @property
    def significant(self) -> bool:
        return not (self.low <= 0.0 <= self.high)


def mean_of(values: np.ndarray, index: np.ndarray) -> float:
    return float(values[index].mean())


def _clusters(n: int, clusters: Sequence[int] | None) -> list[np.ndarray]:
    if clusters is None:
        return [np.array([i]) for i in range(n)]
    ids = np.asarray(clusters)
    if len(ids) != n:
        raise ValueError(f"{len(ids)} cluster ids for {n} items")
    _, inverse = np.unique(ids, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def bootstrap_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    clusters: Sequence[int] | None = None,
    statistic: Callable[[np.ndarray, np.ndarray], float] = mean_of,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Difference:
    """Paired cluster bootstrap of ``statistic(b, idx) - statistic(a, idx)``.

    ``statistic(values, index)`` computes the figure from the items at ``index`` (with repeats); the default is the
    mean, so 0/1 outcomes give an accuracy or recall difference. Both evaluations are resampled with the same
    clusters in each draw, which is what makes the interval paired.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired outcomes need equal 1-D shapes, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("paired outcomes must be finite")
    groups = _clusters(len(a), clusters)
    everything = np.arange(len(a))
    estimate = statistic(b, everything) - statistic(a, everything)
    rng = np.random.default_rng(seed)
    draws = np.empty(resamples)
    for r in range(resamples):
        picked = rng.integers(0, len(groups), len(groups))
        index = np.concatenate([groups[g] for g in picked])
        draws[r] = statistic(b, index) - statistic(a, index)
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    tail = min((draws <= 0).mean(), (draws >= 0).mean())
    return Difference(float(estimate), float(low), float(high), float(min(1.0, 2 * tail)), confidence, resamples,
                      len(groups), draws)


@dataclass(frozen=True)
class McNemar:
    """Discordant pairs (``a_only``: right in a, wrong in b; ``b_only`` the reverse) and the exact p-value."""

    a_only: int
    b_only: int
    p_value: float


def mcnemar(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> McNemar:
    """McNemar's exact (binomial) test that a and b are right equally often on the same items."""
    from scipy.stats import binomtest

    a, b = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes need equal shapes, got {a.shape} and {b.shape}")
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    discordant = a_only + b_only
    p = 1.0 if discordant == 0 else float(binomtest(a_only, discordant, 0.5).pvalue)
    return McNemar(a_only, b_only, p)


@dataclass(frozen=True)
class Equivalence:
    """TOST at level ``alpha``: equivalent when both one-sided p-values are below it (the ``1 - 2 alpha`` interval
    of the difference lies inside ``[-margin, margin]``)."""

    margin: float
    p_value: float
    equivalent: bool


def equivalence(difference: Difference, margin: float, alpha: float = 0.05) -> Equivalence:
    """Two one-sided tests on the bootstrap draws of ``difference`` against the margin ``margin`` (> 0)."""
    if margin <= 0:
        raise ValueError(f"the equivalence margin must be positive, got {margin}")
    draws = difference.draws
    p_lower = float((draws <= -margin).mean())  # H0: difference <= -margin
    p_upper = float((draws >= margin).mean())  # H0: difference >= +margin
    p = max(p_lower, p_upper)
    return Equivalence(margin, p, p < alpha)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()
