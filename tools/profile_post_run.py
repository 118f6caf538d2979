"""Time what ``vleval run`` does after its cells, on an existing results file.

    python tools/profile_post_run.py RESULTS.jsonl [--repeat 3] [--profile STATS] [--top 25]

Steps, each in seconds, in the order ``vleval run`` takes them (``vleval.cli.console.print_report``, then
``vleval.report.write_report`` with the boards and summaries already computed):

- ``imports``: the modules of those two steps (rich, numpy, matplotlib, vleval's boards, stats and report; scipy's
  parts are imported by the step that first needs them);
- ``load``: the records (``vleval.results.store.load``, no schema check, as after a run) and the per-item reader;
- ``boards``: ``vleval.boards.build.build`` (bootstraps, TOST, Holm, replicate pooling; reads the sidecars);
- ``render``: the boards as rich tables (``vleval.boards.render.render``), printed to a discarded console;
- ``summaries``: ``vleval.boards.summaries.sections`` (Q1, Q2, routing analytics with flip AUC; reads the sidecars);
- ``report``: the HTML report and its figures into a temporary directory;
- ``total``: the sum.

Each repeat runs in a fresh interpreter (caches and imports start cold, as in a run); medians are printed.
``--profile`` writes cProfile stats of one more repeat and prints its top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = ("imports", "load", "boards", "render", "summaries", "report")


def _once(results: Path, out: Path) -> dict[str, float]:
    """Run the post-cell steps once in this interpreter; seconds per step."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = now - clock
        clock = now

    from rich.console import Console

    from vleval.boards.build import build
    from vleval.boards.render import render
    from vleval.boards.summaries import sections
    from vleval.report import write_report
    from vleval.results import sidecars
    from vleval.results.store import load

    lap("imports")
    records = load([results], validate=False)
    items = sidecars.reader({r.cell_key: results for r in records})
    lap("load")
    boards = build(records, items=items)
    lap("boards")
    console = Console(file=io.StringIO(), width=250)
    for table in render(boards):
        console.print(table)
    lap("render")
    summaries = sections(records, items)
    lap("summaries")
    write_report(results, out, boards=boards, sections=summaries)
    lap("report")
    seconds["total"] = sum(seconds[s] for s in STEPS)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a results file written by `vleval run` (with its sidecars)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh interpreters to time (default 3)")
    parser.add_argument("--profile", type=Path, default=None, help="also write cProfile stats of one repeat here")
    parser.add_argument("--top", type=int, default=25, help="functions to list with --profile (default 25)")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)  # one repeat, JSON on stdout
    args = parser.parse_args()
    if not args.results.is_file():
        parser.error(f"results file not found: {args.results}")
    if args.once:
        with tempfile.TemporaryDirectory(prefix="vleval-post-run-") as out:
            print(json.dumps(_once(args.results, Path(out))))
        return 0
    runs = []
    for _ in range(max(1, args.repeat)):
        done = subprocess.run([sys.executable, __file__, str(args.results), "--once"], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for step in (*STEPS, "total"):
        values = [run[step] for run in runs]
        print(f"{step:<10} median {statistics.median(values):6.2f} s  (runs: "
              + ", ".join(f"{v:.2f}" for v in values) + ")")
    if args.profile:
        import cProfile
        import pstats

        with tempfile.TemporaryDirectory(prefix="vleval-post-run-") as out:
            cProfile.runctx("_once(results, out)", globals(), {"results": args.results, "out": Path(out)},
                            str(args.profile))
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
