"""Rich output for runs: progress bars while cells run, then the leaderboard and the research summaries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vleval.boards import build as leaderboard
from vleval.boards import summaries as summary
from vleval.executors.runner import Progress as RunnerProgress
from vleval.executors.runner import RunSummary
from vleval.results.record import Record


class RichProgress(RunnerProgress):
    """Two bars: cells of the benchmark, and samples of the pass in flight."""

    def __init__(self, console: Console):
        self.console = console
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=console, transient=False)
        self._cells = self._samples = None

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


def print_report(console: Console, run: RunSummary, seconds: float,
                 loaded: Callable[[list[Record]], object] | None = None) -> tuple[list, list[tuple[str, list[str]]]]:
    """The leaderboard and both summaries over every record of the results file (resumed ones too); returns the
    boards and summary sections (the HTML report reuses them rather than computing the bootstraps again).
    ``loaded`` gets the records before the boards are computed (:mod:`vleval.cli.post_run` starts figures then)."""
    from vleval.results import sidecars as item_results
    from vleval.results.store import load

    records = load([run.path], validate=False) if run.path.exists() else run.results
    if loaded is not None:
        loaded(records)
    if run.quarantined:
        console.print(f"[yellow]a torn last line (a run killed mid-write) was moved to {run.quarantined}[/]")
    if run.repaired:
        console.print(f"[yellow]--repair: {run.repaired[1]} bad line(s) of {run.path} moved to {run.repaired[0]}[/]")
    if run.moved_aside:
        console.print(f"[yellow]the earlier results file was moved aside to {run.moved_aside} "
                      "(use --resume to continue a run instead)[/]")
    boards: list = []
    items = item_results.reader({r.cell_key: run.path for r in records})  # one reader: each sidecar read once
    try:
        boards = leaderboard.build(records, items=items)
        for table in leaderboard.render(boards):
            console.print(table)
    except leaderboard.NotComparable as exc:
        console.print(f"[yellow]{exc}[/]")
    sections = summary.sections(records, items)
    for title, lines in sections:
        if lines:
            console.print(f"\n[bold]{title}[/]")
            for line in lines:
                console.print(line, highlight=False, markup=False)
    status = {s: sum(r.status == s for r in run.results) for s in ("ok", "skipped", "failed")}
    console.print(f"\n{len(run.results)} cells run ({status['ok']} ok, {status['skipped']} skipped, "
                  f"{status['failed']} failed), {run.resumed} resumed; records: {run.path}; "
                  f"wall time {seconds:.1f} s")
    return boards, sections
