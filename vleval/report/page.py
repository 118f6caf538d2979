"""The report page: per board, its table (:func:`vleval.boards.render.board_html`) and its figures
(:mod:`vleval.report.figures`); then the summaries' tables (:func:`vleval.boards.summaries.section_html`)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from vleval.boards import summaries
from vleval.boards.build import Board, ItemReader, build, evaluation_name, nothing_ranked
from vleval.boards.render import board_html
from vleval.boards.summaries import Section, section_html
from vleval.report import figures
from vleval.results.record import Record

STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1400px} table{border-collapse:collapse;font-size:12px}"
         "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} td:first-child{text-align:left}"
         "img{max-width:100%;margin:6px;border:1px solid #eee}"
         ".figs{display:flex;flex-wrap:wrap;align-items:flex-start}")


@dataclass(frozen=True)
class BoardFigures:
    """One board's figure files, by what they show (``None``: nothing to draw)."""

    pareto: Path | None  # accuracy vs p50 latency, with the Pareto front
    drops: Path | None  # source - target drop per variant
    shift: Path | None  # routing shift per layer vs the drop
    latency: Path | None  # per-sample latency distribution per variant
    share: Path | None  # image-token share per layer and expert, a panel per variant


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:80] or "x"


def board_records(records: list[Record], board: Board) -> list[Record]:
    """The successful records ranked on ``board`` (its evaluation and task)."""
    return [r for r in records if r.status == "ok" and evaluation_name(r.evaluation) == board.evaluation
            and (r.task or "") == board.task]


def _share_panels(records: list[Record]) -> list[tuple[Record, str]]:
    """One heatmap panel per variant (its first record): its source, else its data, domain."""
    panels, seen = [], set()
    for r in records:
        if r.label not in seen:
            seen.add(r.label)
            panels.append((r, "source" if "source" in r.domains else "data"))
    return panels


def draw_figures(board: Board, records: list[Record], out: Path) -> BoardFigures:
    """Draw ``board``'s figures into ``out`` (``records``: the board's own, :func:`board_records`)."""
    slug = _slug(board.evaluation)

    def png(kind: str) -> Path:
        return out / f"{slug}-{kind}.png"

    return BoardFigures(pareto=figures.accuracy_vs_latency(board, png("pareto")),
                        drops=figures.drops(board, png("drops")),
                        shift=figures.shift_vs_drop(records, board.metric, png("shift-vs-drop")),
                        latency=figures.latency_distributions(board, records, png("latency")),
                        share=figures.image_share_heatmaps(_share_panels(records), board.evaluation, png("share")))


def _img(path: Path | None, alt: str) -> str:
    return "" if path is None else f'<img src="{html.escape(path.name)}" alt="{html.escape(alt)}">'


def _board_part(board: Board, drawn: BoardFigures) -> str:
    part = (f"<h2>{html.escape(board.evaluation)} <small>({html.escape(board.task)}; "
            f"{html.escape(board.metric)})</small></h2>{board_html(board)}"
            + '<div class="figs">' + _img(drawn.pareto, "accuracy vs latency") + _img(drawn.drops, "drop per variant")
            + _img(drawn.shift, "routing shift vs drop") + _img(drawn.latency, "latency") + "</div>")
    if drawn.share is not None:
        part += "<h3>image-token share per layer and expert</h3>" + _img(drawn.share, "image-token share")
    return part


def build_page(records: list[Record], items: ItemReader | None, out: Path, *, sources: list[Path],
               allow_mixed: bool = False, margin: float = 1.0, boards: list[Board] | None = None,
               sections: list[Section] | None = None) -> Path:
    """Draw every figure into ``out`` and write ``out/index.html``. ``boards`` and ``sections`` (the bootstrap
    verdicts and summaries: most of the time) are computed here unless the caller already has them for these
    records, with the same ``allow_mixed`` and ``margin``."""
    out.mkdir(parents=True, exist_ok=True)
    nothing = nothing_ranked(records)
    if boards is None:
        boards = [] if nothing else build(records, allow_mixed=allow_mixed, items=items, margin=margin)
    if sections is None:
        sections = summaries.sections(records, items)
    parts = [f"<h1>vleval report</h1><p>{len(records)} records from "
             + ", ".join(html.escape(str(s)) for s in sources) + "</p>"]
    if nothing:
        parts.append(f"<p>{html.escape(nothing)}</p>")
    parts += [_board_part(board, draw_figures(board, board_records(records, board), out)) for board in boards]
    parts += [f"<h2>{html.escape(section.title)}</h2>{section_html(section)}" for section in sections
              if not section.empty]
    page = out / "index.html"
    page.write_text(f"<!doctype html><html><head><meta charset=\"utf-8\"><title>vleval report</title>"
                    f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
    return page
