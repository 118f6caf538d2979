"""The cluster bootstrap: multiplicities are cluster resamples, a statistic under them equals the statistic
recomputed on the concatenated resample (brute force), and the p-values and intervals behave on known cases."""

from __future__ import annotations

import numpy as np
import pytest

from vleval.stats import bootstrap
from vleval.stats.outcomes import metric_ratios


def mc_rows(correct, rotations: int = 1) -> list[dict]:
    return [{"kind": "question", "id": str(q + r * 1_000_000), "cluster": str(q), "correct": bool(c)}
            for q, c in enumerate(correct) for r in range(rotations)]


def test_cluster_codes_are_first_seen_columns():
    assert bootstrap.cluster_codes(["b", "a", "b", "c", "a"]) == {"b": 0, "a": 1, "c": 2}


def test_multiplicities_draw_every_cluster_count_and_repeat_for_a_seed():
    (weights,) = bootstrap.multiplicities(3, 500, 7)
    assert weights.shape == (500, 7) and (weights.sum(axis=1) == 7).all() and (weights >= 0).all()
    assert weights.mean() == pytest.approx(1.0, abs=0.05)  # each cluster drawn once per resample on average
    assert (bootstrap.multiplicities(3, 500, 7)[0] == weights).all()
    assert not (bootstrap.multiplicities(4, 500, 7)[0] == weights).all()
    first, second = bootstrap.multiplicities(3, 500, 7, 5)  # two samples: successive draws of one generator
    assert (first == weights).all() and second.shape == (500, 5)
    with pytest.raises(ValueError):
        weights[0, 0] = 2.0  # shared between callers: read-only


def test_a_statistic_under_multiplicities_is_the_statistic_of_the_concatenated_resample():
    rng = np.random.default_rng(5)
    rows = mc_rows(rng.random(40) < 0.6, rotations=3)
    for r in rows[::7]:
        r["correct"] = not r["correct"]  # rotations of a question disagree sometimes
    codes = bootstrap.cluster_codes(r["cluster"] for r in rows)
    (weights,) = bootstrap.multiplicities(1, 200, len(codes))
    fast = bootstrap.evaluate(metric_ratios(rows, "accuracy", codes), weights)
    members = {c: [r for r in rows if r["cluster"] == c] for c in codes}
    for draw, value in zip(weights, fast, strict=True):
        resample = [r for c, i in codes.items() for _ in range(int(draw[i])) for r in members[c]]
        assert value == 100 * sum(r["correct"] for r in resample) / len(resample)  # bit for bit
    assert bootstrap.observed(metric_ratios(rows, "accuracy", codes)) == \
        100 * sum(r["correct"] for r in rows) / len(rows)


def test_interval_is_the_percentile_interval_and_ignores_nan():
    draws = np.arange(1001, dtype=float)  # percentiles of 0..1000 are exact
    assert bootstrap.interval(draws) == (25.0, 975.0)
    assert bootstrap.interval(np.append(draws, np.nan)) == (25.0, 975.0)


def test_p_values_by_hand():
    draws = np.array([-1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    # two-sided: P(d <= 0) = 2/10, P(d >= 0) = 9/10: 2 x 0.2
    assert bootstrap.two_sided_p(draws) == pytest.approx(0.4)
    assert bootstrap.two_sided_p(np.zeros(5)) == 1.0  # no difference at all: capped at 1
    # TOST at margin 2: P(d <= -2) = 0, P(d >= 2) = 7/10 -> 0.7; margin 9: both 0
    assert bootstrap.tost_p(draws, 2.0) == pytest.approx(0.7) and bootstrap.tost_p(draws, 9.0) == 0.0
    with pytest.raises(ValueError, match="margin must be a positive number"):
        bootstrap.tost_p(draws, 0.0)
