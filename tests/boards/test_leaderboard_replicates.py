"""Boards pool replicates (runs, training seeds) with intervals, compare scaled variants with their base (TOST),
and flag latency measured on a busy machine."""

from __future__ import annotations

import copy
import math
from statistics import median

import numpy as np
import pytest
from conftest import toy_benchmark
from scipy.stats import t as student_t

from vleval.boards import build as leaderboard
from vleval.boards import render
from vleval.engine import machine_load
from vleval.executors.runner import run_benchmark
from vleval.results import sidecars as item_results
from vleval.stats.differences import level


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from conftest import explicit_registry

    folder = tmp_path_factory.mktemp("boards")
    bench = toy_benchmark(datasets=[], models=[{"name": "toy-moe", "sweep": {"experts": [2, 4]},
                                                "scaling": [{}, {"top_k": 1}]}])
    return run_benchmark("toy", bench, folder, registry=explicit_registry())


def _seeded(record, seed, target, ci):
    """A replicate of ``record`` as the plan makes it for ``replicates = { training_seed = [...] }``."""
    r = copy.deepcopy(record)
    r.cell["model_args"] = {**r.cell["model_args"], "training_seed": seed}
    r.cell["label"] = r.label.replace(")", f", training_seed={seed})")
    r.cell["variant"], r.cell["replicate"] = record.label, {"training_seed": seed}
    r.cell_key = f"{r.cell_key}-{seed}"
    entry = r.domains["target"].metrics["retrieval-recall"]["rsum"]
    entry.update(value=target, ci_low=ci[0], ci_high=ci[1])
    return r


def test_training_seed_replicates_are_one_row_with_the_between_seed_spread(run):
    base = next(r for r in run.results if r.label == "toy-moe(experts=2)")
    targets, cis = [100.0, 110.0, 121.0], [(90.0, 110.0), (98.0, 122.0), (111.0, 131.0)]
    records = [_seeded(base, s, v, ci) for s, (v, ci) in enumerate(zip(targets, cis, strict=True))]
    (board,) = leaderboard.build(records)
    (row,) = board.rows
    assert row.label == "toy-moe(experts=2)" and row.replicates == 3 and row.distinct_replicates == 3
    mean = np.mean(targets)
    within = math.sqrt(np.mean([((hi - lo) / (2 * 1.959964)) ** 2 for lo, hi in cis]))
    between = student_t.ppf(0.975, 2) * np.std(targets, ddof=1) / math.sqrt(3)
    half = math.sqrt((1.959964 * within) ** 2 + between ** 2)
    assert row.target == pytest.approx(mean)
    assert row.target_ci == pytest.approx((mean - half, mean + half), rel=1e-6)
    assert "3 (3 × training_seed)" in render.render([board], "md")


def test_runs_of_the_same_cells_pool_latency_as_a_median_with_an_envelope(run):
    base = next(r for r in run.results if r.label == "toy-moe(experts=4)")
    copies = []
    for scale in (1.0, 2.0, 5.0):
        r = copy.deepcopy(base)
        lat = r.domains["source"].latency
        lat["sample_ms"] = {k: v * scale for k, v in lat["sample_ms"].items()}
        lat["sample_ms_ci"] = {k: [v[0] * scale, v[1] * scale] for k, v in lat["sample_ms_ci"].items()}
        copies.append(r)
    (row,) = leaderboard.build(copies)[0].rows
    p50s = [r.domains["source"].latency["sample_ms"]["p50"] for r in copies]
    assert row.replicates == 3 and row.seeds == 1 and row.p50_ms == pytest.approx(median(p50s))
    lows = [r.domains["source"].latency["sample_ms_ci"]["p50"][0] for r in copies]
    highs = [r.domains["source"].latency["sample_ms_ci"]["p50"][1] for r in copies]
    assert row.p50_ci == pytest.approx((min(lows), max(highs)))


def test_scaled_variants_are_compared_with_their_base(run):
    items = item_results.reader({r.cell_key: run.path for r in run.results})
    rows = {r.label: r for r in leaderboard.build(run.results, items=items, margin=1000.0)[0].rows}
    value = {r.label: r.primary("target") for r in run.results}
    for experts in (2, 4):
        scaled, base = rows[f"toy-moe(experts={experts}, top_k=1)"], f"toy-moe(experts={experts})"
        assert scaled.vs_base == pytest.approx(value[scaled.label] - value[base])
        assert scaled.vs_base_ci[0] <= scaled.vs_base <= scaled.vs_base_ci[1]
        assert scaled.vs_base_equivalent  # inside ±1000 points of rsum
        assert rows[base].vs_base is None
    tight = {r.label: r for r in leaderboard.build(run.results, items=items, margin=1e-9)[0].rows}
    for r in tight.values():  # at a vanishing margin only a difference that is 0 in every resample is equivalent
        if r.vs_base is not None:
            assert r.vs_base_equivalent == (r.vs_base_ci == (0.0, 0.0)), r


def test_clustered_intervals_replace_the_metrics_own(run):
    items = item_results.reader({r.cell_key: run.path for r in run.results})
    record = run.results[0]
    row = next(r for r in leaderboard.build(run.results, items=items)[0].rows if r.label == record.label)
    found = level(items(record)["target"], "rsum")
    assert row.target_ci == (found.low, found.high)


def test_machine_load_flags_contention_by_hand():
    idle = {"loadavg_1m": 0.5, "cpus": 2, "spin_ms": 10.0}
    busy = {"loadavg_1m": 3.0, "cpus": 2, "spin_ms": 15.0}
    calm = machine_load.assess(idle, idle, baseline_ms=10.0)
    assert not calm["contended"] and calm["spin_slowdown"] == 1.0 and calm["load_per_cpu"] == 0.25
    loaded = machine_load.assess(idle, busy, baseline_ms=10.0)
    assert loaded["contended"] and loaded["spin_slowdown"] == 1.5 and loaded["load_per_cpu"] == 1.5
    assert loaded["excess_load_per_cpu"] == (3.0 - 1) / 2 and "beyond this run's 1 thread" in loaded["reason"]
    # the run's own two threads on two CPUs are not contention; a 1.5x slower spin alone is not either
    own = machine_load.assess(idle, busy, baseline_ms=10.0, own_threads=2)
    assert own["excess_load_per_cpu"] == 0.5 and not own["contended"]
    slow = machine_load.assess(idle, {**idle, "spin_ms": 25.0}, baseline_ms=10.0)
    assert slow["contended"] and "2.50x slower" in slow["reason"]
    assert machine_load.contended({"machine_load": loaded}).startswith("contended")
    assert "unsteady" in machine_load.contended({"passes": {"cv": 0.3}})
    assert machine_load.contended({"passes": {"cv": 0.01}}) is None
    snap = machine_load.snapshot()
    assert snap["spin_ms"] > 0 and snap["cpus"] >= 1
