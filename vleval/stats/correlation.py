"""Pearson's correlation with its 95 % interval (Fisher's z), for the summaries' "latency vs accuracy" lines.
Over a handful of variants it is weak evidence; the interval says how weak."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vleval.stats.confidence import Z

MIN_POINTS = 4  # Fisher's z needs n - 3 > 0; three points give no interval worth the name


@dataclass(frozen=True)
class Correlation:
    r: float
    low: float
    high: float
    n: int


def pearson(x: list[float], y: list[float]) -> Correlation | None:
    """``r`` with its 95 % interval, or ``None`` below :data:`MIN_POINTS` points or without spread."""
    if len(x) < MIN_POINTS or np.std(x) == 0 or np.std(y) == 0:
        return None
    r = float(np.corrcoef(x, y)[0, 1])
    z, half = math.atanh(max(min(r, 0.999999), -0.999999)), Z / math.sqrt(len(x) - 3)
    return Correlation(r, math.tanh(z - half), math.tanh(z + half), len(x))
