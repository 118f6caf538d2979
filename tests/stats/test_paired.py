"""Paired statistics: values derived by hand or by brute force, and the bootstrap's behaviour on known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vleval.stats.paired import bootstrap_difference, equivalence, holm, mcnemar


def test_holm_by_hand():
    # sorted: 0.01 x3 = 0.03; 0.03 x2 = 0.06; 0.04 x1 = 0.04 -> monotone 0.06
    assert holm([0.04, 0.01, 0.03]) == pytest.approx([0.06, 0.03, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_mcnemar_exact_by_hand():
    a = [1, 1, 1, 0, 0, 1, 1, 0]
    b = [0, 0, 1, 0, 1, 1, 0, 0]
    result = mcnemar(a, b)
    assert (result.a_only, result.b_only) == (3, 1)
    # two-sided exact binomial, 4 discordant pairs, 3 one way: 2 * P(X >= 3 | n=4, p=0.5) = 2 * 5/16
    assert result.p_value == pytest.approx(2 * (math.comb(4, 3) + math.comb(4, 4)) / 16)
    assert mcnemar([1, 0], [1, 0]).p_value == 1.0


def test_identical_evaluations_differ_by_exactly_zero():
    a = np.random.default_rng(1).integers(0, 2, 50)
    d = bootstrap_difference(a, a, resamples=200)
    assert d.estimate == d.low == d.high == 0.0 and not d.significant


def test_a_large_paired_gain_is_significant_and_a_small_one_is_not():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 400).astype(float)
    better = a.copy()
    better[np.flatnonzero(a == 0)[:80]] = 1  # +20 points on the same items
    d = bootstrap_difference(a, better, resamples=1000)
    assert d.estimate == pytest.approx(0.2) and d.significant and d.low > 0.1
    nudged = a.copy()
    nudged[np.flatnonzero(a == 0)[:1]] = 1  # one item
    assert not bootstrap_difference(a, nudged, resamples=1000).low > 0.005


def test_clusters_widen_the_interval_when_outcomes_move_together():
    rng = np.random.default_rng(2)
    per_cluster = rng.integers(0, 2, 40).astype(float)
    a = np.repeat(per_cluster, 5)  # 5 identical outcomes per cluster: really 40 observations, not 200
    b = np.repeat(rng.integers(0, 2, 40).astype(float), 5)
    clusters = np.repeat(np.arange(40), 5)
    naive = bootstrap_difference(a, b, resamples=1500)
    clustered = bootstrap_difference(a, b, clusters=clusters, resamples=1500)
    assert clustered.clusters == 40 and naive.clusters == 200
    assert (clustered.high - clustered.low) > 1.8 * (naive.high - naive.low)  # about sqrt(5) wider


def test_custom_statistic_sees_resampled_items():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0])
    total = bootstrap_difference(a, b, statistic=lambda v, i: float(v[i].sum()), resamples=50)
    assert total.estimate == pytest.approx(6.0)


def test_equivalence_needs_the_interval_inside_the_margin():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, 2000).astype(float)
    d = bootstrap_difference(a, a.copy(), resamples=500)
    assert equivalence(d, margin=0.02).equivalent
    worse = a.copy()
    worse[np.flatnonzero(a == 1)[:100]] = 0  # -5 points
    assert not equivalence(bootstrap_difference(a, worse, resamples=500), margin=0.02).equivalent
    with pytest.raises(ValueError, match="margin must be positive"):
        equivalence(d, margin=0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="equal 1-D shapes"):
        bootstrap_difference([1, 0], [1])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_difference([1.0, float("nan")], [1.0, 0.0])
    with pytest.raises(ValueError, match="3 cluster ids for 2 items"):
        bootstrap_difference([1, 0], [1, 1], clusters=[0, 1, 2])
