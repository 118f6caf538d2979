"""Startup cost of the CLI: median wall time of 5 runs of `vleval --help` and `vleval plugins` (goal: <= 1 s)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 5


def median_seconds(args: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vleval.cli", *args], check=False, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    for argv in (["--help"], ["plugins"]):
        print(f"vleval {' '.join(argv):<8} median of {RUNS}: {median_seconds(argv):.3f} s")
