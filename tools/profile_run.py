"""Where the default run's time goes: inside the model calls vs everything else.

    python tools/profile_run.py [-o DIR] [-c BENCHMARKS.toml] [--in-process [--cprofile [--dump FILE]]]

Default: runs ``vleval run -o DIR`` exactly as the README's main command does (cells in the worker process, boards,
summaries and the HTML report), in this process, and splits its wall time into the time the worker spends inside
the task strategies' ``call`` (every model call the core makes: traced pass, warmup, timed passes, calibration) and
everything else, with the driver's phases (start-up, preflight, waiting for the worker to start, the cells'
round trips, records and sidecars, boards and summaries, report) and the worker's own share of each cell (model
loads, data preparation, metrics, routing summaries, record building) beside it.

Each strategy's ``call`` is wrapped with a ``perf_counter`` accumulator (a few microseconds per batch), so the shares
are those of a normal run. ``--in-process`` runs the cells in this process instead (``--in-process --no-report``),
where ``--cprofile`` can name what is slow (its overhead inflates the Python-heavy code outside the model calls).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import os
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def _timed_calls(spent: list[float]) -> None:
    """Wrap every task strategy's ``call`` so that its wall time is added to ``spent[0]``."""
    from vleval.engine.tasks import captioning, multiple_choice, retrieval

    for module in (captioning, multiple_choice, retrieval):
        for cls in vars(module).values():
            if isinstance(cls, type) and "call" in vars(cls):
                def wrap(call):
                    @functools.wraps(call)
                    def timed(self, batch):
                        t0 = time.perf_counter()
                        try:
                            return call(self, batch)
                        finally:
                            spent[0] += time.perf_counter() - t0
                    return timed
                cls.call = wrap(vars(cls)["call"])


def _timer(owner: object, name: str, phases: dict[str, float], label: str | None = None,
           by: callable = None) -> None:
    """Replace ``owner.name`` by a wrapper adding its wall time to ``phases[label]`` (``by(args)``: the label)."""
    real = getattr(owner, name)

    @functools.wraps(real)
    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            phases[by(args) if by else (label or name)] += time.perf_counter() - t0
    setattr(owner, name, timed)


def _worker_phases(phases: dict[str, float]) -> None:
    """Timers on the worker's steps outside the model calls (``calibrate`` and the key also contain some)."""
    from vleval.engine import execute, item_rows, machine_load, passes, routing
    from vleval.engine.instances import Instances
    from vleval.engine.latency import LatencyRecorder
    from vleval.engine.metric_selection import Metrics
    from vleval.executors import worker_loop
    from vleval.results import sidecars

    for name in ("model", "dataset", "prepared"):
        _timer(Instances, name, phases, f"instances.{name}")
    _timer(worker_loop, "cell_key", phases, "identity.cell_key")
    _timer(execute, "calibrate", phases, "calibrate (model calls included)")
    _timer(passes, "check_call", phases, "check_call (outputs vs batch)")
    _timer(execute, "seed_everything", phases)
    _timer(item_rows, "rows", phases, "item_rows.rows")
    _timer(sidecars, "attach", phases, "sidecars.attach (sidecar written)")
    _timer(routing, "per_item", phases, "routing.per_item")
    _timer(routing, "summarize", phases, "routing.summarize")
    _timer(machine_load, "snapshot", phases, "machine_load.snapshot")
    _timer(execute, "fingerprint", phases, "environment.fingerprint")
    _timer(LatencyRecorder, "summary", phases, "latency summary")
    real_for_task = Metrics.for_task

    def for_task(self, *args, **kwargs):
        resolved = real_for_task(self, *args, **kwargs)
        for m in resolved:
            if not hasattr(m.metric.compute, "__wrapped__"):
                _timer(m.metric, "compute", phases, f"metric {m.name}")
        return resolved
    Metrics.for_task = for_task


