"""The report page: boards as HTML tables, the summaries, and the figures of :mod:`vleval.report.figures`."""

from __future__ import annotations

import html
import re
from functools import partial
from pathlib import Path

from vleval.boards import build as leaderboard
from vleval.boards import summaries as summary
from vleval.report import figures, parallel
from vleval.results.record import Record

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


def _board_records(records: list[Record], evaluation: str, task: str) -> list[Record]:
    return [r for r in records if r.status == "ok" and leaderboard.evaluation_name(r.evaluation) == evaluation
            and (r.task or "") == task]


def _record_figures(records: list[Record], out: Path, key: tuple[str, str, str]) -> list[tuple[figures.Job, float]]:
    """A board's figures that need its records only, not the board (``key``: evaluation, task, metric), with their
    relative costs: routing shift vs drop, and the image-token share heatmaps (one panel per variant: its source,
    else data, domain)."""
    evaluation, task, metric = key
    slug, recs = _slug(evaluation), _board_records(records, evaluation, task)
    panels, seen = [], set()
    for r in recs:
        if r.label not in seen:
            seen.add(r.label)
            panels.append((r, "source" if "source" in r.domains else "data"))
    return [(partial(figures.shift_vs_drop, recs, metric, out / f"{slug}-shift-vs-drop.png"), 0.5),
            (partial(figures.image_share_heatmaps, panels, evaluation, out / f"{slug}-share.png"),
             0.5 * len(panels))]


def start_figures(records: list[Record], out: Path, *, allow_mixed: bool = False) -> parallel.Started | None:
    """Start drawing the figures that need no board (:func:`_record_figures`) into ``out`` in a forked child, while
    the caller computes the boards; pass the result to :func:`build_page` with those boards (the same records,
    ``allow_mixed`` and ``out``). ``None`` when nothing can be started (no board, records not comparable, no fork)."""
    try:
        keys = [(evaluation, task, recs[0].primary_metric.name)
                for (evaluation, task), recs in leaderboard.groups(records, allow_mixed).items()]
    except leaderboard.NotComparable:
        return None
    if not keys:
        return None
    out.mkdir(parents=True, exist_ok=True)
    jobs = [job for key in keys for job in _record_figures(records, out, key)]
    return parallel.start([job for job, _ in jobs], [cost for _, cost in jobs], prepare=figures.prepare,
                          tag=(out, keys))


def build_page(records: list[Record], items: object, out: Path, *, sources: list[Path], allow_mixed: bool = False,
               margin: float = 1.0, boards: list[leaderboard.Board] | None = None,
               sections: list[tuple[str, list[str]]] | None = None, started: parallel.Started | None = None) -> Path:
    """Draw every figure into ``out`` and write ``out/index.html``. ``boards`` and ``sections`` (the bootstrap
    verdicts and summaries: most of the time) are computed here unless the caller already has them for these
    records, with the same ``allow_mixed`` and ``margin``; ``started``: :func:`start_figures` of these records."""
    out.mkdir(parents=True, exist_ok=True)
    nothing = leaderboard.nothing_ranked(records)
    if boards is None:
        boards = [] if nothing else leaderboard.build(records, allow_mixed=allow_mixed, items=items, margin=margin)
    if sections is None:  # before the figures: while a started child draws
        sections = summary.sections(records, items)
    parts = [f"<h1>vleval report</h1><p>{len(records)} records from "
             + ", ".join(html.escape(str(s)) for s in sources) + "</p>"]
    if nothing:
        parts.append(f"<p>{html.escape(nothing)}</p>")
    keys = [(board.evaluation, board.task, board.metric) for board in boards]
    if started is not None and started.tag != (out, keys):  # not these boards' figures: drawn again here
        started.cancel()
        started = None
    # every figure with its relative cost (to share them out evenly; measured on the default benchmark, unit
    # ~0.1 s), drawn below, in two processes where possible: first those needing no board (unless started already)
    early = [] if started is not None else [job for key in keys for job in _record_figures(records, out, key)]
    jobs: list[tuple[figures.Job, float]] = []
    for board in boards:
        slug = _slug(board.evaluation)
        recs = _board_records(records, board.evaluation, board.task)
        jobs += [(partial(figures.accuracy_vs_latency, board, out / f"{slug}-pareto.png"), 1.2),
                 (partial(figures.drops, board, out / f"{slug}-drops.png"), 0.85),
                 (partial(figures.latency_distributions, board, recs, out / f"{slug}-latency.png"), 1.0)]
    drawn = parallel.run([job for job, _ in early + jobs], [cost for _, cost in early + jobs],
                         prepare=figures.prepare, started=started)  # started: its results first
    for b, board in enumerate(boards):  # per board: 2 figures needing no board, then 3 of the board's
        shift, share = drawn[2 * b], drawn[2 * b + 1]
        pareto, drops, latency = drawn[2 * len(boards) + 3 * b:2 * len(boards) + 3 * b + 3]
        parts.append(f"<h2>{html.escape(board.evaluation)} <small>({html.escape(board.task)}; "
                     f"{html.escape(board.metric)})</small></h2>{_table(board)}")
        parts.append('<div class="figs">' + "".join(_img(path, alt) for path, alt in (
            (pareto, "accuracy vs latency"), (drops, "drop per variant"), (shift, "routing shift vs drop"),
            (latency, "latency"))) + "</div>")
        if share is not None:
            parts.append("<h3>image-token share per layer and expert</h3>" + _img(share, "image-token share"))
    for title, lines in sections:
        if lines:
            parts.append(f"<h2>{html.escape(title)}</h2><pre>{html.escape(chr(10).join(lines))}</pre>")
    page = out / "index.html"
    page.write_text(f"<!doctype html><html><head><meta charset=\"utf-8\"><title>vleval report</title>"
                    f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
    return page
