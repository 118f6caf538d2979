"""Research summaries: typed rows with the records' values, the console text, HTML tables; missing values and
lower-is-better primary metrics."""

from __future__ import annotations

import toy_plugins
from conftest import explicit_registry, toy_benchmark

from vleval.boards import summaries as summary
from vleval.boards.scaling import ScalingRow, Score
from vleval.boards.summary_tables import Section, SummaryTable
from vleval.executors.runner import run_benchmark

MODELS = [{"name": "toy-moe", "args": {"jitter": j}} for j in (0.0, 0.3, 0.6)]


def picks(lines: list[str]) -> str:
    (line,) = [line for line in lines if "best on target:" in line]
    return line


def test_expert_scaling_rows_hold_the_records_values(tmp_path, toy_registry):
    bench = toy_benchmark(models=MODELS, datasets=[], shifts=[{"name": "toy-noise", "args": {"n": 12}}])
    records = run_benchmark("toy", bench, tmp_path, registry=toy_registry).results
    (table,) = summary.expert_scaling(records).tables
    assert [row.variant for row in table.rows] == [r.label for r in records]
    for row, r in zip(table.rows, records, strict=True):
        assert (row.source, row.target) == (r.primary("source"), r.primary("target"))
        assert row.drop == r.primary("source") - r.primary("target") and row.drop_sd is None
        assert row.p50_ms == r.domains["source"].p50_ms and row.active_params == r.active_params
    assert len(table.columns) == len(table.rows[0].cells())


def test_expert_scaling_survives_a_missing_primary_value(tmp_path, toy_registry):
    bench = toy_benchmark(models=MODELS, datasets=[], shifts=[{"name": "toy-noise", "args": {"n": 12}}])
    records = run_benchmark("toy", bench, tmp_path, registry=toy_registry).results
    records[0].domains["target"].metrics = {}  # e.g. a metric that produced no value on the target
    lines = summary.section_text(summary.expert_scaling(records))
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
    lines = summary.section_text(summary.expert_scaling(records))
    line = picks(lines)
    assert any(f"best on target: {label} ({lowest:.1f})" in line for label, (_, t) in value.items() if t == lowest)
    assert any(f"smallest drop: {label} ({s - t:+.1f})" in line
               for label, (s, t) in value.items() if t - s == least_rise)
    assert "(lower is better)" in lines[0]


def test_routing_lines_show_per_token_entropy_when_recorded(tmp_path, toy_registry):
    bench = toy_benchmark(models=[{"name": "toy-moe", "sweep": {"experts": [4]}}], datasets=[],
                          shifts=[{"name": "toy-noise", "args": {"n": 12}}])
    records = run_benchmark("toy", bench, tmp_path, registry=toy_registry).results

    def line() -> str:
        text = summary.section_text(summary.routing_analytics(records))
        return next(line for line in text if line.startswith(f"  {records[0].label}"))

    assert "/- JSD=" in line()  # the toy model records no router probabilities
    for layer in records[0].domains["source"].routing["layers"]:
        layer["token_entropy"] = 0.4242
    assert line().count("/0.42 JSD=") == len(records[0].domains["source"].routing["layers"])


def _scaling_table() -> SummaryTable:
    row = ScalingRow("m(experts=2)", 468.8667, 290.8667, 178.0, 26.04, 3, (Score("bleu_4", 34.51, 10.04),), 0.5405,
                     228353, decoding=True, ttft_ms=11.434, tpot_ms=None)
    return SummaryTable("[shift:a->b] metric: ...", ["variant", "source", "target", "drop", "bleu_4 source -> target",
                                                     "p50 ms/sample", "active params", "TTFT ms", "TPOT ms"],
                        [row], ["best on target: m(experts=2) (290.9)"])


def test_section_text_by_hand():
    lines = summary.section_text(Section("Q1", [_scaling_table()]))
    assert lines == ["[shift:a->b] metric: ...",
                     "  m(experts=2): 468.9 -> 290.9 (+178.0 ± 26.0 sd, 3 seeds) (34.5 -> 10.0) | 0.540 | 228,353 | "
                     "TTFT 11.43 ms, TPOT - ms",
                     "  best on target: m(experts=2) (290.9)"]


def test_section_html_is_tables_with_named_columns():
    page = summary.section_html(Section("Q1", [_scaling_table()]))
    assert page.startswith("<h3>[shift:a-&gt;b] metric: ...</h3><table class=\"summary\"><tr><th>variant</th>")
    assert "<td>+178.0 ± 26.0 sd, 3 seeds</td>" in page and "<td>34.5 -&gt; 10.0</td>" in page
    assert page.count("<th>") == 9 and page.count("<td>") == 9
    assert "<li>best on target: m(experts=2) (290.9)</li>" in page


def test_sections_say_when_they_are_empty(tmp_path, toy_registry):
    bench = toy_benchmark(models=MODELS[:1], shifts=[], datasets=[{"name": "toy-questions", "args": {"n": 6}}])
    records = run_benchmark("toy", bench, tmp_path, registry=toy_registry).results
    found = summary.sections(records)
    assert [s.title for s in found] == ["Q1 expert count vs accuracy / latency / shift drop",
                                        "Q2 layer-wise modality specialization vs accuracy / throughput",
                                        "Q2 routing balance and routing shift"]
    assert all(s.empty and not s for s in found)  # no shift: nothing to summarize
    assert summary.section_text(found[0]) == [] and summary.section_html(found[0]) == ""
