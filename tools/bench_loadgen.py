"""vleval's latency timer against MLPerf LoadGen SingleStream on the same calibrated busy-wait system under test.

    python tools/bench_loadgen.py                    # 2,000 queries, log-normal around 2 ms with a tail
    python tools/bench_loadgen.py --queries 500 --seed 3 --json

One seeded sequence of per-query durations is run twice: once as the system under test of LoadGen (SingleStream,
PerformanceOnly, min/max query count = N), whose own ``mlperf_log_summary.txt`` / ``mlperf_log_detail.txt`` give
its 50/90/99th percentile and mean latency, then once through :class:`vleval.engine.latency.LatencyRecorder` (one
``measure(1)`` per query). The SUT busy-waits on ``time.perf_counter_ns`` until each duration has elapsed, so a
query never ends early; its overshoot, measured before the runs, is printed ("calibration").

Percentiles use LoadGen's definition, from ``PerformanceSummary::ProcessLatencies`` in loadgen/results.cc of
github.com/mlcommons/inference: the sorted latencies' element at index ``size_t(count * p)`` (no interpolation) and
the integer mean ``sum / count``. ``LatencyRecorder.summary()`` uses ``np.percentile`` (linear interpolation); the
table shows that figure as well and how far it is from LoadGen's definition on the same timings.

Also timed: the recorder's cost, N empty ``with recorder.measure(1): pass`` blocks minus an empty loop of N, per
call (median of repeats), and the part of it inside the timed span (what an empty block records). Goals (vleval
issue #11): every statistic within 2 % of LoadGen's, <= 20 us per call. Run it on an otherwise idle machine:
contention slows single queries, not both runs alike (the output warns when the load says it was busy).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

STATS = ("p50", "p90", "p99", "mean")
FRACTIONS = {"p50": 0.5, "p90": 0.9, "p99": 0.99}  # LoadGen's latency_percentiles, as doubles
GOAL_PCT = 2.0
GOAL_OVERHEAD_US = 20.0
_EXTREME_LINE = re.compile(r"(Min|Max|Mean) latency \(ns\)\s*:\s*(\d+)")
_PERCENTILE_LINE = re.compile(r"(\d+\.\d+) percentile latency \(ns\)\s*:\s*(\d+)")


def durations_ns(n: int, seed: int, median_ms: float = 2.0) -> list[int]:
    """Per-query busy-wait durations: log-normal around ``median_ms`` (sigma 0.3) and 3 % of queries 2-4x longer."""
    rng = np.random.default_rng(seed)
    ms = median_ms * np.exp(0.3 * rng.standard_normal(n))
    tail = rng.random(n) < 0.03
    ms[tail] *= rng.uniform(2.0, 4.0, int(tail.sum()))
    return [int(v) for v in np.rint(ms * 1e6)]


def busy_wait(ns: int) -> None:
    """Spin until ``ns`` nanoseconds have passed on ``perf_counter_ns`` (ends at the first read past the deadline)."""
    end = time.perf_counter_ns() + ns
    while time.perf_counter_ns() < end:
        pass


def spin_overshoot_ns(ns: int = 200_000, spins: int = 100) -> int:
    """Calibration: median of (measured - requested) over ``spins`` busy-waits of ``ns``."""
    over = []
    for _ in range(spins):
        t0 = time.perf_counter_ns()
        busy_wait(ns)
        over.append(time.perf_counter_ns() - t0 - ns)
    return int(statistics.median(over))


def loadgen_stats(latencies_ns: Sequence[int]) -> dict[str, int]:
    """p50/p90/p99/mean as LoadGen computes them (results.cc: ``sorted[size_t(count * p)]``, ``sum / count``)."""
    ordered = sorted(int(v) for v in latencies_ns)
    out = {name: ordered[int(len(ordered) * p)] for name, p in FRACTIONS.items()}
    out["mean"] = sum(ordered) // len(ordered)
    return out


def parse_summary(text: str) -> dict[str, int]:
    """Min/max/mean and every percentile (``p50``, ``p99.9``...) in ns from a LoadGen ``mlperf_log_summary.txt``."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        if match := _EXTREME_LINE.fullmatch(line.strip()):
            found[match.group(1).lower()] = int(match.group(2))
        elif match := _PERCENTILE_LINE.fullmatch(line.strip()):
            found[f"p{float(match.group(1)):g}"] = int(match.group(2))
    missing = [s for s in STATS if s not in found]
    if missing:
        raise ValueError(f"LoadGen summary lacks {', '.join(missing)} latency lines (is it a performance-mode log?)")
    return found


