"""The board and ``vleval compare`` make the same comparison with the same engine: bit-identical numbers."""

from __future__ import annotations

import pytest
from conftest import explicit_registry, toy_benchmark

from vleval.boards import build as leaderboard
from vleval.executors.runner import run_benchmark
from vleval.results import sidecars
from vleval.stats.compare import compare_results, compare_rows


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    bench = toy_benchmark(datasets=[], models=[{"name": "toy-moe", "args": {"jitter": 0.4}, "sweep": {"experts": [4]},
                                                "scaling": [{}, {"top_k": 1}]}],
                          shifts=[{"name": "toy-noise", "args": {"dataset": "toy-questions", "n": 12}}])
    return run_benchmark("toy", bench, tmp_path_factory.mktemp("vs-compare"), registry=explicit_registry())


def test_drops_and_vs_base_equal_compare_bit_for_bit(run):
    items = sidecars.reader({r.cell_key: run.path for r in run.results})
    (board,) = leaderboard.build(run.results, items=items)
    assert board.metric == "mc-accuracy/accuracy" and len(board.rows) == 2
    rows = {row.label: row for row in board.rows}
    base, scaled = "toy-moe(jitter=0.4, experts=4)", "toy-moe(jitter=0.4, experts=4, top_k=1)"
    for label, row in rows.items():
        ((accuracy,),) = [b.comparisons for b in compare_results([run.path], label, None)]
        d = accuracy.difference  # target - source; the board shows source - target
        assert accuracy.outcome == "accuracy" and accuracy.test == "paired cluster bootstrap"
        assert row.drop_ci == (-d.high, -d.low) and row.drop == pytest.approx(-d.estimate)
    # vs base: the toy's top-k changes no answer, so the scaled variant's rows get some wrong ones
    scaled_record = next(r for r in run.results if r.label == scaled)
    worse = {domain: [{**r, "correct": r["correct"] and i % 5 != 0} for i, r in enumerate(rows_)]
             for domain, rows_ in items(scaled_record).items()}
    (board,) = leaderboard.build(run.results, items=lambda r: worse if r is scaled_record else items(r))
    row = next(row for row in board.rows if row.label == scaled)
    base_record = next(r for r in run.results if r.label == base)
    (accuracy,) = compare_rows(items(base_record)["target"], worse["target"])  # b - a: scaled - base
    d = accuracy.difference
    assert (row.vs_base, row.vs_base_ci) == (d.estimate, (d.low, d.high)) and d.low < d.high < 0
