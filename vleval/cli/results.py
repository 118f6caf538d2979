"""Commands over results files: ``vleval leaderboard``, ``validate``, ``compare`` and ``corruptions``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vleval.cli.exit_codes import ExitCode
from vleval.cli.terminal import wide_console


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    board = subparsers.add_parser("leaderboard", help="rank results files")
    board.add_argument("results", nargs="+", help="JSON Lines results files")
    board.add_argument("--format", choices=["table", "md", "csv", "json"], default="table")
    board.add_argument("--allow-mixed", action="store_true",
                       help="rank records whose data hash, metric version or hardware differ")
    board.add_argument("--margin", type=float, default=1.0, help="equivalence margin (metric units) for top-k / "
                       "pruned variants vs their base (default %(default)s)")
    board.add_argument("--wide", action="store_true", help="console table: every column (E, k, active params, the "
                       "intervals of source/target/p50, p90, samples/s); default: the compact board that fits 120 "
                       "columns (md, csv and json always hold every column)")
    board.set_defaults(handler=cmd_leaderboard)

    validate = subparsers.add_parser("validate", help="check results files against result.schema.json")
    validate.add_argument("files", nargs="+")
    validate.set_defaults(handler=cmd_validate)

    compare = subparsers.add_parser("compare", help="compare two variants item by item (paired intervals, named "
                                    "tests), or one variant's target with its source (omit -b)")
    compare.add_argument("results", nargs="+", help="results file(s) holding both records")
    compare.add_argument("-a", required=True, help="variant label (e.g. 'refmoe(experts=4)') or cell-key prefix")
    compare.add_argument("-b", help="the other variant; omit to compare -a's target with its source")
    compare.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    compare.add_argument("--alpha", type=float, default=0.05)
    compare.set_defaults(handler=cmd_compare)
    corr = subparsers.add_parser("corruptions", help="error per corruption and severity, mean, CE and mCE against a "
                          "baseline variant (records of the `corruption` shift)")
    corr.add_argument("results", nargs="+", help="results file(s)")
    corr.add_argument("--baseline", required=True, help="label of the baseline variant, e.g. 'refmoe(experts=1)'")
    corr.add_argument("--metric", help="'metric/key' (default: each record's primary metric)")
    corr.add_argument("--lower-is-better", action="store_true", help="with --metric: lower values are better")
    corr.add_argument("--full-scale", type=float, default=100.0,
                      help="the value meaning no error for a higher-is-better metric (default 100; rsum: 600)")
    corr.set_defaults(handler=cmd_corruptions)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from vleval.boards import build as leaderboard
    from vleval.boards.render import render
    from vleval.results.sidecars import load_results

    if not args.margin > 0:
        print(f"vleval: error: --margin must be a positive number, got {args.margin}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    records, items = load_results([Path(p) for p in args.results])
    nothing = leaderboard.nothing_ranked(records)
    if nothing:
        print(f"vleval: {nothing}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    boards = leaderboard.build(records, allow_mixed=args.allow_mixed, items=items,
                               margin=args.margin)
    out = render(boards, args.format, wide=args.wide)
    if isinstance(out, str):
        print(out)
    else:
        console = wide_console()
        for table in out:
            console.print(table)
    return ExitCode.OK


def cmd_compare(args: argparse.Namespace) -> int:
    from vleval.boards.comparison import render
    from vleval.results.sidecars import SidecarError
    from vleval.stats.compare import CompareError, compare_results

    try:
        results = compare_results(args.results, args.a, args.b, resamples=args.resamples)
    except (CompareError, SidecarError) as exc:
        print(f"vleval: error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    print(render(results, args.alpha))
    return ExitCode.OK


def cmd_validate(args: argparse.Namespace) -> int:
    from vleval.results.store import read_records, validation_errors

    problems = validation_errors(args.files)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        total = sum(1 for path in args.files for _ in read_records(path))
        print(f"{total} records in {len(args.files)} file(s) match result.schema.json")
    return ExitCode.BAD_INPUT if problems else ExitCode.OK


def cmd_corruptions(args: argparse.Namespace) -> int:
    from vleval.boards.corruptions import corruption_tables_rich
    from vleval.results.store import load
    from vleval.stats.corruptions import CorruptionTableError, corruption_tables

    try:
        tables = corruption_tables(load(args.results), args.baseline, metric=args.metric,
                                   higher_is_better=not args.lower_is_better, full_scale=args.full_scale)
    except CorruptionTableError as exc:
        print(f"vleval corruptions: {', '.join(args.results)}: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    console = wide_console()
    for table in corruption_tables_rich(tables):
        console.print(table)
    return ExitCode.OK