def parse_detail(text: str) -> dict[str, Any]:
    """The ``:::MLLOG`` key/value pairs of a LoadGen ``mlperf_log_detail.txt`` (last value of each key)."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if line.startswith(":::MLLOG "):
            entry = json.loads(line[len(":::MLLOG "):])
            out[entry["key"]] = entry["value"]
    return out


def run_loadgen(durations: Sequence[int], log_dir: Path) -> dict[str, Any]:
    """Run ``durations`` as LoadGen SingleStream queries; its figures as read back from its logs in ``log_dir``."""
    try:
        import mlperf_loadgen as lg
    except ImportError as exc:
        raise SystemExit("mlperf_loadgen is not installed: .venv/bin/pip install -c constraints.txt "
                         "mlcommons-loadgen (it is in the dev extra)") from exc
    issued = 0

    def issue_queries(samples: list[Any]) -> None:
        nonlocal issued
        for sample in samples:
            busy_wait(durations[issued % len(durations)])
            issued += 1
            lg.QuerySamplesComplete([lg.QuerySampleResponse(sample.id, 0, 0)])

    settings = lg.TestSettings()
    settings.scenario = lg.TestScenario.SingleStream
    settings.mode = lg.TestMode.PerformanceOnly
    settings.min_query_count = settings.max_query_count = len(durations)
    settings.min_duration_ms = 10
    settings.single_stream_expected_latency_ns = int(statistics.median(durations))
    log = lg.LogSettings()
    log.log_output.outdir = str(log_dir)
    log.log_output.copy_summary_to_stdout = False
    log.enable_trace = False
    samples = 8
    sut = lg.ConstructSUT(issue_queries, lambda: None)
    qsl = lg.ConstructQSL(samples, samples, lambda _: None, lambda _: None)
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log)
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
    summary = parse_summary((log_dir / "mlperf_log_summary.txt").read_text())
    detail = parse_detail((log_dir / "mlperf_log_detail.txt").read_text())
    count = detail.get("result_query_count")
    if issued != len(durations) or count != len(durations):
        raise RuntimeError(f"LoadGen issued {issued} queries and logged result_query_count={count}, "
                           f"expected {len(durations)} (its logs: {log_dir}; keep them with --log-dir DIR)")
    return {**{s: summary[s] for s in STATS}, "query_count": count, "min": summary["min"], "max": summary["max"]}


def run_vleval(durations: Sequence[int]) -> tuple[list[int], dict[str, Any]]:
    """The same durations, each timed by ``LatencyRecorder.measure(1)``: per-query ns and the recorder's summary."""
    from vleval.engine.latency import LatencyRecorder

    recorder = LatencyRecorder()
    for ns in durations:
        with recorder.measure(1):
            busy_wait(ns)
    return list(recorder.batch_ns), recorder.summary()["batch_ms"]


def timer_overhead_us(calls: int, repeats: int = 31) -> dict[str, float]:
    """Median per-call time of ``calls`` empty ``measure(1)`` blocks and of an empty loop, their difference, and
    the median time the recorder itself records for an empty block (the part of its cost inside its clock reads)."""
    from vleval.engine.latency import LatencyRecorder

    loop, measured, recorded = [], [], []
    for _ in range(repeats):
        recorder = LatencyRecorder()
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            pass
        t1 = time.perf_counter_ns()
        for _ in range(calls):
            with recorder.measure(1):
                pass
        t2 = time.perf_counter_ns()
        loop.append((t1 - t0) / calls / 1e3)
        measured.append((t2 - t1) / calls / 1e3)
        recorded.append(statistics.median(recorder.batch_ns) / 1e3)
    return {"empty_loop_us": statistics.median(loop), "measure_us": statistics.median(measured),
            "overhead_us": statistics.median(m - e for m, e in zip(measured, loop, strict=True)),
            "recorded_empty_us": statistics.median(recorded)}


def diff_pct(value: float, reference: float) -> float:
    """``value`` relative to ``reference``, in percent."""
    return 100.0 * (value - reference) / reference