def _worker_serve(conn, sink: str) -> None:
    """The worker's loop with timers: after each cell, the time inside model calls, in ``execute_cell`` and in
    each step so far are written to ``sink`` (outside any timed model call)."""
    from vleval.executors import worker_loop

    spent = [0.0]
    _timed_calls(spent)
    phases: dict[str, float] = defaultdict(float)
    _worker_phases(phases)
    real = worker_loop.execute_cell

    def execute_cell(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            phases["execute_cell"] += time.perf_counter() - t0
            Path(sink).write_text(json.dumps({"inside": spent[0], **phases}))
    worker_loop.execute_cell = execute_cell
    worker_loop.serve(conn)  # a fresh interpreter: the module's own loop


def _isolated(out: str, extra: list[str]) -> int:
    """The default run with timers in the driver and the worker; prints the split."""
    from vleval import cli
    from vleval.cli import console
    from vleval.cli import run as run_command
    from vleval.executors import runner, worker, worker_loop

    handle, sink = tempfile.mkstemp(prefix="vleval-profile-", suffix=".json")
    os.close(handle)
    worker_loop.serve = functools.partial(_worker_serve, sink=sink)
    phases: dict[str, float] = defaultdict(float)
    marks: dict[str, float] = {}
    real_execute = runner._execute

    def execute(*args, **kwargs):
        marks["cells"] = time.perf_counter()
        return real_execute(*args, **kwargs)
    runner._execute = execute
    _timer(runner, "_execute", phases, "cells (worker round trips)")
    _timer(worker.WorkerExecutor, "keys", phases, "cell identities (keys request)")
    _timer(runner, "_keep", phases, "records appended")
    _timer(console, "print_report", phases, "boards + summaries (printed)")
    _timer(run_command, "_write_report", phases, "HTML report")
    start = time.perf_counter()
    code = cli.main(["run", "-o", out, *extra])
    total = time.perf_counter() - start
    worker = json.loads(Path(sink).read_text())
    Path(sink).unlink()
    inside, cells = worker.pop("inside"), worker.pop("execute_cell")
    print(f"\ntotal {total:.2f} s; inside model calls {inside:.2f} s ({100 * inside / total:.1f} %); "
          f"outside {total - inside:.2f} s ({100 * (total - inside) / total:.1f} %)")
    print("driver phases (s):")
    startup = marks["cells"] - start
    phases["cells (worker round trips)"] -= phases["cell identities (keys request)"] + phases["records appended"]
    print(f"  {startup:7.2f}  start-up (imports, config, worker start, preflight)")
    for name, seconds in phases.items():
        print(f"  {seconds:7.2f}  {name}")
    print(f"  {total - startup - sum(phases.values()):7.2f}  rest")
    print(f"worker: {cells:.2f} s in execute_cell, of which {inside:.2f} s in model calls and "
          f"{cells - inside:.2f} s outside them; its steps (s):")
    for name, seconds in sorted(worker.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds:7.2f}  {name}")
    return code


def _in_process(out: str, profile: bool, dump: str | None, extra: list[str]) -> int:
    """``vleval run --in-process --no-report`` with timers (or cProfile); prints the split."""
    argv = ["run", "--in-process", "--no-report", "-o", out, *extra]
    start = time.perf_counter()
    if profile:
        prof = cProfile.Profile()
        prof.enable()
        from vleval.cli import main as vleval_main

        code = vleval_main(argv)
        prof.disable()
        if dump:
            prof.dump_stats(dump)
        stats = pstats.Stats(prof).stats
        total = max(v[3] for v in stats.values())
        inside = sum(v[3] for (f, _, name), v in stats.items() if "/vleval/engine/tasks" in f and name == "call")
        run = sum(v[3] for (f, _, name), v in stats.items()
                  if f.endswith("vleval/executors/runner.py") and name == "run_benchmark")
    else:
        from vleval.executors import runner

        spent, phases = [0.0], defaultdict(float)
        _timed_calls(spent)
        _timer(runner, "run_benchmark", phases)
        from vleval.cli import main as vleval_main

        code = vleval_main(argv)
        total, inside, run = time.perf_counter() - start, spent[0], phases["run_benchmark"]
    print(f"total {total:.2f} s; inside model calls {inside:.2f} s ({100 * inside / total:.1f} %); outside "
          f"{total - inside:.2f} s ({100 * (total - inside) / total:.1f} %); within run_benchmark ({run:.2f} s): "
          f"outside model calls {run - inside:.2f} s ({100 * (run - inside) / run:.1f} %)")
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=None, help="results directory (default: a temporary one)")
    parser.add_argument("-c", "--config", default=None, help="benchmarks file (default: vleval's default)")
    parser.add_argument("--in-process", action="store_true", help="cells in this process, no report")
    parser.add_argument("--cprofile", action="store_true", help="with --in-process: cProfile instead of timers")
    parser.add_argument("--dump", default=None, help="with --cprofile: write the stats to this file (pstats)")
    args = parser.parse_args()
    out = args.output or tempfile.mkdtemp(prefix="vleval-profile-")
    if args.cprofile and not args.in_process:
        parser.error("--cprofile needs --in-process (the worker process is not profiled)")
    extra = ["-c", args.config] if args.config else []
    return _in_process(out, args.cprofile, args.dump, extra) if args.in_process else _isolated(out, extra)


if __name__ == "__main__":
    sys.exit(main())
