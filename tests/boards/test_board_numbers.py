"""Rounding a board's numbers: an interval's width to two significant digits sets the decimals; by hand."""

from __future__ import annotations

from vleval.boards import numbers


def test_interval_width_sets_the_decimals():
    assert numbers.interval_decimals((129.3, 202.7), cap=4) == 0  # width 73.4: "73"
    assert numbers.interval_decimals((-4.7, 4.7), cap=4) == 1  # width 9.4
    assert numbers.interval_decimals((0.839, 0.921), cap=4) == 3  # width 0.082
    assert numbers.interval_decimals((0.0003759, 0.0003840), cap=3) == 3  # capped: microseconds
    assert numbers.interval_decimals((5.0, 5.0), cap=4) is None and numbers.interval_decimals(None, cap=4) is None


def test_values_with_and_without_intervals():
    assert numbers.metric(166.8, (129.3, 202.7), mark="*") == "167* [129, 203]"
    assert numbers.metric(-1.33, (-6.0, 3.4), sign=True) == "-1.3 [-6.0, 3.4]"
    assert numbers.metric(2.3, (-7.2, 12.6), sign=True) == "+2 [-7, 13]"
    assert numbers.metric(-0.001, (-4.7, 4.7), sign=True) == "0.0 [-4.7, 4.7]"  # never "-0.0"
    assert numbers.metric(70.0, (62.0, 77.3), show=False) == "70"
    assert numbers.metric(19.41, None) == "19.41"
    assert numbers.milliseconds(0.87388, (0.83863, 0.92147), mark="!") == "0.874! [0.839, 0.921]"
    assert numbers.milliseconds(1.0708) == "1.07" and numbers.milliseconds(0.000384) == "0.000"
    assert numbers.rate(1115.81) == "1116" and numbers.rate(5.27) == "5.3"
    assert numbers.params(230145) == "0.23M" and numbers.params(99999) == "99999" and numbers.params(0) == "0"
