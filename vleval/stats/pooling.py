"""Statistics of one leaderboard row pooled over its replicates (runs, evaluation seeds, the model entry's
``replicates``, e.g. training seeds).

- accuracy (source, target, drop): the mean of the replicates; its 95 % interval combines the within-replicate
  interval (clustered bootstrap from per-item rows, else the metric's own; the mean of their variances, since
  replicates evaluate the same items and share that noise) with the between-replicate spread (Student t with
  ``n - 1`` degrees of freedom on ``sd / sqrt(n)``), in quadrature. One replicate: its own interval.
- latency: the median of the timed replicates' p50 (and p90, throughput); interval: one replicate, its bootstrap
  interval over timed batches; several, the envelope of their intervals (it contains the between-run spread).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import median

from vleval.results.record import Record
from vleval.stats.confidence import Z

Interval = tuple[float, float]


@dataclass(frozen=True)
class Pooled:
    value: float
    ci: Interval | None
    n: int


@functools.lru_cache(maxsize=64)
def _t975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom, once per ``df``. ``scipy.special``'s
    ``stdtrit`` is what ``scipy.stats.t.ppf`` computes it with (same value), without importing ``scipy.stats``
    (a second or more)."""
    from scipy.special import stdtrit  # scipy: heavy, imported when a row pools replicates

    return float(stdtrit(df, 0.975))


def pool(values: list[float | None], intervals: list[Interval | None]) -> Pooled | None:
    """Mean of the present values with an interval holding within- and between-replicate variation."""
    pairs = [(v, ci) for v, ci in zip(values, intervals, strict=True) if v is not None]
    if not pairs:
        return None
    n = len(pairs)
    estimate = sum(v for v, _ in pairs) / n
    if n == 1:
        return Pooled(estimate, pairs[0][1], 1)
    known = [ci for _, ci in pairs if ci is not None]
    within = math.sqrt(sum(((hi - lo) / (2 * Z)) ** 2 for lo, hi in known) / len(known)) if known else 0.0
    sd = math.sqrt(sum((v - estimate) ** 2 for v, _ in pairs) / (n - 1))
    half = math.hypot(Z * within, _t975(n - 1) * sd / math.sqrt(n))
    return Pooled(estimate, (estimate - half, estimate + half), n)


@dataclass(frozen=True)
class PooledLatency:
    """Latency over the replicates that were timed (``timed`` of them; 0: every field ``None``)."""

    p50_ms: float | None = None
    p50_ci: Interval | None = None
    p90_ms: float | None = None
    throughput: float | None = None
    timed: int = 0


def pooled_latency(records: list[Record]) -> PooledLatency:
    """Median p50, p90 and throughput of the timed replicates, with the p50's interval (see the module)."""
    timed = [r.timed for r in records if r.timed is not None and r.timed.p50_ms is not None]
    if not timed:
        return PooledLatency()
    cis = [(d.latency.get("sample_ms_ci") or {}).get("p50") for d in timed]
    ci = tuple(cis[0]) if len(timed) == 1 and cis[0] else None
    if len(timed) > 1 and all(cis):
        ci = (min(c[0] for c in cis), max(c[1] for c in cis))
    throughput = [d.throughput for d in timed if d.throughput is not None]
    p90 = median(d.p90_ms for d in timed if d.p90_ms is not None) if any(d.p90_ms for d in timed) else None
    return PooledLatency(median(d.p50_ms for d in timed), ci, p90, median(throughput) if throughput else None,
                         len(timed))
