"""Confidence intervals through lm-eval's standard-error functions."""

from __future__ import annotations

from collections.abc import Sequence

from vleval.api import MetricValue

Z95 = 1.959964


def percent_with_ci(hits: Sequence[float]) -> MetricValue:
    """Mean of 0/1 outcomes as a percentage, with lm-eval's ``mean_stderr`` and a normal 95 % interval."""
    from lm_eval.api.metrics import mean_stderr

    n = len(hits)
    if n == 0:
        return MetricValue(value=0.0)
    value = 100.0 * sum(hits) / n
    stderr = 100.0 * mean_stderr(list(hits)) if n > 1 else 0.0
    return MetricValue(value=value, ci_low=max(0.0, value - Z95 * stderr), ci_high=min(100.0, value + Z95 * stderr),
                       stderr=stderr)
