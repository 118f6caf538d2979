"""The means the VQA-style references take, and :class:`MeanScore` (a per-item score with its means).

Means are summed the way each reference sums them, so the floats agree to the last bit and not only to rounding:
the official script's Python 2 ``sum`` (left to right), lmms-eval's ``sum(arr) / len(arr)`` (the running
interpreter's built-in ``sum``; Python 3.12 made it compensated) and, inside ``vqav2/ok_vqa/textvqa`` items,
``statistics.mean`` (exact, then rounded once), VLMEvalKit's ``np.mean`` (numpy's pairwise summation, reproduced
here in pure Python). Values are fractions in [0, 1]; the references that print percentages multiply by 100
(VLMEvalKit: ``np.mean(...) * 100``, unrounded; the official script: see
:meth:`vleval_metrics.vqa_accuracy.VQAScore.official_report`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["MeanScore"]


# ----------------------------------------------------------------------------------------- the references' means


def _python2_sum(values: Sequence[float]) -> float:
    """Python 2's (and Python <= 3.11's) built-in ``sum`` of floats: plain left-to-right additions from 0."""
    total: float = 0
    for value in values:
        total = total + value
    return total


def _exact_mean(values: Sequence[float]) -> float:
    """``statistics.mean`` of floats: the exact rational mean, rounded once to the nearest float."""
    return float(sum((Fraction(v) for v in values), Fraction(0)) / len(values))


def _pairwise_sum(values: Sequence[float], start: int, count: int) -> float:
    """numpy's ``pairwise_sum`` for float64 (``numpy/_core/src/umath/loops_utils.h.src``): under 8 values a plain
    loop; up to 128 values eight running sums combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the
    remainder added one by one; above 128 the two halves (the first a multiple of 8 long) summed recursively."""
    if count < 8:
        total = 0.0
        for i in range(start, start + count):
            total += values[i]
        return total
    if count <= 128:
        r = [float(values[start + j]) for j in range(8)]
        i = 8
        while i < count - count % 8:
            for j in range(8):
                r[j] += values[start + i + j]
            i += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for k in range(start + i, start + count):
            total += values[k]
        return total
    half = count // 2
    half -= half % 8
    return _pairwise_sum(values, start, half) + _pairwise_sum(values, start + half, count - half)


def _numpy_mean(values: Sequence[float]) -> float:
    """``float(np.mean(values))`` for a 1-D list of floats (checked against numpy 2 in the tests); ``nan`` when
    empty, as numpy returns (with a warning)."""
    if len(values) == 0:
        return math.nan
    return _pairwise_sum([float(v) for v in values], 0, len(values)) / len(values)


def _python_mean(values: Sequence[float]) -> float:
    """lmms-eval's ``mean`` aggregation (``lmms_eval/api/metrics.py``): ``sum(arr) / len(arr)``."""
    return sum(values) / len(values)


def _py2_mean(values: Sequence[float]) -> float:
    """The official script's ``float(sum(x)) / len(x)`` under Python 2."""
    return _python2_sum(values) / len(values)


def _group_means(values: Sequence[float], groups: Sequence[str] | None, mean) -> dict[str, float]:
    """``{group: mean of its values}`` in order of first appearance; ``{}`` without groups."""
    if groups is None:
        return {}
    if len(groups) != len(values):
        raise ValueError(f"{len(groups)} group labels for {len(values)} items")
    members: dict[str, list[float]] = {}
    for value, group in zip(values, groups, strict=True):
        members.setdefault(group, []).append(value)
    return {group: mean(vs) for group, vs in members.items()}


# -------------------------------------------------------------------------------------------------- mean scores


@dataclass(frozen=True)
class MeanScore:
    """A per-item score averaged over items: ``value`` (in [0, 1]), ``per_item`` in input order, and ``by_group``
    (the mean per group label, in order of first appearance; empty without groups)."""

    value: float
    per_item: tuple[float, ...]
    by_group: dict[str, float]


def _mean_score(per_item: tuple[float, ...], groups: Sequence[str] | None, mean) -> MeanScore:
    """A :class:`MeanScore` of ``per_item`` averaged with the reference's ``mean`` (ValueError when empty)."""
    if not per_item:
        raise ValueError("no items")
    return MeanScore(mean(per_item), per_item, _group_means(per_item, groups, mean))
