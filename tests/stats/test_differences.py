"""Levels and differences from per-item rows: estimates equal the metric, the paired interval is the bootstrap of
the difference (brute force), ``vleval compare`` gets the same numbers bit for bit, pairing is detected,
unsupported metrics get no interval, Holm adjusts a family."""

from __future__ import annotations

import numpy as np
import pytest

from vleval.stats import bootstrap
from vleval.stats.compare import compare_rows
from vleval.stats.differences import adjust, difference, level


def mc_rows(correct, rotations: int = 1) -> list[dict]:
    return [{"kind": "question", "id": str(q + r * 1_000_000), "cluster": str(q), "correct": bool(c)}
            for q, c in enumerate(correct) for r in range(rotations)]


def _paired_data(n: int = 300):
    rng = np.random.default_rng(0)
    source = rng.random(n) < 0.8
    return source, source & (rng.random(n) < 0.85)  # the target loses ~12 points on the same items


def test_paired_accuracy_drop_is_the_bootstrap_of_the_difference_by_brute_force():
    source, target = _paired_data()
    found = difference(mc_rows(source), mc_rows(target), "accuracy", resamples=1000, seed=3)
    assert found.paired and found.estimate == pytest.approx(100 * (source.mean() - target.mean()))
    (weights,) = bootstrap.multiplicities(3, 1000, len(source))  # every question its own cluster
    draws = [100 * (np.repeat(source, w.astype(int)).mean() - np.repeat(target, w.astype(int)).mean())
             for w in weights]
    assert (found.low, found.high) == pytest.approx(tuple(np.quantile(draws, [0.025, 0.975])), abs=1e-9)
    assert found.significant() and found.p_value < 0.001


def test_compare_gets_the_boards_numbers_bit_for_bit():
    source, target = _paired_data()
    rows_s, rows_t = mc_rows(source, rotations=2), mc_rows(target, rotations=2)
    board = difference(rows_s, rows_t, "accuracy", resamples=800, seed=5)
    (compared,) = compare_rows(rows_s, rows_t, resamples=800, seed=5)  # b - a: target - source
    d = compared.difference
    assert (d.estimate, d.low, d.high) == (-board.estimate, -board.high, -board.low)
    assert d.p_value == board.p_value == compared.p_value and compared.test == "paired cluster bootstrap"
    assert (compared.a, compared.b) == (board.first, board.second)


def test_reversed_reads_the_same_comparison_the_other_way():
    source, target = _paired_data(80)
    found = difference(mc_rows(source), mc_rows(target), "accuracy", resamples=300, margin=5.0)
    back = found.reversed()
    assert (back.first, back.second, back.estimate) == (found.second, found.first, -found.estimate)
    assert (back.low, back.high) == (-found.high, -found.low) and back.reversed() == found
    assert (back.p_value, back.tost_p) == (found.p_value, found.tost_p)


def test_level_is_the_metric_with_its_cluster_interval():
    source, _ = _paired_data(60)
    found = level(mc_rows(source, rotations=4), "accuracy", resamples=400)
    assert found.estimate == pytest.approx(100 * source.mean()) and found.low <= found.estimate <= found.high
    assert level([], "accuracy") is None and level(mc_rows(source), "bleu_4") is None


def test_circular_accuracy_counts_a_group_only_if_all_rotations_are_right():
    source = mc_rows([1, 1, 1, 1], rotations=4)
    target = [dict(r) for r in source]
    target[5]["correct"] = False  # question 1, one rotation wrong
    assert difference(source, target, "circular_accuracy", resamples=200).estimate == pytest.approx(25.0)


def test_unpaired_retrieval_drop_recomputes_rsum():
    def rows(ranks_i2t, ranks_t2i, prefix):
        out = [{"kind": "image", "id": f"{prefix}{i}", "cluster": f"{prefix}{i}", "i2t_rank": r}
               for i, r in enumerate(ranks_i2t)]
        out += [{"kind": "text", "id": f"{prefix}{i // 2}#{i % 2}", "cluster": f"{prefix}{i // 2}", "t2i_rank": r}
                for i, r in enumerate(ranks_t2i)]
        return out

    source = rows([0, 3, 7, 20], [0, 0, 4, 9, 12, 30, 1, 2], "f")
    target = rows([1, 30, 30, 30], [30, 0, 30, 30, 30, 30, 30, 30], "c")

    def rsum(r_i2t, r_t2i):
        return sum(100 * np.mean(np.asarray(r) < k) for r in (r_i2t, r_t2i) for k in (1, 5, 10))

    found = difference(source, target, "rsum", resamples=500)
    expected = rsum([0, 3, 7, 20], [0, 0, 4, 9, 12, 30, 1, 2]) - rsum([1, 30, 30, 30], [30, 0] + [30] * 6)
    assert not found.paired and found.estimate == pytest.approx(expected)
    assert found.low <= found.estimate <= found.high and found.test == "unpaired cluster bootstrap"


def test_corpus_level_scores_get_no_interval():
    rows = [{"kind": "image", "id": "1", "cluster": "1", "bleu_4": 20.0, "cider": 50.0}]
    assert difference(rows, rows, "bleu_4") is None
    assert difference(rows, rows, "cider").estimate == 0.0


def test_holm_adjusts_a_family_and_equivalence_needs_the_interval_inside_the_margin():
    rows_a = mc_rows([1] * 50)
    rows_b = mc_rows([1] * 25 + [0] * 25)
    found = adjust([difference(rows_a, rows_b, "accuracy", resamples=300, margin=1.0), None,
                    difference(rows_a, rows_a, "accuracy", resamples=300, margin=1.0)])
    assert found[1] is None and found[0].p_adjusted == pytest.approx(min(1.0, 2 * found[0].p_value))
    assert found[2].estimate == found[2].low == found[2].high == 0.0 and found[2].equivalent()
    assert not found[0].equivalent() and found[0].significant()


def test_clusters_widen_the_interval_when_outcomes_move_together():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 2, 40), rng.integers(0, 2, 40)
    clustered = difference(mc_rows(a, rotations=5), mc_rows(b, rotations=5), "accuracy", resamples=1500)
    naive = [{**r, "cluster": r["id"]} for r in mc_rows(a, rotations=5)]  # 200 "independent" items
    independent = difference(naive, [{**r, "cluster": r["id"]} for r in mc_rows(b, rotations=5)], "accuracy",
                             resamples=1500)
    assert clustered.estimate == pytest.approx(independent.estimate)
    assert (clustered.high - clustered.low) > 1.8 * (independent.high - independent.low)  # about sqrt(5) wider
