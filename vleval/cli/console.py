"""The console of a run: progress bars while cells run (one line per worker on Ray), then the leaderboard and the
research summaries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from vleval.boards.build import Board, NotComparable, build
from vleval.boards.render import render
from vleval.boards.summaries import Section, section_text, sections
from vleval.engine.progress import Progress as RunProgress
from vleval.executors.runner import RunSummary
from vleval.results import sidecars
from vleval.results.record import Record
from vleval.results.store import load


class RichProgress(RunProgress):
    """Two bars: cells of the benchmark, and samples of the pass in flight (a Ray worker's count of cells done:
    the interface's no-op; :class:`WorkerProgress` shows it)."""

    def __init__(self, console: Console):
        self.console = console
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=console, transient=False)
        self._cells: Any = None  # the bars' task ids once added
        self._samples: Any = None

    def __enter__(self) -> RichProgress:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bars.__exit__(*exc)

    def start(self, cells: int) -> None:
        self._cells = self.bars.add_task("cells", total=cells)

    def cell(self, label: str) -> None:
        self.bars.update(self._cells, description=f"cells [cyan]{label}[/]")

    def samples(self, total: int, description: str) -> Callable[[int], None]:
        if self._samples is not None:
            self.bars.remove_task(self._samples)
        self._samples = self.bars.add_task(f"  {description}", total=total)
        return lambda n: self.bars.advance(self._samples, n)

    def cell_done(self, record: Record) -> None:
        self.bars.advance(self._cells)
        if record.status == "failed":
            self.console.print(f"[red]FAILED[/] {record.label} on {record.evaluation['name']}: "
                               f"{record.error['type']}: {record.error['message']}")
        elif record.status == "skipped":
            self.console.print(f"[yellow]skipped[/] {record.label}: {record.skip_reason}")


class WorkerProgress(RichProgress):
    """:class:`RichProgress` plus a line per Ray worker (``ip:pid``) with the cells it has done."""

    def __init__(self, console: Console):
        super().__init__(console)
        self._workers: dict[str, TaskID] = {}

    def worker_done(self, worker: str, done: int) -> None:
        if worker not in self._workers:
            self._workers[worker] = self.bars.add_task("", total=None)
        self.bars.update(self._workers[worker], description=f"  worker {worker}: {done} cell(s) done",
                         completed=done)


def _print_notes(console: Console, run: RunSummary) -> None:
    """What the run did to the results file on the way (a torn line, repaired lines, an earlier file moved)."""
    if run.quarantined:
        console.print(f"[yellow]a torn last line (a run killed mid-write) was moved to {run.quarantined}[/]")
    if run.repaired:
        console.print(f"[yellow]--repair: {run.repaired[1]} bad line(s) of {run.path} moved to {run.repaired[0]}[/]")
    if run.moved_aside:
        console.print(f"[yellow]the earlier results file was moved aside to {run.moved_aside} "
                      "(use --resume to continue a run instead)[/]")


def print_report(console: Console, run: RunSummary, seconds: float) -> tuple[list[Board], list[Section]]:
    """The leaderboard and the summaries over every record of the results file (resumed ones too), then a line
    on the run; returns the boards and summary sections (the HTML report reuses them rather than computing the
    bootstraps again)."""
    records = load([run.path], validate=False) if run.path.exists() else run.results
    _print_notes(console, run)
    boards: list[Board] = []
    items = sidecars.reader({r.cell_key: run.path for r in records})  # one reader: each sidecar read once
    try:
        boards = build(records, items=items)
        for table in render(boards):
            console.print(table)
    except NotComparable as exc:
        console.print(f"[yellow]{exc}[/]")
    summaries = sections(records, items)
    for section in summaries:
        if not section.empty:
            console.print(f"\n[bold]{section.title}[/]")
            for line in section_text(section):
                console.print(line, highlight=False, markup=False)
    status = {s: sum(r.status == s for r in run.results) for s in ("ok", "skipped", "failed")}
    console.print(f"\n{len(run.results)} cells run ({status['ok']} ok, {status['skipped']} skipped, "
                  f"{status['failed']} failed), {run.resumed} resumed; records: {run.path}; "
                  f"wall time {seconds:.1f} s")
    return boards, summaries
