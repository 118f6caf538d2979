"""The research summaries as typed data: :class:`Section` → :class:`SummaryTable` (named columns, typed rows,
note lines), and their two renderings: the console text (:func:`section_text`) and HTML tables
(:func:`section_html`). The builders: :mod:`vleval.boards.scaling`, :mod:`vleval.boards.specialization`,
:mod:`vleval.boards.routing_summary`.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

from vleval.boards.comparability import evaluation_name
from vleval.results.record import Record
from vleval.stats.correlation import Correlation

INDENT = "  "  # rows and notes under a table's heading line


class SummaryRow(Protocol):
    """A typed row of a summary table: its console lines and its HTML cells (one per column)."""

    def text(self) -> list[str]: ...

    def cells(self) -> list[str]: ...


@dataclass
class SummaryTable:
    heading: str  # the table's first console line: the evaluation, the metric and what each row shows
    columns: list[str]
    rows: list[SummaryRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # conclusions under the rows (best, fastest, correlations)


@dataclass
class Section:
    title: str
    tables: list[SummaryTable] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to show (no evaluation this summary applies to)."""
        return not self.tables

    def __bool__(self) -> bool:
        return not self.empty


def section_text(section: Section) -> list[str]:
    """The section's console lines (without its title), as ``vleval run`` and ``vleval summary`` print them."""
    lines = []
    for t in section.tables:
        lines.append(t.heading)
        lines += [line for row in t.rows for line in row.text()]
        lines += [INDENT + note for note in t.notes]
    return lines


def section_html(section: Section) -> str:
    """The section's tables as HTML (without its title): per table its heading, a ``<table class="summary">``
    with named columns, and its notes; escaped."""
    parts = []
    for t in section.tables:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row.cells()) + "</tr>"
                       for row in t.rows)
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in t.notes)
        parts.append(f"<h3>{html.escape(t.heading)}</h3><table class=\"summary\"><tr>{head}</tr>{body}</table>"
                     + (f"<ul>{notes}</ul>" if notes else ""))
    return "".join(parts)


def num(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``, ``-`` when missing."""
    return "-" if value is None else format(value, spec)


def correlation_text(c: Correlation) -> str:
    return f"r = {c.r:+.2f} [{c.low:+.2f}, {c.high:+.2f}]"


def shift_groups(records: list[Record], task: str) -> dict[str, list[Record]]:
    """The ok shift records of ``task`` by evaluation (and seed and batch size when those vary): only like is
    compared."""
    chosen = [r for r in records if r.status == "ok" and r.task == task and "target" in r.domains
              and "source" in r.domains and r.primary_metric]
    several = len({(r.seed, r.batch_size) for r in chosen}) > 1
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in chosen:
        key = evaluation_name(r.evaluation)
        if several:
            key += f" seed={r.seed} batch={r.batch_size}"
        groups[key].append(r)
    return groups
