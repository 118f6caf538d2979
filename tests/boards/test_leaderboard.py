"""Leaderboards rank only comparable records and mark the accuracy/latency Pareto front."""

from __future__ import annotations

import copy

import pytest
from conftest import toy_benchmark

from vleval.boards import build as leaderboard
from vleval.boards import render
from vleval.boards.board import Row
from vleval.boards.pareto import mark_pareto
from vleval.executors.runner import run_benchmark


@pytest.fixture
def records(tmp_path, toy_registry):
    bench = toy_benchmark(datasets=[], models=[{"name": "toy-moe", "sweep": {"experts": [2, 4]}}])
    return run_benchmark("toy", bench, tmp_path, registry=toy_registry).results


def test_one_row_per_variant_with_source_target_and_drop(records):
    (board,) = leaderboard.build(records)
    assert board.metric == "retrieval-recall/rsum"
    assert sorted(r.label for r in board.rows) == ["toy-moe(experts=2)", "toy-moe(experts=4)"]
    for row in board.rows:
        assert row.drop == pytest.approx(row.source - row.target)
        assert row.p50_ms > 0 and row.throughput > 0
    assert any(r.pareto for r in board.rows)


def test_refuses_mixed_hardware_unless_allowed(records):
    other = copy.deepcopy(records[1])
    other.environment["hardware_id"] = "another-machine"
    with pytest.raises(leaderboard.NotComparable, match="hardware fingerprint differs"):
        leaderboard.build([records[0], other])
    assert leaderboard.build([records[0], other], allow_mixed=True)


def test_refuses_different_dataset_content(records):
    other = copy.deepcopy(records[1])
    other.domains["target"].dataset.content_hash = "f" * 64
    with pytest.raises(leaderboard.NotComparable, match="target dataset content hash differs"):
        leaderboard.build([records[0], other])


def test_refuses_different_metric_versions(records):
    other = copy.deepcopy(records[1])
    other.plugins.metrics[0].version = "9.9.9"
    with pytest.raises(leaderboard.NotComparable, match="metric versions differ"):
        leaderboard.build([records[0], other])


def test_pareto_front():
    rows = [Row(label=n, experts=None, top_k=None, active_params=None, source=a, target=None, drop=None,
                            p50_ms=t, p90_ms=t, throughput=None, seeds=1)
            for n, a, t in [("fast", 50.0, 1.0), ("accurate", 90.0, 5.0), ("dominated", 40.0, 6.0),
                            ("middle", 70.0, 2.0)]]
    mark_pareto(rows)
    assert {r.label for r in rows if r.pareto} == {"fast", "accurate", "middle"}


def test_variants_differing_only_in_fixed_arguments_get_their_own_rows(tmp_path, toy_registry):
    bench = toy_benchmark(datasets=[], models=[{"name": "toy-moe", "args": {"experts": 2}},
                                               {"name": "toy-moe", "args": {"experts": 4}}])
    (board,) = leaderboard.build(run_benchmark("toy", bench, tmp_path, registry=toy_registry).results)
    assert sorted(r.label for r in board.rows) == ["toy-moe(experts=2)", "toy-moe(experts=4)"]


def test_differently_configured_evaluations_get_their_own_boards(tmp_path, toy_registry):
    bench = toy_benchmark(shifts=[{"name": "toy-noise", "args": {"noise": 30.0}}, {"name": "toy-noise"}],
                          datasets=[], models=[{"name": "toy-moe"}])
    boards = leaderboard.build(run_benchmark("toy", bench, tmp_path, registry=toy_registry).results)
    assert sorted(b.evaluation for b in boards) == ["shift:toy-noise", "shift:toy-noise(noise=30.0)"]


def test_cli_refuses_invalid_records(tmp_path, capsys):
    from vleval.cli import main

    path = tmp_path / "bad.jsonl"
    path.write_text('{"status": "ok", "primary_metric": {"metric": "m", "key": "k"}}\n')
    assert main(["leaderboard", str(path)]) == 2
    assert "not valid results" in capsys.readouterr().err


def test_no_throughput_for_a_model_that_does_no_work(records):
    idle = copy.deepcopy(records[0])
    idle.model_info["active_params_per_token"] = 0  # e.g. a blind baseline: the timer measures call overhead only
    (board,) = leaderboard.build([idle, records[1]])
    rows = {r.label: r for r in board.rows}
    assert rows[idle.label].throughput is None and rows[idle.label].p50_ms is not None
    assert rows[records[1].label].throughput == records[1].domains["source"].throughput
    line = next(line for line in render.render([board], "md").splitlines() if line.startswith(f"| {idle.label} |"))
    assert line.split(" | ")[9] == "-"  # samples/s


def test_a_margin_that_is_not_positive_is_refused(records):
    for margin in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="equivalence margin must be a positive number"):
            leaderboard.build(records, margin=margin)
