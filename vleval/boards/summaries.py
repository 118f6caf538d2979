"""Short answers to the two research questions, computed from the records of a run: one :class:`Section` each
(typed tables, :mod:`vleval.boards.summary_tables`), printed with :func:`section_text` (the console) or
:func:`section_html` (the report).

Records are grouped by evaluation (shift name and arguments), seed and batch size, so that only like is compared.
Correlations over a handful of variants are weak evidence; each comes with its 95 % interval (Fisher z).
"""

from __future__ import annotations

from vleval.boards.routing_summary import ItemReader, routing_analytics
from vleval.boards.scaling import expert_scaling
from vleval.boards.specialization import specialization
from vleval.boards.summary_tables import Section, SummaryTable, section_html, section_text
from vleval.results.record import Record

__all__ = ["Section", "SummaryTable", "expert_scaling", "routing_analytics", "section_html", "section_text",
           "sections", "specialization"]


def sections(records: list[Record], items: ItemReader | None = None) -> list[Section]:
    """Every summary (Q1 expert scaling per shift, Q2 specialization, Q2 routing analytics), in order; a section
    with nothing to show is :attr:`~Section.empty`."""
    return [expert_scaling(records), specialization(records), routing_analytics(records, items)]
