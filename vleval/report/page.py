"""The report page: boards as HTML tables, the summaries, and the figures of :mod:`vleval.report.figures`."""

from __future__ import annotations

import html
import re
from functools import partial
from pathlib import Path

from vleval import leaderboard, summary
from vleval.record import Record
from vleval.report import figures, parallel

STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1400px} table{border-collapse:collapse;font-size:12px}"
         "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} td:first-child{text-align:left}"
         "img{max-width:100%;margin:6px;border:1px solid #eee} pre{font-size:12px;white-space:pre-wrap}"
         ".figs{display:flex;flex-wrap:wrap;align-items:flex-start}")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:80] or "x"


def _table(board: leaderboard.Board) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in leaderboard.HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(leaderboard._cell(getattr(r, c), c, r))}</td>"
                                    for c in leaderboard.COLUMNS) + "</tr>" for r in board.rows)
    flags = "".join(f"<li>{html.escape(r.label)}: {html.escape(r.latency_flag)}</li>"
                    for r in board.rows if r.latency_flag)
    legend = html.escape(leaderboard.LEGEND.format(margin=board.margin))
    return (f"<table><tr>{head}</tr>{body}</table><p><small>{legend}</small></p>"
            + (f"<details><summary>latency flags</summary><ul>{flags}</ul></details>" if flags else ""))


def _img(path: Path | None, alt: str) -> str:
    return "" if path is None else f'<img src="{html.escape(path.name)}" alt="{html.escape(alt)}">'


def build_page(records: list[Record], items: object, out: Path, *, sources: list[Path], allow_mixed: bool = False,
               margin: float = 1.0, boards: list[leaderboard.Board] | None = None,
               sections: list[tuple[str, list[str]]] | None = None) -> Path:
    """Draw every figure into ``out`` and write ``out/index.html``. ``boards`` and ``sections`` (the bootstrap
    verdicts and summaries: most of the time) are computed here unless the caller already has them for these
    records, with the same ``allow_mixed`` and ``margin``."""
    out.mkdir(parents=True, exist_ok=True)
    nothing = leaderboard.nothing_ranked(records)
    if boards is None:
        boards = [] if nothing else leaderboard.build(records, allow_mixed=allow_mixed, items=items, margin=margin)
    parts = [f"<h1>vleval report</h1><p>{len(records)} records from "
             + ", ".join(html.escape(str(s)) for s in sources) + "</p>"]
    if nothing:
        parts.append(f"<p>{html.escape(nothing)}</p>")
    # every figure with its relative cost (to share them out evenly; measured on the default benchmark, unit
    # ~0.1 s), drawn below, in two processes where possible
    jobs: list[tuple[figures.Job, float]] = []
    layout: list[tuple[str, list[tuple[int, str]], int]] = []  # per board: table, its figures' jobs, heatmap's
    for board in boards:
        slug = _slug(board.evaluation)
        recs = [r for r in records if r.status == "ok" and leaderboard.evaluation_name(r.evaluation)
                == board.evaluation and (r.task or "") == board.task]
        table = (f"<h2>{html.escape(board.evaluation)} <small>({html.escape(board.task)}; "
                 f"{html.escape(board.metric)})</small></h2>{_table(board)}")
        shown = []
        for job, alt, cost in ((partial(figures.accuracy_vs_latency, board, out / f"{slug}-pareto.png"),
                                "accuracy vs latency", 1.3),
                               (partial(figures.drops, board, out / f"{slug}-drops.png"), "drop per variant", 0.9),
                               (partial(figures.shift_vs_drop, recs, board.metric, out / f"{slug}-shift-vs-drop.png"),
                                "routing shift vs drop", 0.6),
                               (partial(figures.latency_distributions, board, recs, out / f"{slug}-latency.png"),
                                "latency", 2.8)):
            shown.append((len(jobs), alt))
            jobs.append((job, cost))
        panels, seen = [], set()
        for r in recs:  # one panel per variant: its source (else data) domain
            if r.label not in seen:
                seen.add(r.label)
                panels.append((r, "source" if "source" in r.domains else "data"))
        layout.append((table, shown, len(jobs)))
        jobs.append((partial(figures.image_share_heatmaps, panels, board.evaluation, out / f"{slug}-share.png"),
                     1.0 + len(panels) / 6))
    drawn = parallel.run([job for job, _ in jobs], [weight for _, weight in jobs], prepare=figures.prepare)
    for table, shown, share in layout:
        parts.append(table)
        parts.append('<div class="figs">' + "".join(_img(drawn[i], alt) for i, alt in shown) + "</div>")
        if drawn[share] is not None:
            parts.append("<h3>image-token share per layer and expert</h3>" + _img(drawn[share], "image-token share"))
    for title, lines in summary.sections(records, items) if sections is None else sections:
        if lines:
            parts.append(f"<h2>{html.escape(title)}</h2><pre>{html.escape(chr(10).join(lines))}</pre>")
    page = out / "index.html"
    page.write_text(f"<!doctype html><html><head><meta charset=\"utf-8\"><title>vleval report</title>"
                    f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
    return page
