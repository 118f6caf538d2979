"""Was the machine busy while a domain was timed? Load before/after and a calibration spin's slowdown.

Latency measured while other processes compete for the CPU is not the model's latency. Around a cell's timed
passes the executor takes a :func:`snapshot` (1-minute load average, usable CPUs, the time of a fixed pure-Python
spin) and stores :func:`assess`'s verdict in the domain's latency block as ``machine_load``; boards flag such rows.

A spin's slowdown is its time over the fastest spin this process has seen (the baseline, taken at the first
snapshot and lowered whenever a faster spin is seen). Thresholds: :data:`SLOWDOWN` and :data:`LOAD_PER_CPU`.
"""

from __future__ import annotations

import os
import time
from typing import Any

#: a spin this much slower than the process's fastest: something else ran on our core. Not lower: right after a
#: model call our own OpenMP threads still spin-wait for a while and slow the probe by up to ~1.6x on 2 cores.
SLOWDOWN = 2.0
#: runnable processes beyond the run's own threads, per usable CPU (1-minute average)
LOAD_PER_CPU = 0.5
SPIN_ITERATIONS = 25_000
_baseline_ms: list[float] = []


def spin_ms(iterations: int = SPIN_ITERATIONS) -> float:
    """Milliseconds of a fixed single-threaded loop (about 1.3 ms on an idle core)."""
    t0 = time.perf_counter_ns()
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return (time.perf_counter_ns() - t0) / 1e6


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def snapshot() -> dict[str, float]:
    """Load now: ``{"loadavg_1m", "cpus", "spin_ms"}`` (the best of two spins, against scheduler noise)."""
    spin = min(spin_ms() for _ in range(2))
    _baseline_ms.append(spin)
    return {"loadavg_1m": os.getloadavg()[0], "cpus": usable_cpus(), "spin_ms": spin}


def assess(before: dict[str, float], after: dict[str, float], baseline_ms: float | None = None,
           own_threads: int = 1) -> dict[str, Any]:
    """The ``machine_load`` block: both snapshots, the worse spin's slowdown and whether timing was contended.

    ``own_threads``: the threads the measured work itself keeps busy (torch's intra-op threads); the load average
    counts them too, so only the load beyond them (``excess_load_per_cpu``) says that something else competed."""
    baseline = baseline_ms if baseline_ms is not None else min(_baseline_ms or [before["spin_ms"]])
    slowdown = max(before["spin_ms"], after["spin_ms"]) / baseline if baseline > 0 else None
    cpus = max(before["cpus"], 1)
    peak = max(before["loadavg_1m"], after["loadavg_1m"])
    excess = max(peak - own_threads, 0.0) / cpus
    reasons = []
    if slowdown is not None and slowdown > SLOWDOWN:
        reasons.append(f"calibration spin {slowdown:.2f}x slower than this process's fastest")
    if excess > LOAD_PER_CPU:
        reasons.append(f"load average {peak:.2f} on {cpus} CPUs, {excess:.2f} per CPU beyond this run's "
                       f"{own_threads} thread(s)")
    return {"before": before, "after": after, "baseline_spin_ms": baseline, "spin_slowdown": slowdown,
            "load_per_cpu": peak / cpus, "own_threads": own_threads, "excess_load_per_cpu": excess,
            "contended": bool(reasons), "reason": "; ".join(reasons) or None}


def contended(latency: dict[str, Any], cv_limit: float = 0.1) -> str | None:
    """Why a domain's latency should not be trusted (contention, or passes that disagree), or ``None``."""
    why = []
    load = latency.get("machine_load")
    if load and load.get("contended"):
        why.append(f"contended: {load.get('reason')}")
    cv = (latency.get("passes") or {}).get("cv")
    if cv is not None and cv > cv_limit:
        why.append(f"unsteady: timed passes vary by CV {cv:.2f}")
    return "; ".join(why) or None
