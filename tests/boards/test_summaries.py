"""Research summaries: missing values and lower-is-better primary metrics."""

from __future__ import annotations

import toy_plugins
from conftest import explicit_registry, toy_benchmark

from vleval.boards import summaries as summary
from vleval.executors.runner import run_benchmark

MODELS = [{"name": "toy-moe", "args": {"jitter": j}} for j in (0.0, 0.3, 0.6)]


def picks(lines: list[str]) -> str:
    (line,) = [line for line in lines if "best on target:" in line]
    return line


def test_expert_scaling_survives_a_missing_primary_value(tmp_path, toy_registry):
    bench = toy_benchmark(models=MODELS, datasets=[], shifts=[{"name": "toy-noise", "args": {"n": 12}}])
    records = run_benchmark("toy", bench, tmp_path, registry=toy_registry).results
    records[0].domains["target"].metrics = {}  # e.g. a metric that produced no value on the target
    lines = summary.expert_scaling(records)
    assert f"  {records[0].label}: " in "\n".join(lines) and "-> - (-)" in "\n".join(lines)
    targets = {r.label: r.domains["target"].metrics["retrieval-recall"]["rsum"]["value"] for r in records[1:]}
    best = max(targets.values())
    assert any(f"best on target: {label} ({best:.1f})" in picks(lines) for label, v in targets.items() if v == best)


def test_expert_scaling_ranks_lower_is_better_metrics_the_right_way(tmp_path):
    registry = explicit_registry(toy_plugins.MeanRankPlugin())
    bench = toy_benchmark(models=MODELS, datasets=[], shifts=[{"name": "toy-noise", "args": {"n": 12}}],
                          metrics=["aaa-mean-rank", "retrieval-recall"])
    records = run_benchmark("toy", bench, tmp_path, registry=registry).results
    value = {r.label: (r.domains["source"].metrics["aaa-mean-rank"]["mean_rank"]["value"],
                       r.domains["target"].metrics["aaa-mean-rank"]["mean_rank"]["value"]) for r in records}
    assert len({t for _, t in value.values()}) > 1  # the variants really differ
    lowest = min(t for _, t in value.values())
    least_rise = min(t - s for s, t in value.values())
    line = picks(summary.expert_scaling(records))
    assert any(f"best on target: {label} ({lowest:.1f})" in line for label, (_, t) in value.items() if t == lowest)
    assert any(f"smallest drop: {label} ({s - t:+.1f})" in line
               for label, (s, t) in value.items() if t - s == least_rise)
    assert "(lower is better)" in summary.expert_scaling(records)[0]


def test_routing_lines_show_per_token_entropy_when_recorded(tmp_path, toy_registry):
    bench = toy_benchmark(models=[{"name": "toy-moe", "sweep": {"experts": [4]}}], datasets=[],
                          shifts=[{"name": "toy-noise", "args": {"n": 12}}])
    records = run_benchmark("toy", bench, tmp_path, registry=toy_registry).results
    line = next(line for line in summary.routing_analytics(records) if line.startswith(f"  {records[0].label}"))
    assert "/- JSD=" in line  # the toy model records no router probabilities
    for layer in records[0].domains["source"].routing["layers"]:
        layer["token_entropy"] = 0.4242
    line = next(line for line in summary.routing_analytics(records) if line.startswith(f"  {records[0].label}"))
    assert line.count("/0.42 JSD=") == len(records[0].domains["source"].routing["layers"])
