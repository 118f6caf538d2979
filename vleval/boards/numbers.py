"""Numbers as a board shows them: rounded to what they mean.

- a value with an interval: the interval's width to two significant digits sets the decimals of the value and of
  both bounds (``166.8 [129.3, 202.7]`` → ``167 [129, 203]``; ``0.874 [0.839, 0.921]`` stays);
- without one: metric values with 2 decimals, latency (ms) and throughput with 3 significant digits;
- never more decimals than the column's cap (ms: 3, i.e. microseconds), never ``-0``.
"""

from __future__ import annotations

import math

from vleval.boards.board import Interval

METRIC_DECIMALS = 2  # a metric value without an interval (percent or score points)
METRIC_CAP = 4
MS_CAP = 3  # latency in ms: microseconds at most
RATE_CAP = 1  # samples/s


def fixed(value: float, decimals: int, sign: bool = False) -> str:
    """``value`` with ``decimals`` decimals (``+`` for positive values when ``sign``), never ``-0``."""
    text = f"{value:{'+' if sign else ''}.{decimals}f}"
    return text if float(text) != 0 else f"{0:.{decimals}f}"


def interval_decimals(ci: Interval | None, cap: int) -> int | None:
    """Decimals that show the interval's width to two significant digits (at most ``cap``); ``None`` without
    an interval of positive, finite width."""
    if ci is None:
        return None
    width = ci[1] - ci[0]
    if not (math.isfinite(width) and width > 0):
        return None
    return min(cap, max(0, 1 - math.floor(math.log10(width))))


def significant_decimals(value: float, digits: int, cap: int) -> int:
    """Decimals that show ``value`` to ``digits`` significant digits (at most ``cap``, none for large values)."""
    if not (math.isfinite(value) and value != 0):
        return cap
    return min(cap, max(0, digits - 1 - math.floor(math.log10(abs(value)))))


def with_interval(value: float, ci: Interval | None, *, decimals: int, cap: int, mark: str = "", sign: bool = False,
                  show: bool = True) -> str:
    """``value{mark} [low, high]`` in the interval's decimals (else ``decimals``); ``show=False``: the value alone,
    still rounded as its interval warrants."""
    digits = interval_decimals(ci, cap)
    digits = decimals if digits is None else digits
    text = fixed(value, digits, sign) + mark
    if ci is None or not show:
        return text
    return f"{text} [{fixed(ci[0], digits)}, {fixed(ci[1], digits)}]"


def metric(value: float, ci: Interval | None, *, mark: str = "", sign: bool = False, show: bool = True) -> str:
    return with_interval(value, ci, decimals=METRIC_DECIMALS, cap=METRIC_CAP, mark=mark, sign=sign, show=show)


def milliseconds(value: float, ci: Interval | None = None, *, mark: str = "", show: bool = True) -> str:
    return with_interval(value, ci, decimals=significant_decimals(value, 3, MS_CAP), cap=MS_CAP, mark=mark,
                         show=show)


def rate(value: float) -> str:
    return fixed(value, significant_decimals(value, 3, RATE_CAP))


def params(value: int) -> str:
    """Active parameters: ``0.23M`` from 100,000 on, else the count."""
    return f"{value / 1e6:.2f}M" if value >= 1e5 else str(value)
