"""tools/bench_loadgen.py: LoadGen's figures come from its own logs, vleval's from the recorder, on the same queries.

No assertion that the two agree within a tolerance: that is a timing claim, checked by running the benchmark alone.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import pytest
from conftest import TESTS

ROOT = TESTS.parent
SCRIPT = ROOT / "tools" / "bench_loadgen.py"

# An excerpt of a real mlperf_log_summary.txt (mlcommons-loadgen 6.0.17, this script's SUT, 40 queries of ~0.5 ms).
SUMMARY_EXCERPT = """\
================================================
MLPerf Results Summary
================================================
SUT name : PySUT
Scenario : SingleStream
Mode     : PerformanceOnly
90.0th percentile latency (ns) : 4641998
Result is : INVALID

================================================
Additional Stats
================================================
QPS w/ loadgen overhead         : 704.61
QPS w/o loadgen overhead        : 716.12

Min latency (ns)                : 256862
Max latency (ns)                : 12391155
Mean latency (ns)               : 1396423
50.00 percentile latency (ns)   : 518290
90.00 percentile latency (ns)   : 4641998
95.00 percentile latency (ns)   : 8563486
97.00 percentile latency (ns)   : 8563486
99.00 percentile latency (ns)   : 12391155
99.90 percentile latency (ns)   : 12391155

================================================
Test Parameters Used
================================================
samples_per_query : 1
min_query_count : 40
"""


def _bench():
    spec = importlib.util.spec_from_file_location("bench_loadgen", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parse_summary_reads_a_real_loadgen_summary():
    assert _bench().parse_summary(SUMMARY_EXCERPT) == {
        "min": 256862, "max": 12391155, "mean": 1396423, "p50": 518290, "p90": 4641998, "p95": 8563486,
        "p97": 8563486, "p99": 12391155, "p99.9": 12391155,
    }


def test_parse_summary_names_what_is_missing():
    accuracy_only = "\n".join(line for line in SUMMARY_EXCERPT.splitlines() if "Mean" not in line)
    with pytest.raises(ValueError, match="lacks mean"):
        _bench().parse_summary(accuracy_only)


def test_loadgen_percentile_definition():
    """results.cc: sorted[size_t(count * p)], integer mean; worked by hand on 1..10 shuffled."""
    assert _bench().loadgen_stats([7, 3, 10, 1, 9, 2, 8, 5, 4, 6]) == {"p50": 6, "p90": 10, "p99": 10, "mean": 5}


def _summary_value(text: str, label: str) -> int:
    match = re.search(rf"^{re.escape(label)}\s*:\s*(\d+)\s*$", text, re.MULTILINE)
    assert match, f"{label!r} not in LoadGen's summary"
    return int(match.group(1))


@pytest.mark.slow
def test_benchmark_runs_both_harnesses_on_the_same_queries(tmp_path):
    queries, logs = 40, tmp_path / "loadgen"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--queries", str(queries), "--median-ms", "0.3", "--seed", "1", "--json",
         "--log-dir", str(logs)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    table, result = proc.stdout, json.loads(proc.stdout.splitlines()[-1])
    assert "LoadGen ms" in table and "vleval ms" in table

    # LoadGen's column is what LoadGen wrote, read back from the files here, not the script's own figures
    summary = (logs / "mlperf_log_summary.txt").read_text()
    assert "Scenario : SingleStream" in summary and "Mode     : PerformanceOnly" in summary
    for stat, label in (("p50", "50.00 percentile latency (ns)"), ("p90", "90.00 percentile latency (ns)"),
                        ("p99", "99.00 percentile latency (ns)"), ("mean", "Mean latency (ns)")):
        assert result["loadgen"][stat] == _summary_value(summary, label)
    detail = [json.loads(line.removeprefix(":::MLLOG ")) for line in (logs / "mlperf_log_detail.txt").read_text()
              .splitlines() if line.startswith(":::MLLOG ")]
    assert [e["value"] for e in detail if e["key"] == "result_query_count"] == [queries]
    assert result["loadgen"]["query_count"] == queries

    # the seeded durations, and vleval's column computed from the recorder's per-query timings
    requested, timed = result["per_query"]["requested_ns"], result["per_query"]["vleval_ns"]
    assert requested == _bench().durations_ns(queries, 1, 0.3) and len(timed) == queries
    assert all(t >= r for t, r in zip(timed, requested, strict=True))
    requested_p50 = sorted(requested)[queries // 2]
    assert result["vleval"]["p50"] == sorted(timed)[queries // 2] >= requested_p50
    assert result["loadgen"]["p50"] >= requested_p50
    assert result["timer"]["measure_us"] > result["timer"]["empty_loop_us"]
