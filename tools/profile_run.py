"""Where the default run's time goes: inside the timed model calls vs everything else.

    python tools/profile_run.py [-o DIR]

Profiles ``vleval run --in-process`` (cProfile; the worker process would hide the cells from the profiler) and
prints the share of wall time inside the task strategies' ``call`` (the model calls the core times), image decoding,
and the rest, also within ``run_benchmark`` alone (start-up imports excluded).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=None, help="results directory (default: a temporary one)")
    parser.add_argument("--dump", default=None, help="also write the cProfile stats to this file (pstats format)")
    args = parser.parse_args()
    out = args.output or tempfile.mkdtemp(prefix="vleval-profile-")
    profile = cProfile.Profile()
    profile.enable()
    from vleval.cli import main as vleval_main

    code = vleval_main(["run", "--in-process", "--no-report", "-o", out])
    profile.disable()
    if args.dump:
        profile.dump_stats(args.dump)
    stats = pstats.Stats(profile).stats
    total = max(v[3] for v in stats.values())
    inside = sum(v[3] for (f, _, name), v in stats.items() if "/vleval/tasks" in f and name == "call")
    decode = sum(v[3] for (_, _, name), v in stats.items() if name == "open_image")
    run = sum(v[3] for (f, _, name), v in stats.items() if f.endswith("vleval/runner.py") and name == "run_benchmark")
    print(f"total {total:.2f} s; inside model calls {inside:.2f} s ({100 * inside / total:.1f} %); outside "
          f"{total - inside:.2f} s ({100 * (total - inside) / total:.1f} %), image decoding {decode:.2f} s; "
          f"within run_benchmark: outside model calls {run - inside:.2f} s ({100 * (run - inside) / run:.1f} %)")
    return code


if __name__ == "__main__":
    sys.exit(main())
