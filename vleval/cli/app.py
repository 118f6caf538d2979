"""The ``vleval`` command line. Imports nothing heavy until a subcommand needs it."""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED_CELLS, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        args = parser.parse_args(["run", *(argv or sys.argv[1:])])
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted; records written so far are kept (use --resume to continue)", file=sys.stderr)
        return 130
    except Exception as exc:
        from vleval.boards.build import NotComparable
        from vleval.config.load import ConfigError
        from vleval.registry.discovery import PluginError
        from vleval.results.store import ResultsFileError

        if isinstance(exc, ConfigError | PluginError | NotComparable | ResultsFileError):
            print(f"vleval: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, OSError):  # the environment (permissions, full disk, ...), not a bug: no traceback
            print(f"vleval: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vleval", description="Evaluate Mixture-of-Experts vision-language models: accuracy vs latency as "
        "experts scale, routing specialization, and how both change under data shifts.")
    from vleval import __version__

    parser.add_argument("--version", action="version", version=f"vleval {__version__}")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run a benchmark from benchmarks.toml (default: the file's default), or an "
                         "ad-hoc one from --model/--dataset/--shift")
    run.add_argument("benchmark", nargs="?", help="benchmark name in the config file")
    run.add_argument("-c", "--config", default="benchmarks.toml", help="benchmarks file (default: %(default)s)")
    run.add_argument("-o", "--output", default="results", help="directory for <benchmark>.jsonl (default: %(default)s)")
    run.add_argument("--resume", action="store_true", help="skip cells already complete in the results file")
    run.add_argument("--repair", action="store_true", help="with --resume: move bad lines of the results file to "
                     "a quarantine file next to it (default: refuse and change nothing)")
    run.add_argument("--no-report", action="store_true", help="do not write the HTML report "
                     "(default: RESULTS.report/index.html beside the results file)")
    run.add_argument("--in-process", action="store_true", help="run cells in this process (e.g. under a debugger): "
                     "no cell_timeout_s, and a crashing plugin ends the run (default: a worker process)")
    run.add_argument("--executor", choices=["local", "ray"], default="local", help="where cells run: local (a "
                     "worker process, or this one with --in-process) or ray (Ray tasks on a cluster; pip install "
                     "'vleval[ray]'; see docs/ray.md) (default: %(default)s)")
    run.add_argument("--address", help="with --executor ray: the cluster's address (default: RAY_ADDRESS, else a "
                     "cluster started by `ray start` on this machine, else a local one for this run)")
    run.add_argument("--max-retries", type=int, help="with --executor ray: tries after a worker or node is lost "
                     "mid-cell (default: the benchmark's max_retries, else 1)")
    run.add_argument("--exclusive-latency", action=argparse.BooleanOptionalAction, default=None,
                     help="with --executor ray: cells that measure latency hold a whole node (default: the "
                     "benchmark's exclusive_latency, else off)")
    adhoc = run.add_argument_group("ad-hoc run (no config file needed)")
    adhoc.add_argument("--model", help="model plugin name")
    adhoc.add_argument("--model-args", help="k=v,... passed to the model factory")
    adhoc.add_argument("--dataset", action="append", default=[], help="dataset plugin name (repeatable)")
    adhoc.add_argument("--dataset-args", action="append", default=[], help="k=v,... for the matching --dataset")
    adhoc.add_argument("--shift", action="append", default=[], help="shift plugin name (repeatable)")
    adhoc.add_argument("--shift-args", action="append", default=[], help="k=v,... for the matching --shift")
    adhoc.add_argument("--metrics", help="comma-separated metric names (default: the task's own metrics first, "
                       "then any other registered for the task; the first is the primary one)")
    adhoc.add_argument("--top-k", type=int, help="inference-time top-k override")
    adhoc.add_argument("--prune-to", type=int, help="prune each MoE layer to its N most loaded experts")
    adhoc.add_argument("--limit", type=int, help="at most N items per domain")
    adhoc.add_argument("--batch-size", type=int, default=32)
    adhoc.add_argument("--seed", type=int, default=0)
    run.set_defaults(handler=cmd_run)

    plugins = sub.add_parser("plugins", help="list installed plugins (and broken ones)")
    plugins.add_argument("--json", action="store_true")
    plugins.add_argument("-v", "--verbose", action="store_true",
                         help="also show each factory's arguments and defaults (imports every factory)")
    plugins.set_defaults(handler=cmd_plugins)

    board = sub.add_parser("leaderboard", help="rank results files")
    board.add_argument("results", nargs="+", help="JSON Lines results files")
    board.add_argument("--format", choices=["table", "md", "csv", "json"], default="table")
    board.add_argument("--allow-mixed", action="store_true",
                       help="rank records whose data hash, metric version or hardware differ")
    board.add_argument("--margin", type=float, default=1.0, help="equivalence margin (metric units) for top-k / "
                       "pruned variants vs their base (default %(default)s)")
    board.set_defaults(handler=cmd_leaderboard)

    validate = sub.add_parser("validate", help="check results files against result.schema.json")
    validate.add_argument("files", nargs="+")
    validate.set_defaults(handler=cmd_validate)

    compare = sub.add_parser("compare", help="compare two variants item by item (paired intervals, named tests), or "
                             "one variant's target with its source (--drop)")
    compare.add_argument("results", nargs="+", help="results file(s) holding both records")
    compare.add_argument("-a", required=True, help="variant label (e.g. 'refmoe(experts=4)') or cell-key prefix")
    compare.add_argument("-b", help="the other variant; omit to compare -a's target with its source")
    compare.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    compare.add_argument("--alpha", type=float, default=0.05)
    compare.set_defaults(handler=cmd_compare)
    corr = sub.add_parser("corruptions", help="error per corruption and severity, mean, CE and mCE against a "
                          "baseline variant (records of the `corruption` shift)")
    corr.add_argument("results", nargs="+", help="results file(s)")
    corr.add_argument("--baseline", required=True, help="label of the baseline variant, e.g. 'refmoe(experts=1)'")
    corr.add_argument("--metric", help="'metric/key' (default: each record's primary metric)")
    corr.add_argument("--lower-is-better", action="store_true", help="with --metric: lower values are better")
    corr.add_argument("--full-scale", type=float, default=100.0,
                      help="the value meaning no error for a higher-is-better metric (default 100; rsum: 600)")
    corr.set_defaults(handler=cmd_corruptions)
    from vleval.cli.report import add_parser as add_report_parsers

    add_report_parsers(sub)  # report, summary
    return parser


def wide_console():
    """A rich console; when output is not a terminal (logs, CI), wide enough that tables never truncate."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def cmd_corruptions(args: argparse.Namespace) -> int:
    from vleval.results.store import load
    from vleval.stats.corruptions import CorruptionTableError, print_corruption_table

    try:
        print_corruption_table(load(args.results), args.baseline, wide_console(), metric=args.metric,
                               higher_is_better=not args.lower_is_better, full_scale=args.full_scale)
    except CorruptionTableError as exc:
        print(f"vleval corruptions: {', '.join(args.results)}: {exc}", file=sys.stderr)
        return EXIT_FAILED_CELLS
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    from vleval.registry.discovery import Registry

    registry = Registry.discover()
    rows = [{"kind": r.kind, "name": r.name, "version": r.version, "distribution": r.distribution,
             "plugin": r.plugin, "description": r.description} for r in registry.all()]
    if args.verbose:
        for row, reg in zip(rows, registry.all(), strict=True):
            row["arguments"] = factory_arguments(reg)
    conflicts = [{"kind": kind, "name": name, "registered_by": [f"{r.distribution} ({r.plugin})" for r in regs]}
                 for (kind, name), regs in registry.conflicts.items()]
    broken = [{"plugin": b.plugin, "distribution": b.distribution, "error": b.error} for b in registry.broken]
    if args.json:
        import json

        print(json.dumps({"plugins": rows, "broken": broken, "conflicts": conflicts}, indent=2))
    else:
        from rich.table import Table

        table = Table(title="vleval plugins")
        for column in ("kind", "name", "version", "distribution", "description", *(["arguments"] * args.verbose)):
            table.add_column(column)
        for row in rows:
            shown = [format_arguments(row["arguments"])] if args.verbose else []
            table.add_row(row["kind"], row["name"], row["version"], row["distribution"], row["description"], *shown)
        for row in broken:
            table.add_row("[red]broken[/]", row["plugin"], "", row["distribution"], f"[red]{row['error']}[/]")
        for row in conflicts:
            table.add_row(f"[red]{row['kind']}[/]", row["name"], "", " & ".join(row["registered_by"]),
                          "[red]duplicate name: unusable until one is uninstalled[/]")
        wide_console().print(table)
    return EXIT_FAILED_CELLS if broken or conflicts else EXIT_OK


def factory_arguments(reg: Any) -> list[dict[str, Any]] | str:
    """A registration's factory arguments, ``[{"name", "default"?}]`` (no ``default``: required), read from the
    signature of the factory its lazy loader imports; an error string when it cannot be imported or inspected."""
    import inspect
    import json

    from vleval.registry.discovery import PluginError

    try:
        parameters = inspect.signature(reg.load()).parameters.values()
    except (PluginError, TypeError, ValueError) as exc:
        return f"unavailable: {exc}"
    out: list[dict[str, Any]] = []
    for p in parameters:
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        entry: dict[str, Any] = {"name": prefix + p.name}
        if p.default is not p.empty:
            try:
                entry["default"] = json.loads(json.dumps(p.default))
            except (TypeError, ValueError):
                entry["default"] = repr(p.default)
        out.append(entry)
    return out


def format_arguments(arguments: list[dict[str, Any]] | str) -> str:
    """``name=default`` per argument (required ones bare), or the error string."""
    if isinstance(arguments, str):
        return arguments
    return ", ".join(a["name"] + (f"={a['default']!r}" if "default" in a else "") for a in arguments) or "-"


def _adhoc(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    from vleval.config.load import ConfigError, parse_kv

    def refs(names: list[str], arg_texts: list[str], flag: str) -> list[dict[str, Any]]:
        if len(arg_texts) > len(names):
            raise ConfigError(f"more --{flag}-args than --{flag} options")
        return [{"name": n, "args": parse_kv(arg_texts[i] if i < len(arg_texts) else None, f"--{flag}-args")}
                for i, n in enumerate(names)]

    scaling = {k: v for k, v in (("top_k", args.top_k), ("prune_to", args.prune_to)) if v is not None}
    bench: dict[str, Any] = {
        "models": [{"name": args.model, "args": parse_kv(args.model_args, "--model-args"),
                    **({"scaling": [scaling]} if scaling else {})}],
        "seeds": [args.seed], "batch_sizes": [args.batch_size],
    }
    if args.dataset:
        bench["datasets"] = refs(args.dataset, args.dataset_args, "dataset")
    if args.shift:
        bench["shifts"] = refs(args.shift, args.shift_args, "shift")
    if not (args.dataset or args.shift):
        raise ConfigError("an ad-hoc run (--model) needs at least one --dataset or --shift")
    if args.metrics:
        bench["metrics"] = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if args.limit is not None:
        bench["limit"] = args.limit
    return "adhoc", bench


def cmd_run(args: argparse.Namespace) -> int:
    worker = _early_worker(args)  # first: its imports (torch: ~1.5 s) overlap all that follows until the cells
    try:
        return _run(args, worker)
    finally:
        if worker is not None:  # closed by the run already, unless it stopped before (e.g. a bad config)
            worker.close()


def _early_worker(args: argparse.Namespace) -> Any:
    """The local worker process of an isolated run, launched; ``None`` for ``--in-process`` and Ray runs."""
    if args.in_process or args.executor == "ray":
        return None
    from vleval.executors.worker import Isolated

    worker = Isolated()
    worker.launch()
    return worker


def _run(args: argparse.Namespace, worker: Any) -> int:
    from vleval.cli.console import RichProgress
    from vleval.config import load as config
    from vleval.engine.tested import warning
    from vleval.executors.runner import run_benchmark

    console = wide_console()
    start = time.perf_counter()
    untested = warning()
    if untested:
        print(untested, file=sys.stderr)
    if args.model:
        (name, bench), validated = _adhoc(args), False
    else:  # load_file checks the file against the schema; the runner does not check it again
        data = config.load_file(args.config)
        (name, bench), validated = config.select(data, args.benchmark, args.config), True
    ray = _ray_options(args)
    if ray is not None:  # cells done per worker
        from vleval.cli.ray_progress import WorkerProgress

        bars: RichProgress = WorkerProgress(console)
    else:
        bars = RichProgress(console)
    with bars as progress:
        summary = run_benchmark(name, bench, Path(args.output), resume=args.resume, progress=progress,
                                validated=validated, repair=args.repair,
                                isolate=worker or not args.in_process, ray=ray,
                                meanwhile=partial(_warm_up, args))
    from vleval.cli.console import print_report
    from vleval.cli.post_run import PostRun

    seconds = time.perf_counter() - start
    with PostRun(None if args.no_report else summary.path) as post:  # figures drawn while the boards are computed
        boards, sections = print_report(console, summary, seconds, loaded=post.loaded)
        if not args.no_report:
            _write_report(console, summary.path, boards, sections, post.started)
    return EXIT_FAILED_CELLS if summary.failed else EXIT_OK


def _warm_up(args: argparse.Namespace) -> None:
    """What the run needs after its cells, imported while the worker process starts (the driver is idle then)."""
    from vleval.cli.post_run import preload

    preload(report=not args.no_report)


def _write_report(console: Any, results: Path, boards: list, sections: list, started: object = None) -> None:
    """The run's HTML report beside its results; a figure that cannot be drawn never fails the run (the records
    are written already): it is reported with the command that retries. ``started``: its figures that need no
    board, started early (:class:`vleval.cli.post_run.PostRun`)."""
    if not results.exists():
        return
    out = results.with_suffix(".report")
    try:
        from vleval.report import write_report

        console.print(f"report: {write_report(results, out, boards=boards, sections=sections, started=started)}")
    except Exception as exc:  # noqa: BLE001 - the run's records are safe; say what failed and how to retry
        console.print(f"[yellow]report not written ({type(exc).__name__}: {exc}); retry with "
                      f"`vleval report {results} -o {out}`[/yellow]")


def _ray_options(args: argparse.Namespace) -> Any:
    """The Ray executor's options from ``vleval run``'s flags; ``None`` for the local executors."""
    from vleval.config.load import ConfigError

    ray_only = [flag for flag, value in (("--address", args.address), ("--max-retries", args.max_retries),
                                         ("--exclusive-latency", args.exclusive_latency)) if value is not None]
    if args.executor != "ray":
        if ray_only:
            raise ConfigError(f"{', '.join(ray_only)} needs --executor ray")
        return None
    if args.in_process:
        raise ConfigError("--in-process and --executor ray exclude each other")
    if args.max_retries is not None and args.max_retries < 0:
        raise ConfigError(f"--max-retries: must be 0 or more, got {args.max_retries}")
    import os

    from vleval.executors.ray_executor import RayOptions, worker_env

    return RayOptions(address=args.address, max_retries=args.max_retries,
                      exclusive_latency=args.exclusive_latency, env=worker_env(os.environ))


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from vleval.boards import build as leaderboard
    from vleval.results import sidecars as item_results
    from vleval.results.store import load

    records, homes = [], {}
    for path in args.results:
        for record in load([path]):
            records.append(record)
            homes[record.cell_key] = Path(path)
    nothing = leaderboard.nothing_ranked(records)
    if nothing:
        print(f"vleval: {nothing}", file=sys.stderr)
        return EXIT_FAILED_CELLS
    boards = leaderboard.build(records, allow_mixed=args.allow_mixed, items=item_results.reader(homes),
                               margin=args.margin)
    out = leaderboard.render(boards, args.format)
    if isinstance(out, str):
        print(out)
    else:
        console = wide_console()
        for table in out:
            console.print(table)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from vleval.results.sidecars import SidecarError
    from vleval.stats.compare import CompareError, compare_results, render

    try:
        results = compare_results(args.results, args.a, args.b, resamples=args.resamples)
    except (CompareError, SidecarError) as exc:
        print(f"vleval: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(render(results, args.alpha))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from vleval.results.store import read_records, validation_errors

    problems = validation_errors(args.files)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        total = sum(1 for path in args.files for _ in read_records(path))
        print(f"{total} records in {len(args.files)} file(s) match result.schema.json")
    return EXIT_FAILED_CELLS if problems else EXIT_OK

