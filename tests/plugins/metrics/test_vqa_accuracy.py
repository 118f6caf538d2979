"""VQA accuracy (``vleval_metrics.vqa_accuracy``) by hand: when each normalisation step runs per mode, the
leave-one-out average (brute force), each reference's summation, and the official rounding and report. The
comparison with the references' own code is in ``test_vqa_accuracy_references.py``."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from fractions import Fraction

import numpy as np
import pytest

from vleval_metrics.vqa_accuracy import official_percent, official_round, vqa_accuracy, vqa_item_score, vqa_score
from vleval_metrics.vqa_normalize import VQA_MODES, normalize_vqa_item

# ------------------------------------------------------------------------ when each step runs (VQA accuracy)


def test_official_processes_nothing_more_when_the_answers_are_all_identical():
    # vqaEval.py a013f00: punctuation and digits/articles run only if len(set(gtAnswers)) > 1, on both sides
    assert normalize_vqa_item("Yes", ["yes"] * 10).prediction == "Yes"
    assert vqa_accuracy("Yes", ["yes"] * 10) == 0.0
    assert vqa_accuracy("yes.", ["yes"] * 10) == 0.0
    assert vqa_accuracy("yes", ["yes"] * 10) == 1.0
    assert vqa_accuracy("Yes", ["yes"] * 9 + ["no"]) == 1.0
    # identical once newlines/tabs are replaced and the answers stripped
    assert vqa_accuracy("Yes", ["yes"] * 9 + [" yes\n"]) == 0.0
    assert vqa_accuracy("2", ["two"] * 10) == 0.0
    for mode in ("official-2017", "lmms-eval", "lmms-eval-evalai", "vlmevalkit"):
        assert vqa_accuracy("Yes", ["yes"] * 10, mode) == 1.0


def test_official_2017_processes_the_prediction_always_and_the_answers_only_for_punctuation():
    # vqaEval.py a4f1afd: prediction cleaned + punctuation + digits/articles; answers: punctuation only, if differing
    item = normalize_vqa_item("Two.", ["Two!"] * 4 + ["3"] * 6, "official-2017")
    assert item.prediction == "2" and item.answers[:4] == ("Two ",) * 4
    assert vqa_accuracy("two", ["Two"] * 4 + ["3"] * 6, "official-2017") == 0.0
    assert vqa_accuracy("two", ["Two"] * 4 + ["3"] * 6, "official") == 1.0
    # answers are not cleaned of newlines in 2017
    assert vqa_accuracy("yes", ["yes\n"] * 4 + ["no"] * 6, "official-2017") == 0.0
    assert vqa_accuracy("yes", ["yes\n"] * 4 + ["no"] * 6, "official") == 1.0
    assert vqa_accuracy("2", ["two"] * 10, "official-2017") == 0.0  # identical answers keep "two"


def test_crafted_answers_per_rule():
    assert vqa_accuracy("Two dogs.", ["2 dogs"] * 3 + ["dogs"] * 7) == 0.9
    assert vqa_accuracy("it's", ["its"] * 4 + ["it"] * 6) == 0.0
    assert vqa_accuracy("it's", ["it's"] * 4 + ["it"] * 6) == 1.0
    assert vqa_accuracy("a cat", ["cat"] * 4 + ["dog"] * 6) == 1.0
    assert vqa_accuracy("1,000", ["1000"] * 4 + ["1 000"] * 6) == 1.0
    assert vqa_accuracy("yes.", ["yes"] * 4 + ["no"] * 6) == 1.0


def test_modes_differ_where_the_references_do():
    answers = ["1000"] * 4 + ["x"] * 6
    assert [vqa_accuracy("1,,000", answers, m) for m in VQA_MODES] == [0.0, 0.0, 1.0, 1.0, 0.0]
    answers = ["2"] * 4 + ["3"] * 6
    assert [vqa_accuracy("2.", answers, m) for m in VQA_MODES] == [1.0, 1.0, 1.0, 1.0, 0.0]  # trailing period
    answers = ["dog 's"] * 4 + ["x"] * 6
    assert [vqa_accuracy("dog's", answers, m) for m in VQA_MODES] == [0.0, 0.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize(("k", "expected"), [(0, "0"), (1, "3/10"), (2, "6/10"), (3, "9/10"), (4, "1"), (10, "1")])
def test_leave_one_out_by_hand(k, expected):
    # k of 10 humans gave the answer: k subsets see k-1 others matching, 10-k subsets see k; each scores
    # min(1, matches/3): k=1: 9 * 1/3 / 10; k=2: (2 * 1/3 + 8 * 2/3) / 10; k=3: (3 * 2/3 + 7) / 10
    answers = ["yes"] * k + ["no"] * (10 - k)
    for mode in VQA_MODES:
        assert vqa_accuracy("yes", answers, mode) == pytest.approx(float(Fraction(expected)), abs=1e-15)
    assert vqa_accuracy("yes", answers, "lmms-eval") == float(Fraction(expected))  # statistics.mean is exact


def brute_force(prediction: str, answers: list[str]) -> Fraction:
    """The VQA accuracy from its definition: every 9-subset of the 10 answers, min(1, matches / 3), averaged."""
    n = len(answers)
    scores = [min(Fraction(1), Fraction(sum(answers[i] == prediction for i in subset), 3))
              for subset in itertools.combinations(range(n), n - 1)]
    return sum(scores, Fraction(0)) / len(scores)


def test_leave_one_out_average_by_brute_force():
    rng = random.Random(7)
    for _ in range(300):
        pool = ["cat", "dog", "bird"][: rng.randint(1, 3)]
        answers = [rng.choice(pool) for _ in range(10)]
        prediction = rng.choice(pool + ["fish"])
        exact = brute_force(prediction, answers)
        for mode in VQA_MODES:
            item = vqa_item_score(prediction, answers, mode)
            assert Fraction(item.value) == pytest.approx(exact, abs=1e-15)
            assert item.subset_scores == tuple(
                float(min(Fraction(1), Fraction(sum(a == prediction for j, a in enumerate(answers) if j != i), 3)))
                for i in range(10))
        # lmms-eval's statistics.mean is exact then rounded once
        assert vqa_accuracy(prediction, answers, "lmms-eval") == float(exact)


def test_sums_follow_each_reference():
    # one matching answer: leaving it out leaves no match (0), leaving out any other leaves it (1/3); the official
    # Python 2 sum runs left to right, lmms-eval's statistics.mean is exact, VLMEvalKit's np.mean pairwise
    answers = ["no"] + ["yes"] * 9
    subsets = [0.0] + [1 / 3] * 9
    assert vqa_item_score("no", answers).subset_scores == tuple(subsets)
    total = 0
    for s in subsets:
        total = total + s
    assert vqa_accuracy("no", answers, "official") == total / 10
    assert vqa_accuracy("no", answers, "lmms-eval") == statistics.mean(subsets)
    assert vqa_accuracy("no", answers, "vlmevalkit") == float(np.mean(subsets))


def test_a_single_answer_string_is_one_answer():
    assert vqa_item_score("cat", "cat").answers == ("cat",)
    assert vqa_accuracy("cat", "cat") == 0.0  # leaving the only answer out leaves nothing to match


def test_empty_answers_follow_the_references():
    with pytest.raises(ValueError):
        vqa_accuracy("x", [])
    with pytest.raises(ValueError):
        vqa_accuracy("x", [], "lmms-eval")
    assert vqa_accuracy("x", [], "lmms-eval-evalai") == 0.0  # ok_vqa_process_results: ``if gtAcc`` else 0
    assert math.isnan(vqa_accuracy("x", [], "vlmevalkit"))
    with pytest.raises(ValueError, match="unknown VQA mode"):
        vqa_accuracy("x", ["x"], "vqa")


# ------------------------------------------------------------------------------------ aggregates and rounding


def test_vqa_score_overall_and_per_type():
    predictions = ["yes", "2", "red", "3"]
    answers = [["yes"] * 10, ["2"] + ["3"] * 9, ["blue"] * 10, ["3"] * 3 + ["4"] * 7]
    score = vqa_score(predictions, answers, answer_types=["yes/no", "number", "other", "number"],
                      question_types=["is the", "how many", "what color is the", "how many"])
    assert score.per_question == (1.0, vqa_accuracy("2", answers[1]), 0.0, vqa_accuracy("3", answers[3]))
    assert score.per_question[1] == pytest.approx(0.3) and score.per_question[3] == pytest.approx(0.9)
    assert score.value == pytest.approx(2.2 / 4)
    assert score.by_answer_type == {"yes/no": 1.0, "number": pytest.approx(0.6), "other": 0.0}
    assert list(score.by_question_type) == ["is the", "how many", "what color is the"]
    report = score.official_report()
    assert report.overall == 55.0
    assert report.per_answer_type == {"yes/no": 100.0, "number": 60.0, "other": 0.0}
    assert report.per_question == (100.0, 30.0, 0.0, 90.0)
    assert vqa_score(predictions, answers).by_answer_type == {}


def test_official_rounding_is_python2_round():
    assert official_round(0.125) == 0.13 and round(0.125, 2) == 0.12  # halves away from zero, not to even
    assert official_round(0.375) == 0.38
    assert official_round(-0.125) == -0.13
    assert official_round(2.675) == 2.67  # stored as 2.67499999...
    assert official_round(100 * 0.3) == 30.0  # 30.000000000000004
    assert official_round(12.5) == 12.5
    assert math.isnan(official_round(math.nan)) and official_round(math.inf) == math.inf
    # a tie the official overall can produce: 1 right answer in 800
    assert official_percent([1.0] + [0.0] * 799) == 0.125
    score = vqa_score(["yes"] + ["no"] * 799, [["yes"] * 10] * 800)
    assert score.official_report().overall == 0.13


def test_official_percent_multiplies_before_dividing():
    values = [0.3, 0.6, 0.9, 1.0, 0.3, 0.3, 0.6]
    total = 0
    for v in values:
        total = total + v
    assert official_percent(values) == 100 * total / len(values)


def test_vqa_score_validates_its_input():
    with pytest.raises(ValueError):
        vqa_score(["a"], [])
    with pytest.raises(ValueError):
        vqa_score([], [])
    with pytest.raises(ValueError):
        vqa_score(["a"], [["a"]], answer_types=["x", "y"])
