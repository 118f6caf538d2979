"""The columns of a board: header, what a cell shows (:mod:`vleval.boards.numbers`), and where it appears.

Every format shows the wide set (md, html, ``wide`` console boards); the default console board shows the compact
set, which fits 120 columns: the variant, accuracy, the drop and the difference from the base with their
intervals, the p50 latency, the replicates pooled and the Pareto mark (intervals of source, target and p50, expert
count, top-k, active parameters, p90 and throughput: the wide board).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vleval.boards import numbers
from vleval.boards.board import Row


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Row], str]  # the row's cell ("-" when there is no value)
    compact: bool = False  # on the default console board
    wide: bool = True  # on the wide boards (md, html, ``wide``)


def _or_dash(value: object, show: Callable[[object], str]) -> str:
    return "-" if value is None else show(value)


def _drop(row: Row, show: bool = True) -> str:
    mark = "*" if row.drop_significant else ""
    return _or_dash(row.drop, lambda v: numbers.metric(v, row.drop_ci, mark=mark, show=show))


def _vs_base(row: Row) -> str:
    mark = "*" if row.vs_base_significant else "≈" if row.vs_base_equivalent else ""
    return _or_dash(row.vs_base, lambda v: numbers.metric(v, row.vs_base_ci, mark=mark, sign=True))


def _p50(row: Row, show: bool = True) -> str:
    mark = "!" if row.latency_flag else ""
    return _or_dash(row.p50_ms, lambda v: numbers.milliseconds(v, row.p50_ci, mark=mark, show=show))


def _replicates(row: Row) -> str:
    if row.distinct_replicates > 1:
        return f"{row.replicates} ({row.distinct_replicates} × {', '.join(row.replicate_args)})"
    return str(row.replicates)


COLUMNS = [
    Column("variant", lambda r: r.label, compact=True),
    Column("E", lambda r: _or_dash(r.experts, str)),
    Column("k", lambda r: _or_dash(r.top_k, str)),
    Column("active params", lambda r: _or_dash(r.active_params, numbers.params)),
    Column("source", lambda r: _or_dash(r.source, lambda v: numbers.metric(v, r.source_ci, show=False)),
           compact=True, wide=False),
    Column("source [95% CI]", lambda r: _or_dash(r.source, lambda v: numbers.metric(v, r.source_ci))),
    Column("target", lambda r: _or_dash(r.target, lambda v: numbers.metric(v, r.target_ci, show=False)),
           compact=True, wide=False),
    Column("target [95% CI]", lambda r: _or_dash(r.target, lambda v: numbers.metric(v, r.target_ci))),
    Column("drop [95% CI]", _drop, compact=True),
    Column("p50 ms", lambda r: _p50(r, show=False), compact=True, wide=False),
    Column("p50 ms/sample [95% CI]", _p50),
    Column("p90 ms/sample", lambda r: _or_dash(r.p90_ms, numbers.milliseconds)),
    Column("samples/s", lambda r: _or_dash(r.throughput, numbers.rate)),
    Column("n", lambda r: str(r.replicates), compact=True, wide=False),
    Column("n", _replicates),
    Column("vs base [95% CI]", _vs_base, compact=True),
    Column("pareto", lambda r: "*" if r.pareto else "", compact=True),
]
LEGEND = ("drop * / vs base * = significant (Holm across the board's differences); vs base ≈ = equivalent within "
          "±{margin} (TOST, Holm); ! = latency measured on a contended or unsteady machine; n = replicates pooled; "
          "pareto * = Pareto-optimal accuracy vs p50 latency")
COMPACT_NOTE = ("; intervals of source, target and p50, E, k, active params, p90, samples/s: `vleval leaderboard "
                "--wide`")


def columns(wide: bool = True) -> list[Column]:
    """The wide set (every column) or the compact one."""
    return [c for c in COLUMNS if (c.wide if wide else c.compact)]


def legend(margin: float | None, wide: bool = True) -> str:
    return LEGEND.format(margin=margin) + ("" if wide else COMPACT_NOTE)
