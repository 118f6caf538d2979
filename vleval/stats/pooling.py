"""Statistics of one leaderboard row pooled over its replicates (runs, evaluation seeds, training seeds).

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
import re
from dataclasses import dataclass
from statistics import median

from vleval.results.record import Record

Z = 1.959963984540054
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
    from scipy.special import stdtrit

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


def pooled_latency(records: list[Record]) -> dict[str, object]:
    """``p50_ms``, ``p50_ci``, ``p90_ms``, ``throughput`` over the replicates that were timed, and ``timed``."""
    timed = [r.timed for r in records if r.timed is not None and r.timed.p50_ms is not None]
    if not timed:
        return {"p50_ms": None, "p50_ci": None, "p90_ms": None, "throughput": None, "timed": 0}
    cis = [(d.latency.get("sample_ms_ci") or {}).get("p50") for d in timed]
    ci = tuple(cis[0]) if len(timed) == 1 and cis[0] else None
    if len(timed) > 1 and all(cis):
        ci = (min(c[0] for c in cis), max(c[1] for c in cis))
    throughput = [d.throughput for d in timed if d.throughput is not None]
    return {"p50_ms": median(d.p50_ms for d in timed), "p50_ci": ci,
            "p90_ms": median(d.p90_ms for d in timed if d.p90_ms is not None) if any(d.p90_ms for d in timed)
            else None, "throughput": median(throughput) if throughput else None, "timed": len(timed)}


_SEED_ARG = re.compile(r"(, )?training_seed=[^,)]*(, )?")


def variant_label(record: Record) -> str:
    """The record's label without ``training_seed=...``: replicates of one variant over training seeds share it."""
    label = record.label
    if "training_seed" not in (record.cell.get("model_args") or {}):
        return label
    label = _SEED_ARG.sub(lambda m: ", " if m.group(1) and m.group(2) else "", label)
    return label.replace("()", "")


def training_seed(record: Record) -> object:
    return (record.cell.get("model_args") or {}).get("training_seed")


def base_of(record: Record) -> tuple | None:
    """For an inference-time scaled variant (top-k, pruning): the identity of its unscaled base variant."""
    return identity(record) if record.cell.get("scaling") else None


def identity(record: Record) -> tuple:
    """Model and arguments (training seed left out): what a scaled variant and its base share."""
    args = {k: v for k, v in (record.cell.get("model_args") or {}).items() if k != "training_seed"}
    return (record.cell.get("model"), tuple(sorted((k, str(v)) for k, v in args.items())))
