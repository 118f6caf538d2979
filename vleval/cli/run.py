"""``vleval run``: a benchmark from a benchmarks file, or an ad-hoc one from ``--model``/``--dataset``/``--shift``;
then the boards, the research summaries and the HTML report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from vleval.cli.exit_codes import ExitCode
from vleval.cli.terminal import wide_console


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="run a benchmark from benchmarks.toml (default: the file's default), or an "
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
    executor = _executor(args)  # first: a worker process's imports (torch: ~1.5 s) overlap all that follows
    try:
        return _run(args, executor)
    finally:
        executor.close()  # closed by the run already, unless it stopped before (e.g. a bad config)


def _executor(args: argparse.Namespace) -> Any:
    """Where the cells run: a worker process (started now), this process (``--in-process``) or a Ray cluster."""
    ray = _ray_options(args)
    if ray is not None:
        from vleval.executors.ray_executor import RayExecutor

        return RayExecutor(ray)
    if args.in_process:
        from vleval.executors.in_process import InProcessExecutor
        from vleval.registry.discovery import Registry

        return InProcessExecutor(Registry.discover())
    from vleval.executors.worker import WorkerExecutor

    return WorkerExecutor()


def _run(args: argparse.Namespace, executor: Any) -> int:
    from vleval.cli.console import RichProgress, WorkerProgress, print_report
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
    bars = WorkerProgress(console) if args.executor == "ray" else RichProgress(console)  # Ray: cells per worker
    with bars as progress:
        summary = run_benchmark(name, bench, Path(args.output), resume=args.resume, progress=progress,
                                validated=validated, repair=args.repair, executor=executor)
    boards, sections = print_report(console, summary, time.perf_counter() - start)
    if not args.no_report:
        _write_report(console, summary.path, boards, sections)
    return ExitCode.FAILED_CELLS if summary.failed else ExitCode.OK


def _write_report(console: Any, results: Path, boards: list, sections: list) -> None:
    """The run's HTML report beside its results; a figure that cannot be drawn never fails the run (the records
    are written already): it is reported with the command that retries."""
    if not results.exists():
        return
    out = results.with_suffix(".report")
    try:
        from vleval.report import write_report

        console.print(f"report: {write_report(results, out, boards=boards, sections=sections)}")
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
