"""Confidence intervals for proportions: lm-eval's standard error, and a Wilson score interval.

The Wilson interval stays inside [0, 100] and is not degenerate at 0 % or 100 % (a Wald interval is). Outcomes
that are not independent (the 5 captions of one image) are clustered; CircularEval has one outcome per question.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from vleval.api import MetricValue

Z95 = 1.959964


def percent_with_ci(hits: Sequence[float], clusters: Sequence[int] | None = None) -> MetricValue:
    """Mean of 0/1 outcomes as a percentage, with lm-eval's ``mean_stderr`` and a 95 % Wilson interval.

    With ``clusters`` (e.g. the image each caption describes), outcomes of one cluster are not independent: the
    standard error is that of the cluster means and the interval is normal, clipped to [0, 100].
    """
    from lm_eval.api.metrics import mean_stderr

    n = len(hits)
    if n == 0:
        return MetricValue(value=0.0)
    if clusters is not None:
        groups: dict[int, list[float]] = {}
        for cluster, hit in zip(clusters, hits, strict=True):
            groups.setdefault(int(cluster), []).append(float(hit))
        means = [sum(g) / len(g) for g in groups.values()]
        value = 100.0 * sum(hits) / n
        if len(means) < 2:
            return MetricValue(value=value)
        stderr = 100.0 * mean_stderr(means)
        return MetricValue(value=value, ci_low=max(0.0, value - Z95 * stderr),
                           ci_high=min(100.0, value + Z95 * stderr), stderr=stderr)
    p = sum(hits) / n
    stderr = 100.0 * mean_stderr(list(hits)) if n > 1 else None
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    low = 0.0 if p == 0 else 100.0 * max(0.0, centre - half)  # the Wilson bound is exactly 0 / 100 there;
    high = 100.0 if p == 1 else 100.0 * min(1.0, centre + half)  # floating point would give 99.99999999999999
    return MetricValue(value=100.0 * p, ci_low=low, ci_high=high, stderr=stderr)
