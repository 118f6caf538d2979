"""Levels and differences of a statistic of per-item rows, with 95 % cluster-bootstrap intervals and p-values: the
one engine behind the boards' intervals, shift drops and scaled-vs-base verdicts and ``vleval compare``.

- **paired** when both sides evaluate the same items (two variants on one dataset; natural vs synthetic renders
  of the same scenes): one resample of clusters serves both sides (the first side's cluster coding);
- **unpaired** when they are different datasets (Flickr30K vs MSCOCO): each side is resampled on its own (two
  successive draws of one generator) and the difference of the draws gives the interval.

The same rows, statistic, seed and resamples give bit-identical numbers wherever the comparison is made; read the
other way round (:meth:`Difference.reversed`) the draws are negated exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from vleval.stats.bootstrap import (
    RESAMPLES,
    Statistic,
    cluster_codes,
    evaluate,
    interval,
    multiplicities,
    observed,
    tost_p,
    two_sided_p,
)
from vleval.stats.outcomes import Rows, metric_ratios
from vleval.stats.pvalues import holm

#: how rows give a statistic (:mod:`vleval.stats.outcomes`): ``(rows, key, cluster codes) -> Statistic | None``
Outcome = Callable[[Rows, str, dict[str, int]], "Statistic | None"]
ALPHA = 0.05


@dataclass(frozen=True)
class Level:
    """A statistic of one set of rows with its 95 % cluster-bootstrap interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Difference:
    """``first - second`` of a statistic of two sets of rows (``estimate``), its 95 % percentile interval, the
    two-sided bootstrap p-value for "no difference" and, given a margin, the TOST p-value for "inside
    ``[-margin, margin]``"; ``*_adjusted``: Holm-adjusted within a family (:func:`adjust`)."""

    first: float
    second: float
    estimate: float
    low: float
    high: float
    p_value: float
    paired: bool
    p_adjusted: float = float("nan")
    tost_p: float | None = None
    tost_adjusted: float | None = None

    @property
    def test(self) -> str:
        return "paired cluster bootstrap" if self.paired else "unpaired cluster bootstrap"

    def significant(self, alpha: float = ALPHA) -> bool:
        """The adjusted p-value (the raw one before :func:`adjust`) below ``alpha``."""
        p = self.p_adjusted if self.p_adjusted == self.p_adjusted else self.p_value
        return p < alpha

    def equivalent(self, alpha: float = ALPHA) -> bool:
        """The Holm-adjusted TOST p-value below ``alpha`` (never without a margin and :func:`adjust`)."""
        return self.tost_adjusted is not None and self.tost_adjusted < alpha

    def reversed(self) -> Difference:
        """``second - first``: the same draws negated (exact; a zero stays ``0.0``, never ``-0.0``), so the same
        p-values and the interval mirrored."""
        return replace(self, first=self.second, second=self.first, estimate=0.0 - self.estimate, low=0.0 - self.high,
                       high=0.0 - self.low)


def level(rows: Rows, key: str, *, outcome: Outcome = metric_ratios, resamples: int = RESAMPLES,
          seed: int = 0) -> Level | None:
    """Statistic ``key`` of ``rows`` with its 95 % cluster-bootstrap interval, or ``None`` when rows cannot give
    it."""
    codes = cluster_codes(r["cluster"] for r in rows)
    statistic = outcome(rows, key, codes) if rows else None
    if statistic is None:
        return None
    draws = evaluate(statistic, multiplicities(seed, resamples, len(codes))[0])
    estimate = observed(statistic)
    if not np.isfinite(estimate) or not np.isfinite(draws).all():
        return None
    return Level(estimate, *interval(draws))


def difference(first: Rows, second: Rows, key: str, *, outcome: Outcome = metric_ratios,
               resamples: int = RESAMPLES, seed: int = 0, margin: float | None = None) -> Difference | None:
    """``first - second`` of statistic ``key``, paired when both hold the same items (by ``(kind, id)``), else
    unpaired; with ``margin``, also the TOST p-value. ``None`` when the rows cannot give the statistic."""
    if not first or not second:
        return None
    paired = {(r["kind"], r["id"]) for r in first} == {(r["kind"], r["id"]) for r in second}
    if paired:  # one cluster coding for both sides: the first's (the items are the same)
        cluster_of = {(r["kind"], r["id"]): r["cluster"] for r in first}
        second = [{**r, "cluster": cluster_of[(r["kind"], r["id"])]} for r in second]
        codes_1 = codes_2 = cluster_codes(r["cluster"] for r in first)
    else:
        codes_1, codes_2 = cluster_codes(r["cluster"] for r in first), cluster_codes(r["cluster"] for r in second)
    stat_1, stat_2 = outcome(first, key, codes_1), outcome(second, key, codes_2)
    if stat_1 is None or stat_2 is None:
        return None
    value_1, value_2 = observed(stat_1), observed(stat_2)
    if paired:
        (weights_1,) = multiplicities(seed, resamples, len(codes_1))
        weights_2 = weights_1
    else:
        weights_1, weights_2 = multiplicities(seed, resamples, len(codes_1), len(codes_2))
    draws = evaluate(stat_1, weights_1) - evaluate(stat_2, weights_2)
    estimate = value_1 - value_2
    if not np.isfinite(estimate) or not np.isfinite(draws).all():
        return None
    return Difference(value_1, value_2, estimate, *interval(draws), two_sided_p(draws), paired=paired,
                      tost_p=None if margin is None else tost_p(draws, margin))


def adjust(differences: list[Difference | None]) -> list[Difference | None]:
    """Holm-adjust one family's p-values together: the differences as one family, their equivalence tests as
    another (``None`` entries, comparisons that could not be made, stay ``None``)."""
    present = [d for d in differences if d is not None]
    adjusted = iter(holm([d.p_value for d in present]))
    equivalent = iter(holm([d.tost_p for d in present if d.tost_p is not None]))
    return [None if d is None else replace(d, p_adjusted=next(adjusted),
                                           tost_adjusted=None if d.tost_p is None else next(equivalent))
            for d in differences]
