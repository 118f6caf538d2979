"""Shift-drop verdicts from per-item rows: estimates equal the metric, intervals agree with an independent
bootstrap, pairing is detected, unsupported metrics get no interval."""

from __future__ import annotations

import numpy as np
import pytest

from vleval.stats import verdicts
from vleval.stats.paired import bootstrap_difference


def mc_rows(correct, rotations: int = 1) -> list[dict]:
    return [{"kind": "question", "id": str(q + r * 1_000_000), "cluster": str(q), "correct": bool(c)}
            for q, c in enumerate(correct) for r in range(rotations)]


def test_paired_accuracy_drop_agrees_with_an_independent_bootstrap():
    rng = np.random.default_rng(0)
    source = rng.random(300) < 0.8
    target = source & (rng.random(300) < 0.85)  # the target loses ~12 points on the same items
    verdict = verdicts.drop(mc_rows(source), mc_rows(target), "accuracy", resamples=4000)
    assert verdict.paired and verdict.estimate == pytest.approx(100 * (source.mean() - target.mean()))
    reference = bootstrap_difference(target.astype(float) * 100, source.astype(float) * 100, resamples=4000)
    assert verdict.low == pytest.approx(reference.low, abs=1.0) and verdict.high == pytest.approx(reference.high,
                                                                                                  abs=1.0)
    assert verdict.significant() and verdict.p_value < 0.001


def test_circular_accuracy_counts_a_group_only_if_all_rotations_are_right():
    source = mc_rows([1, 1, 1, 1], rotations=4)
    target = [dict(r) for r in source]
    target[5]["correct"] = False  # question 1, one rotation wrong
    verdict = verdicts.drop(source, target, "circular_accuracy", resamples=200)
    assert verdict.estimate == pytest.approx(25.0)


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

    verdict = verdicts.drop(source, target, "rsum", resamples=500)
    expected = rsum([0, 3, 7, 20], [0, 0, 4, 9, 12, 30, 1, 2]) - rsum([1, 30, 30, 30], [30, 0] + [30] * 6)
    assert not verdict.paired and verdict.estimate == pytest.approx(expected)
    assert verdict.low <= verdict.estimate <= verdict.high


def test_corpus_level_scores_get_no_interval():
    rows = [{"kind": "image", "id": "1", "cluster": "1", "bleu_4": 20.0, "cider": 50.0}]
    assert verdicts.drop(rows, rows, "bleu_4") is None
    assert verdicts.drop(rows, rows, "cider").estimate == 0.0


def test_holm_adjusts_a_boards_drops_together():
    rows_a = mc_rows([1] * 50)
    rows_b = mc_rows([1] * 25 + [0] * 25)
    found = verdicts.adjust([verdicts.drop(rows_a, rows_b, "accuracy", resamples=300), None,
                             verdicts.drop(rows_a, rows_a, "accuracy", resamples=300)])
    assert found[1] is None and found[0].p_adjusted == pytest.approx(min(1.0, 2 * found[0].p_value))
