"""Boards as text: a console table (rich), markdown, CSV, JSON, and the report's HTML table.

Console and markdown cells are rounded to what they mean (:mod:`vleval.boards.numbers`); CSV and JSON are data:
every field at full precision, intervals as numeric ``<field>_ci_low`` / ``<field>_ci_high`` columns.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from rich.table import Table

from vleval.boards.board import Board, Row
from vleval.boards.columns import columns, legend

FORMATS = ("table", "md", "csv", "json")
#: the row's fields as data, in order; the intervals (``*_ci``) become ``*_ci_low`` and ``*_ci_high``
FIELDS = ("label", "experts", "top_k", "active_params", "source", "source_ci", "target", "target_ci", "drop",
          "drop_ci", "drop_p", "drop_test", "drop_significant", "p50_ms", "p50_ci", "p90_ms", "throughput",
          "latency_flag", "replicates", "seeds", "distinct_replicates", "replicate_args", "vs_base", "vs_base_ci",
          "vs_base_p", "vs_base_significant", "vs_base_equivalent", "pareto")
BOARD_FIELDS = ("evaluation", "task", "metric", "higher_is_better", "margin")


def row_data(row: Row) -> dict[str, Any]:
    """The row as flat data (full precision; an absent interval: both bounds ``None``)."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(row, name)
        if name.endswith("_ci"):
            out[f"{name}_low"], out[f"{name}_high"] = value if value is not None else (None, None)
        else:
            out[name] = list(value) if name == "replicate_args" else value
    return out


def _json(boards: list[Board]) -> str:
    return json.dumps([{**{name: getattr(b, name) for name in BOARD_FIELDS}, "rows": [row_data(r) for r in b.rows]}
                       for b in boards], indent=2)


def _csv(boards: list[Board]) -> str:
    names = [n for name in FIELDS for n in ((f"{name}_low", f"{name}_high") if name.endswith("_ci") else (name,))]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["evaluation", "task", "metric", *names])
    for b in boards:
        for row in b.rows:
            data = row_data(row)
            data["replicate_args"] = ",".join(data["replicate_args"])
            writer.writerow([b.evaluation, b.task, b.metric, *(data[n] for n in names)])
    return buffer.getvalue()


def _markdown(boards: list[Board]) -> str:
    shown = columns(wide=True)
    parts = []
    for b in boards:
        parts.append(f"### {b.evaluation} ({b.task}, {b.metric})\n")
        parts.append("| " + " | ".join(c.header for c in shown) + " |")
        parts.append("|" + "---|" * len(shown))
        parts += ["| " + " | ".join(c.cell(r) for c in shown) + " |" for r in b.rows]
        parts.append("")
    if boards:
        parts.append(legend(boards[0].margin))
    return "\n".join(parts)


def table(board: Board, wide: bool = False) -> Table:
    """The board as a rich table: the compact columns (fit 120 columns), or every column; the variant is never
    cut (other columns wrap first)."""
    shown = columns(wide)
    out = Table(title=f"{board.evaluation}  ({board.task}; {board.metric})", caption=legend(board.margin, wide))
    longest = max((len(r.label) for r in board.rows), default=0)
    for column in shown:
        if column.header == "variant":
            out.add_column(column.header, justify="left", no_wrap=True, min_width=max(longest, len(column.header)))
        else:
            out.add_column(column.header, justify="right")
    for r in board.rows:
        out.add_row(*(c.cell(r) for c in shown), style="bold" if r.pareto else None)
    return out


def render(boards: list[Board], fmt: str = "table", wide: bool = False) -> str | list[Table]:
    """``json``/``csv``/``md`` as text (every column); ``table`` as a list of rich Tables, compact unless
    ``wide``."""
    if fmt == "json":
        return _json(boards)
    if fmt == "csv":
        return _csv(boards)
    if fmt == "md":
        return _markdown(boards)
    if fmt == "table":
        return [table(b, wide) for b in boards]
    raise ValueError(f"unknown board format {fmt!r}; choose one of {', '.join(FORMATS)}")


def board_html(board: Board) -> str:
    """The board as an HTML ``<table>`` (every column) with its legend and, when any, the latency flags; escaped."""
    shown = columns(wide=True)
    head = "".join(f"<th>{html.escape(c.header)}</th>" for c in shown)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c.cell(r))}</td>" for c in shown) + "</tr>"
                   for r in board.rows)
    flags = "".join(f"<li>{html.escape(r.label)}: {html.escape(r.latency_flag)}</li>"
                    for r in board.rows if r.latency_flag)
    return (f"<table><tr>{head}</tr>{body}</table><p><small>{html.escape(legend(board.margin))}</small></p>"
            + (f"<details><summary>latency flags</summary><ul>{flags}</ul></details>" if flags else ""))