def benchmark(queries: int, seed: int, median_ms: float, log_dir: Path) -> dict[str, Any]:
    """Both runs on the same durations, the timer's cost and the machine's load: the result dict (``--json``)."""
    from vleval.engine import machine_load

    durations = durations_ns(queries, seed, median_ms)
    before = machine_load.snapshot()
    overshoot = spin_overshoot_ns()
    loadgen = run_loadgen(durations, log_dir)
    vleval_ns, vleval_summary = run_vleval(durations)
    vleval = loadgen_stats(vleval_ns)
    linear = {s: vleval_summary[s] * 1e6 for s in STATS}  # what LatencyRecorder.summary() reports, in ns
    overhead = timer_overhead_us(queries)
    load = machine_load.assess(before, machine_load.snapshot())
    diffs = {s: diff_pct(vleval[s], loadgen[s]) for s in STATS}
    return {
        "queries": queries, "seed": seed, "median_ms": median_ms,
        "percentile_definition": "LoadGen results.cc: sorted[size_t(count * p)], mean = sum // count",
        "machine_load": load,
        "spin_overshoot_ns": overshoot,
        "requested": loadgen_stats(durations), "loadgen": loadgen, "vleval": vleval,
        "vleval_summary_linear": linear, "diff_pct": diffs,
        "definition_effect_pct": {s: diff_pct(linear[s], vleval[s]) for s in STATS},
        "timer": overhead,
        "goals": {"within_2pct": all(abs(d) <= GOAL_PCT for d in diffs.values()),
                  "overhead_le_20us": overhead["overhead_us"] <= GOAL_OVERHEAD_US},
        "per_query": {"requested_ns": durations, "vleval_ns": vleval_ns},
    }


def report(result: dict[str, Any]) -> str:
    """The printed table and goal lines."""
    ms = lambda ns: f"{ns / 1e6:.4f}"  # noqa: E731
    load = result["machine_load"]
    lines = [
        f"{result['queries']} queries, seed {result['seed']}, busy-wait log-normal around {result['median_ms']} ms; "
        f"busy-wait overshoot (calibration) {result['spin_overshoot_ns']} ns; load average "
        f"{load['before']['loadavg_1m']:.2f} -> {load['after']['loadavg_1m']:.2f} on {load['before']['cpus']} CPUs",
        f"percentiles: {result['percentile_definition']}; LoadGen query count {result['loadgen']['query_count']}",
        "",
        f"{'statistic':<9} {'requested ms':>12} {'LoadGen ms':>11} {'vleval ms':>10} {'diff %':>8}   "
        f"{'vleval summary() ms (np.percentile)':>35} {'definition effect %':>19}",
    ]
    for s in STATS:
        lines.append(f"{s:<9} {ms(result['requested'][s]):>12} {ms(result['loadgen'][s]):>11} "
                     f"{ms(result['vleval'][s]):>10} {result['diff_pct'][s]:>+8.3f}   "
                     f"{ms(result['vleval_summary_linear'][s]):>35} {result['definition_effect_pct'][s]:>+19.3f}")
    timer, goals = result["timer"], result["goals"]
    worst = max(abs(d) for d in result["diff_pct"].values())
    lines += [
        "",
        f"timer: {timer['measure_us']:.3f} us per empty measure(1) block, {timer['empty_loop_us']:.3f} us per empty "
        f"loop iteration -> overhead {timer['overhead_us']:.3f} us per call (median of repeats of "
        f"{result['queries']}); of it inside the timed span (what an empty block records): "
        f"{timer['recorded_empty_us']:.3f} us",
        f"goal |diff| <= {GOAL_PCT:g} %: {'yes' if goals['within_2pct'] else 'NO'} (largest {worst:.3f} %); "
        f"goal overhead <= {GOAL_OVERHEAD_US:g} us: {'yes' if goals['overhead_le_20us'] else 'NO'}",
    ]
    if load["contended"]:
        lines.append(f"warning: the machine was busy ({load['reason']}): these figures are not to be trusted")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/bench_loadgen.py", description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000, help="queries per run (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the duration sequence (default 0)")
    parser.add_argument("--median-ms", type=float, default=2.0, help="median busy-wait per query (default 2.0)")
    parser.add_argument("--log-dir", type=Path, help="keep LoadGen's logs here (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line at the end")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.queries < 2 or args.median_ms <= 0:
        parser.error("--queries must be >= 2 and --median-ms > 0")
    with tempfile.TemporaryDirectory(prefix="bench-loadgen-") as tmp:
        log_dir = args.log_dir or Path(tmp)
        log_dir.mkdir(parents=True, exist_ok=True)
        result = benchmark(args.queries, args.seed, args.median_ms, log_dir)
    result["log_dir"] = str(args.log_dir) if args.log_dir else None  # a temporary one is gone by now
    print(report(result))
    if args.json:
        print(json.dumps(result))
    return 1 if args.check and not all(result["goals"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
