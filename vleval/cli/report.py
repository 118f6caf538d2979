"""``vleval report`` (a static HTML page with figures) and ``vleval summary`` (the Q1/Q2 research summaries)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vleval.cli.exit_codes import ExitCode


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``vleval report`` and ``vleval summary``."""
    report = subparsers.add_parser("report", help="write a static HTML report with figures from results files")
    report.add_argument("results", nargs="+", help="JSON Lines results files")
    report.add_argument("-o", "--output", required=True, help="directory for index.html and its figures")
    report.add_argument("--allow-mixed", action="store_true", help="rank records that are not comparable")
    report.add_argument("--margin", type=float, default=1.0,
                        help="equivalence margin for scaled variants vs their base, metric units (default 1.0)")
    report.set_defaults(handler=main_report)
    summ = subparsers.add_parser("summary", help="print the Q1/Q2 research summaries of results files")
    summ.add_argument("results", nargs="+", help="JSON Lines results files")
    summ.set_defaults(handler=main_summary)


def _missing(paths: list[str]) -> str | None:
    absent = [p for p in paths if not Path(p).is_file()]
    return f"vleval: error: results file not found: {', '.join(absent)}" if absent else None


def main_report(args: argparse.Namespace) -> int:
    from vleval.report import write_report
    from vleval.results.sidecars import SidecarError

    if _missing(args.results):
        print(_missing(args.results), file=sys.stderr)
        return ExitCode.BAD_INPUT
    if args.margin <= 0 or args.margin != args.margin:
        print(f"vleval: error: --margin must be a positive number, got {args.margin}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        page = write_report([Path(p) for p in args.results], Path(args.output), allow_mixed=args.allow_mixed,
                            margin=args.margin)
    except SidecarError as exc:
        print(f"vleval: error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    print(f"report: {page}")
    return ExitCode.OK


def main_summary(args: argparse.Namespace) -> int:
    from vleval.boards.summaries import section_text, sections
    from vleval.results.sidecars import SidecarError, load_results

    if _missing(args.results):
        print(_missing(args.results), file=sys.stderr)
        return ExitCode.BAD_INPUT
    records, items = load_results([Path(p) for p in args.results])
    if not any(r.status == "ok" for r in records):
        print(f"vleval: no ok record in {', '.join(args.results)}: nothing to summarize", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        for section in sections(records, items):
            if not section.empty:
                print(f"\n{section.title}")
                print("\n".join(section_text(section)))
    except SidecarError as exc:
        print(f"vleval: error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    return ExitCode.OK
