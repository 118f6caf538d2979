"""Holm's adjustment and McNemar's exact test, derived by hand."""

from __future__ import annotations

import math

import pytest

from vleval.stats.pvalues import holm, mcnemar


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
    with pytest.raises(ValueError, match="equal shapes"):
        mcnemar([1, 0], [1])
