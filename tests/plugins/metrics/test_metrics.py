"""Metric arithmetic against hand-worked and brute-force answers."""

from __future__ import annotations

import numpy as np
import pytest

from vleval.api import MCOutputs, RetrievalOutputs, extract_choice
from vleval_metrics.choice import Accuracy, CircularAccuracy
from vleval_metrics.retrieval import RetrievalRecall
from vleval_metrics.stats import percent_with_ci


def brute_force_recall(sim: np.ndarray, owner: np.ndarray, k: int) -> tuple[float, float]:
    i2t = np.mean([any(owner[t] == i for t in np.argsort(-sim[i], kind="stable")[:k]) for i in range(sim.shape[0])])
    t2i = np.mean([owner[t] in np.argsort(-sim[:, t], kind="stable")[:k] for t in range(sim.shape[1])])
    return 100 * i2t, 100 * t2i


def test_recall_matches_brute_force_with_five_captions_per_image():
    rng = np.random.default_rng(0)
    owner = np.repeat(np.arange(30), 5)
    sim = rng.normal(size=(30, 150)) + 2.0 * (owner[None, :] == np.arange(30)[:, None])
    out = RetrievalRecall().compute(RetrievalOutputs(sim, owner))
    for k in (1, 5, 10):
        i2t, t2i = brute_force_recall(sim, owner, k)
        assert out[f"i2t_r{k}"].value == pytest.approx(i2t)
        assert out[f"t2i_r{k}"].value == pytest.approx(t2i)
    assert out["rsum"].value == pytest.approx(sum(v.value for key, v in out.items() if key != "rsum"))
    assert 0 < out["i2t_r1"].value < 100


def test_ties_are_ranked_like_a_stable_sort():
    owner = np.repeat(np.arange(6), 2)
    sim = np.round(np.random.default_rng(1).normal(size=(6, 12)), 0)  # many ties
    out = RetrievalRecall().compute(RetrievalOutputs(sim, owner))
    for k in (1, 5, 10):
        i2t, t2i = brute_force_recall(sim, owner, k)
        assert out[f"i2t_r{k}"].value == pytest.approx(i2t)
        assert out[f"t2i_r{k}"].value == pytest.approx(t2i)


def test_recall_hand_worked():
    owner = np.array([0, 0, 1, 1])
    sim = np.array([[0.1, 0.9, 0.8, 0.0],    # image 0: best caption is its own (1)
                    [0.9, 0.1, 0.2, 0.3]])   # image 1: best is caption 0 (wrong), then 3 (its own)
    out = RetrievalRecall().compute(RetrievalOutputs(sim, owner))
    assert out["i2t_r1"].value == 50.0
    assert out["t2i_r1"].value == 50.0  # captions 1 and 3 rank their image first; 0 and 2 do not


def test_accuracy_counts_unanswered_as_wrong_and_reports_them():
    out = Accuracy().compute(MCOutputs(predictions=["A", None, "B", "C"], answers=["A", "B", "B", "D"],
                                       indices=[0, 1, 2, 3]))
    assert out["accuracy"].value == 50.0
    assert out["unanswered"].value == 25.0


def test_circular_eval_needs_every_rotation_right_and_ignores_incomplete_groups():
    indices = [0, 1_000_000, 2_000_000, 3_000_000, 1, 1_000_001, 2_000_001, 3_000_001, 2]
    predictions = ["A", "B", "C", "D", "A", "B", "C", "A", "A"]
    answers = ["A", "B", "C", "D", "A", "B", "C", "D", "A"]
    out = CircularAccuracy(extraction="strict").compute(MCOutputs(predictions, answers, indices, num_options=[4] * 9))
    assert out["circular_accuracy"].value == 50.0  # question 0 all right; question 1 one rotation wrong
    assert out["questions"].value == 2 and out["incomplete_questions"].value == 1
    # VLMEvalKit's grouping scores question 2 on the one row present (its rotation 0), which is right
    out = CircularAccuracy().compute(MCOutputs(predictions, answers, indices, num_options=[4] * 9))
    assert out["circular_accuracy"].value == pytest.approx(200 / 3) and out["questions"].value == 3


def test_wilson_interval_is_not_degenerate_at_the_edges():
    full = percent_with_ci([1.0] * 8)
    assert full.value == 100.0 and full.ci_high == pytest.approx(100.0) and 60 < full.ci_low < 75
    half = percent_with_ci([1.0, 0.0] * 50)
    assert half.ci_low == pytest.approx(40.4, abs=0.1) and half.ci_high == pytest.approx(59.6, abs=0.1)


@pytest.mark.parametrize(("answer", "expected"), [
    ("B", "B"), ("(C) cat", "C"), ("D. dog", "D"), ("The answer is B.", "B"), ("blue, clearly", "B"),
    ("I think it is C, not D", None), ("no idea", None), ("A", "A"),
])
def test_extract_choice(answer, expected):
    assert extract_choice(answer, {"A": "red circle", "B": "blue", "C": "cat", "D": "dog"}) == expected


def test_article_a_is_not_read_as_option_a():
    assert extract_choice("A red circle", {"A": "blue", "B": "a red circle", "C": "cat", "D": "dog"}) == "B"


def test_caption_outcomes_are_clustered_by_image():
    hits = [1.0] * 5 + [0.0] * 5  # two images: all captions right, all wrong
    clustered = percent_with_ci(hits, clusters=[0] * 5 + [1] * 5)
    independent = percent_with_ci(hits)
    assert clustered.value == independent.value == 50.0
    assert clustered.ci_high - clustered.ci_low > independent.ci_high - independent.ci_low  # 2 images, not 10 draws
