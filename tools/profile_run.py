"""Where the default run's time goes: inside the model calls vs everything else.

    python tools/profile_run.py [-o DIR] [--cprofile [--dump FILE]]

Runs ``vleval run --in-process --no-report`` (the worker process would hide the cells) and splits its wall time into
the time inside the task strategies' ``call`` (every model call the core makes: traced pass, warmup, timed passes,
calibration) and the rest (start-up imports, planning, identities, data preparation, metrics, records, sidecars,
boards and summaries), also within ``run_benchmark`` alone.

Default: each strategy's ``call`` is wrapped with a ``perf_counter`` accumulator (a few microseconds per batch), so
the shares are those of a normal run. ``--cprofile`` profiles the run with cProfile instead (names what is slow, but
its overhead inflates Python-heavy code outside the model calls) and prints the same split.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import sys
import tempfile
import time


def _timed_calls(spent: list[float]) -> None:
    """Wrap every task strategy's ``call`` so that its wall time is added to ``spent[0]``."""
    from vleval.tasks import captioning, multiple_choice, retrieval

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


def _timed_run(spent: list[float]) -> None:
    """Wrap ``vleval.runner.run_benchmark`` so that its wall time is added to ``spent[1]``."""
    from vleval import runner

    real = runner.run_benchmark

    @functools.wraps(real)
    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[1] += time.perf_counter() - t0
    runner.run_benchmark = timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=None, help="results directory (default: a temporary one)")
    parser.add_argument("--cprofile", action="store_true", help="profile with cProfile instead of timers")
    parser.add_argument("--dump", default=None, help="with --cprofile: write the stats to this file (pstats)")
    args = parser.parse_args()
    out = args.output or tempfile.mkdtemp(prefix="vleval-profile-")
    argv = ["run", "--in-process", "--no-report", "-o", out]
    start = time.perf_counter()
    if args.cprofile:
        profile = cProfile.Profile()
        profile.enable()
        from vleval.cli import main as vleval_main

        code = vleval_main(argv)
        profile.disable()
        if args.dump:
            profile.dump_stats(args.dump)
        stats = pstats.Stats(profile).stats
        total = max(v[3] for v in stats.values())
        inside = sum(v[3] for (f, _, name), v in stats.items() if "/vleval/tasks" in f and name == "call")
        run = sum(v[3] for (f, _, name), v in stats.items()
                  if f.endswith("vleval/runner.py") and name == "run_benchmark")
    else:
        spent = [0.0, 0.0]
        _timed_calls(spent)
        _timed_run(spent)
        from vleval.cli import main as vleval_main

        code = vleval_main(argv)
        total, (inside, run) = time.perf_counter() - start, spent
    print(f"total {total:.2f} s; inside model calls {inside:.2f} s ({100 * inside / total:.1f} %); outside "
          f"{total - inside:.2f} s ({100 * (total - inside) / total:.1f} %); within run_benchmark ({run:.2f} s): "
          f"outside model calls {run - inside:.2f} s ({100 * (run - inside) / run:.1f} %)")
    return code


if __name__ == "__main__":
    sys.exit(main())
