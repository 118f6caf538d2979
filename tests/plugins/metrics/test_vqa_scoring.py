"""Open-ended VQA scoring (``vleval_metrics.vqa_normalize``, ``vleval_metrics.vqa_scoring``) against values
derived independently.

Two kinds of tests:

* by hand: one crafted case per normalisation rule and per quirk of each reference, expected strings and scores
  worked out from the references' code (cited per test), brute force for the leave-one-out average, numpy itself
  for numpy's summation;
* against the references themselves, run on generated items and compared value by value, exactly (``==`` on
  floats): the official ``vqaEval.py`` (both versions, unmodified, under Python 2.7), lmms-eval's and VLMEvalKit's
  functions, and POPE's ``evaluate.py``. Their files are never in this repository: they are read from
  ``$VLEVAL_VQA_REFS`` (default ``/tmp/vleval_vqa_refs``) and these tests skip, saying why, when a file or the
  Python 2 interpreter (``$VLEVAL_PYTHON2``, else a pyenv 2.7 or ``python2`` on the path) is missing. To fill the
  folder from the public repositories (snapshots: GT-Vision-Lab/VQA, EvolvingLMMs-Lab/lmms-eval,
  open-compass/VLMEvalKit, RUCAIBox/POPE)::

      R=/tmp/vleval_vqa_refs; mkdir -p $R/lmms_eval $R/vlmevalkit
      git -C VQA show a013f00:PythonEvaluationTools/vqaEvaluation/vqaEval.py > $R/vqaEval.py
      git -C VQA show a4f1afd:PythonEvaluationTools/vqaEvaluation/vqaEval.py > $R/vqaEval_2017.py
      git -C VQA show a013f00:PythonHelperTools/vqaTools/vqa.py > $R/vqa.py
      for f in tasks/_task_utils/vqa_eval_metric.py tasks/vqav2/utils.py tasks/ok_vqa/utils.py \\
               tasks/textvqa/utils.py tasks/chartqa/utils.py tasks/pope/utils.py api/metrics.py; do
          git -C lmms-eval show HEAD:lmms_eval/$f > $R/lmms_eval/$(echo $f | tr / _); done
      git -C VLMEvalKit show HEAD:vlmeval/dataset/utils/vqa_eval.py > $R/vlmevalkit/vqa_eval.py
      git -C VLMEvalKit show HEAD:vlmeval/smp/misc.py > $R/vlmevalkit/smp_misc.py
      git -C VLMEvalKit show HEAD:vlmeval/dataset/utils/yorn.py > $R/vlmevalkit/yorn.py
      git -C POPE show HEAD:evaluate.py > $R/pope_evaluate.py

The hand-derived tests never need these files.
"""

from __future__ import annotations

import ast
import contextlib
import io
import itertools
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vleval_metrics import vqa_scoring
from vleval_metrics.vqa_normalize import (
    VQA_MODES,
    clean_whitespace,
    evalai_word_tokenize,
    normalize_answer,
    normalize_vqa_item,
    process_digit_article,
    process_punctuation,
)
from vleval_metrics.vqa_scoring import (
    anls,
    anls_score,
    exact_match,
    exact_match_score,
    levenshtein_distance,
    normalized_levenshtein,
    official_percent,
    official_round,
    pope_answer,
    pope_score,
    pope_score_by_category,
    relaxed_accuracy,
    relaxed_accuracy_score,
    relaxed_correctness,
    vqa_accuracy,
    vqa_item_score,
    vqa_score,
)

REFS = Path(os.environ.get("VLEVAL_VQA_REFS", "/tmp/vleval_vqa_refs"))


# ------------------------------------------------------------------------------- normalisation, rule by rule


def test_newline_and_tab_become_spaces_then_strip():
    assert clean_whitespace("\tyes\n") == "yes"
    assert clean_whitespace("red\nand\twhite") == "red and white"
    assert clean_whitespace("a\rb ") == "a\rb"  # only \n and \t are replaced


def test_a_mark_without_a_space_beside_it_becomes_a_space():
    assert process_punctuation("a-b") == "a b"
    assert process_punctuation("x/y") == "x y"
    assert process_punctuation("x;y") == "x y"
    assert process_punctuation("c++") == "c  "


def test_a_mark_with_a_space_beside_it_anywhere_is_deleted_everywhere():
    assert process_punctuation("x - y") == "x  y"
    assert process_punctuation("x, y") == "x y"
    assert process_punctuation("x-y - z") == "xy  z"  # the test is on the whole input: every '-' goes


def test_a_digit_comma_digit_anywhere_deletes_every_mark():
    assert process_punctuation("1,000") == "1000"
    assert process_punctuation("a-b 1,2") == "ab 12"  # the '-' is deleted too, not only the comma
    assert process_punctuation("x,y") == "x y"  # no digits: the comma becomes a space


def test_marks_outside_the_list_stay():
    assert process_punctuation("it's") == "it's"
    assert process_punctuation("3:00") == "3:00"
    assert process_punctuation("50% & $5 #1 *") == "50% & $5 #1 *"


def test_periods_go_unless_a_digit_follows():
    assert process_punctuation("yes.") == "yes"
    assert process_punctuation("e.g.") == "eg"
    assert process_punctuation("2.5") == "2.5"
    assert process_punctuation(".5") == ".5"
    # '(?!<=\d)' is a look-ahead, so a digit *before* the period does not protect it (official and lmms-eval)
    assert process_punctuation("2.") == "2"
    assert process_punctuation("3.b") == "3b"
    assert process_punctuation("2.", "lmms-eval") == "2"
    # VLMEvalKit's '(?<!\d)' is a true look-behind: a period after a digit stays
    assert process_punctuation("2.", "vlmevalkit") == "2."
    assert process_punctuation("3.b", "vlmevalkit") == "3.b"
    assert process_punctuation("yes.", "vlmevalkit") == "yes"


def test_at_most_32_periods_are_removed():
    # re.UNICODE (32) is passed where Pattern.sub takes ``count``
    assert process_punctuation("x" + "." * 40) == "x" + "." * 8
    assert process_punctuation("." * 32) == ""
    assert process_punctuation("x" + "." * 40, "vlmevalkit") == "x" + "." * 8


def test_comma_rules_differ_between_references():
    # official (\d)(\,)(\d): one comma; lmms-eval (?<=\d)(\,)+(?=\d): several in a row count too
    assert process_punctuation("1,,000") == "1  000"
    assert process_punctuation("1,,000", "lmms-eval") == "1000"
    assert process_punctuation("1,,000", "vlmevalkit") == "1  000"
    # Python 2 without re.UNICODE: \d is 0-9 only; Python 3: any decimal digit
    assert process_punctuation("\u0661,\u0662") == "\u0661 \u0662"
    assert process_punctuation("\u0661,\u0662", "vlmevalkit") == "\u0661\u0662"
    assert process_punctuation("\u0661,\u0662", "lmms-eval") == "\u0661\u0662"
    # and the period rule: a following Arabic-Indic digit protects the period in Python 3 only
    assert process_punctuation("x.\u0661") == "x\u0661"
    assert process_punctuation("x.\u0661", "lmms-eval") == "x.\u0661"


def test_number_words_become_digits():
    assert process_digit_article("Two dogs") == "2 dogs"
    assert process_digit_article("none") == "0"
    assert process_digit_article("zero ten") == "0 10"
    assert process_digit_article("eleven") == "eleven"  # only zero to ten


def test_articles_are_dropped():
    assert process_digit_article("a cat") == "cat"
    assert process_digit_article("The Cat") == "cat"
    assert process_digit_article("an apple on the table") == "apple on table"
    assert process_digit_article("a") == ""


def test_contractions_are_fixed_from_the_table():
    assert process_digit_article("dont") == "don't"
    assert process_digit_article("whats that") == "what's that"
    assert process_digit_article("its") == "its"  # not in the table: "it's" and "its" stay different
    assert process_digit_article("it's") == "it's"
    assert process_digit_article("Im") == "im"  # the table's "Im" cannot match after lower-casing
    assert process_digit_article("somebody'd") == "somebodyd"  # the table maps this one the other way round


def test_official_variant_lowercases_strips_and_splits_as_python_2():
    # vqaEval.py runs on Python 2.7: simple case mapping, no final sigma, U+180E is whitespace
    assert process_digit_article("\u0130") == "i"
    assert process_digit_article("\u0130", "vlmevalkit") == "i\u0307"
    assert process_digit_article("\u03a3\u03a3") == "\u03c3\u03c3"
    assert process_digit_article("\u03a3\u03a3", "lmms-eval") == "\u03c3\u03c2"
    assert clean_whitespace("\u180eyes") == "yes" and clean_whitespace("\u180eyes", "vlmevalkit") == "\u180eyes"
    assert process_digit_article("a\u180eb") == "b"  # two words, the article dropped
    assert process_digit_article("a\u180eb", "vlmevalkit") == "a\u180eb"


def test_full_official_normalisation():
    assert normalize_answer("Two dogs.") == "2 dogs"
    assert normalize_answer(" The 1,000 cats!\n") == "1000 cats"
    assert normalize_answer("yes.") == "yes"


def test_evalai_word_tokenize_runs_first_in_the_okvqa_textvqa_pipeline():
    assert evalai_word_tokenize("Dog's, bone?") == "dog 's bone"
    assert normalize_answer("Dog's, bone?", "lmms-eval-evalai") == "dog 's bone"
    assert normalize_answer("Dog's, bone?", "lmms-eval") == "dog's bone"
    # the comma is gone before the comma condition is checked: "1,000-2" keeps its '-' as a space
    assert normalize_answer("1,000-2", "lmms-eval-evalai") == "1000 2"
    assert normalize_answer("1,000-2", "lmms-eval") == "10002"


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


def test_numpy_mean_is_reproduced_bit_for_bit():
    rng = random.Random(3)
    for trial in range(400):
        n = rng.randint(1, 300) if trial % 20 else rng.randint(1000, 5000)
        values = [rng.choice([0.0, 1 / 3, 2 / 3, 1.0, rng.random(), rng.random() * 1e-9, rng.random() * 1e9])
                  for _ in range(n)]
        assert vqa_scoring._numpy_mean(values) == float(np.mean(values))
    assert math.isnan(vqa_scoring._numpy_mean([]))


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


# ---------------------------------------------------------------------------------------------- exact match


def test_exact_match_official_strict_and_vlmevalkit():
    assert exact_match("Two dogs.", ["2 dogs"]) == 1.0
    assert exact_match("Two dogs.", ["2 dogs"], "strict") == 0.0
    assert exact_match("Two dogs.", ["2 dogs"], "vlmevalkit") == 0.0
    assert exact_match("Yes", "yes") == 1.0  # the processing is unconditional here
    assert exact_match("yes", ["no", "yes"], "strict") == 1.0
    assert exact_match(" yes", ["yes"], "strict") == 0.0
    assert exact_match(" Yes ", ["yes"], "vlmevalkit") == 1.0
    assert exact_match("it's", ["its"]) == 0.0
    score = exact_match_score(["a cat", "dog", "x"], [["cat"], "Dog", ["y", "z"]], groups=["g", "h", "g"])
    assert score.per_item == (1.0, 1.0, 0.0) and score.value == 2 / 3 and score.by_group == {"g": 0.5, "h": 1.0}
    with pytest.raises(ValueError):
        exact_match("x", [])


# ------------------------------------------------------------------------------------------------------- ANLS


def test_levenshtein_distance():
    assert levenshtein_distance("kitten", "sitting") == 3
    assert levenshtein_distance("", "abc") == 3
    assert levenshtein_distance("flaw", "lawn") == 2
    assert levenshtein_distance("abc", "abc") == 0


def test_anls_by_hand():
    assert anls("hello", ["hello"]) == 1.0
    assert anls("helo", ["hello"]) == 1 - 1 / 5
    assert anls("Hello  World", ["hello world"]) == 1.0  # lower-case, whitespace runs collapse
    assert anls("abc", ["xyz", "abd"]) == 1 - 1 / 3  # best over the references
    assert anls("ab", ["cd"]) == 0.0  # below the threshold
    assert anls("ab", ["ac"]) == 0.5  # exactly the threshold is kept
    assert anls("ab", ["ac"], threshold=0.6) == 0.0
    assert anls("", [""]) == 1.0


def test_anls_denominator_uses_the_original_strings():
    assert normalized_levenshtein("hello   ", "helo") == 1 / 8
    assert anls("helo", ["hello   "]) == 1 - 1 / 8
    assert normalized_levenshtein("\u00dfa", "\u00dfb") == 1 / 3  # 'ß'.upper() is 'SS'
    # lmms-eval strips the model output first (task.py), VLMEvalKit does not
    assert anls("  helo  ", ["hello"], mode="lmms-eval") == 1 - 1 / 5
    assert anls("  helo  ", ["hello"], mode="vlmevalkit") == 1 - 1 / 8


def test_anls_mean():
    score = anls_score(["helo", "ab", "x"], [["hello"], ["cd"], "x"])
    assert score.per_item == (0.8, 0.0, 1.0) and score.value == (0.8 + 0.0 + 1.0) / 3
    assert anls_score(["helo", "ab", "x"], [["hello"], ["cd"], "x"], mode="vlmevalkit").value == float(
        np.mean([0.8, 0.0, 1.0]))


# ------------------------------------------------------------------------------------------- relaxed accuracy


def test_relaxed_correctness_by_hand():
    assert relaxed_correctness("12", "12.5")  # 0.04
    assert not relaxed_correctness("11.8", "12.5")  # 0.056
    assert relaxed_correctness("105", "100") and relaxed_correctness("95", "100")  # exactly 5 % is in
    assert not relaxed_correctness("105.01", "100")
    assert relaxed_correctness("12%", "0.12")  # a percentage sign divides by 100
    assert not relaxed_correctness("12%", "12")
    assert not relaxed_correctness("12", "12%")
    assert relaxed_correctness("12.", "12")  # a trailing period parses
    assert not relaxed_correctness("1,000", "1000")  # a comma does not: string comparison
    assert relaxed_correctness("Yes", "yes")  # non-numeric: case-insensitive equality
    assert not relaxed_correctness(" yes", "yes")  # no stripping inside relaxed_correctness
    assert not relaxed_correctness("0.0", "0")  # a zero target falls back to string equality
    assert relaxed_correctness("0", "0")
    assert not relaxed_correctness("nan", "nan")  # nan is truthy, nan <= 0.05 is false
    assert relaxed_correctness("1e3", "1000")


def test_relaxed_accuracy_strips_the_prediction_and_takes_the_best_target():
    assert relaxed_accuracy(" yes\n", "yes") == 1.0
    assert relaxed_accuracy("7", ["5", "7"]) == 1.0
    assert relaxed_accuracy("7", ["5", "6"]) == 0.0
    score = relaxed_accuracy_score(["12", "x", "3"], ["12.5", "y", "3"], groups=["human_test", "augmented_test",
                                                                                  "human_test"])
    assert score.value == 2 / 3 and score.by_group == {"human_test": 1.0, "augmented_test": 0.0}


# ------------------------------------------------------------------------------------------------------- POPE


def test_pope_answer_mappings():
    vk = [pope_answer(t) for t in ["Yes.", "No, there is not.", "Yes, no doubt", "yes/no", "YES!", "Not really",
                                   "Yes:", "yes, it is"]]
    assert vk == ["yes", "no", None, None, "yes", None, None, "yes"]
    lm = [pope_answer(t, "lmms-eval") for t in [" Yes ", "yes.", "No", "Yes, there is"]]
    assert lm == ["yes", None, "no", None]
    po = [pope_answer(t, "pope") for t in ["Yes, there is a dog.", "No.", "NO", "There is not a dog", "I don't know",
                                           "No!", "Yes. No.", "", "no, it isn't"]]
    assert po == ["yes", "no", "yes", "no", "yes", "yes", "yes", "yes", "no"]


PREDS = ["Yes", "yes.", "No", "maybe", "no", "Yes"]
LABELS = ["yes", "yes", "no", "yes", "yes", "no"]


def test_pope_score_lmms_eval_by_hand():
    s = pope_score(PREDS, LABELS, "lmms-eval")  # mapped: yes, -, no, -, no, yes
    assert (s.true_positive, s.false_positive, s.true_negative, s.false_negative, s.unmapped) == (1, 1, 1, 1, 2)
    assert s.accuracy == 2 / 6 and s.precision == 0.5
    assert s.recall == 0.5  # the two unmapped answers on yes labels are not false negatives here
    assert s.f1 == 0.5 and s.yes_ratio == 4 / 6  # the share of yes *labels*


def test_pope_score_vlmevalkit_by_hand():
    s = pope_score(PREDS, LABELS)  # mapped: yes, yes, no, -, no, yes
    assert (s.true_positive, s.false_positive, s.true_negative, s.false_negative, s.unmapped) == (2, 1, 1, 1, 1)
    assert s.accuracy == 3 / 6 and s.precision == 2 / 3
    assert s.recall == 2 / 4  # the unmapped answer on a yes label counts as a false negative
    assert s.f1 == 2 * (2 / 3 * 0.5) / (2 / 3 + 0.5) and s.yes_ratio == 3 / 6


def test_pope_score_original_by_hand():
    s = pope_score(PREDS, LABELS, "pope")  # mapped: yes, yes, no, yes, no, yes
    assert (s.true_positive, s.false_positive, s.true_negative, s.false_negative, s.unmapped) == (3, 1, 1, 1, 0)
    assert (s.accuracy, s.precision, s.recall, s.f1, s.yes_ratio) == (4 / 6, 0.75, 0.75, 0.75, 4 / 6)


def test_pope_zero_denominators():
    s = pope_score(["maybe", "hm"], ["yes", "no"], "lmms-eval")
    assert (s.accuracy, s.precision, s.recall, s.f1) == (0.0, 0.0, 0.0, 0.0)
    s = pope_score(["maybe", "hm"], ["yes", "no"])
    assert (s.precision, s.recall, s.f1, s.yes_ratio) == (0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ZeroDivisionError):
        pope_score(["No", "no"], ["yes", "no"], "pope")
    with pytest.raises(ValueError, match="yes or no"):
        pope_score(["yes"], ["maybe"])


def test_pope_by_category_explodes_like_vlmevalkit():
    preds, labels = ["yes", "no", "yes"], ["yes", "no", "no"]
    report = pope_score_by_category(preds, labels, ["adversarial,popular", "popular", "random"])
    assert report.overall.count == 4  # the first item counts once per listed category
    assert report.overall.true_positive == 2 and report.overall.false_positive == 1
    assert report.by_category["popular"].count == 2 and report.by_category["adversarial"].count == 1
    report = pope_score_by_category(preds, labels, ["adversarial,popular", "popular", "random"], "lmms-eval")
    assert report.overall.count == 3 and set(report.by_category) == {"adversarial,popular", "popular", "random"}


# =================================================================== against the references' own code (skips)

VQA_TOKENS = [
    "yes", "Yes", "YES", "no", "No", "two", "Two", "2", "ten", "10", "none", "0", "a", "an", "the", "The", "cat",
    "Cat", "cats", "dog's", "dogs", "it's", "its", "dont", "don't", "Im", "somebody'd", "whats", "1,000", "1000",
    "1,,000", "1 000", "3.5", "3.", ".5", "3.b", "e.g.", "a-b", "a - b", "(x)", "x!", "x?", "yes.", "yes!", "50%",
    "x/y", "x / y", "a,b", "1,2", "$5", "3:00", "...", "@home", "c++", "\u0661,\u0662", "\u0661\u0662", "x.\u0661",
    "x;y", '"q"', "[z]", "{w}", "=", "_", "<b>", "`", "\\", "+1", "x" + "." * 35, "?", "-", ",",
    "\u0130stanbul", "i\u0307stanbul", "\u03a3\u03a3", "\u03c3\u03c3", "\u03c3\u03c2", "a\u180eb", "\u180e",
    "a\xa0b", "\u3000", "\x1c", "\r",
]


def random_phrase(rng: random.Random) -> str:
    words = [rng.choice(VQA_TOKENS) for _ in range(rng.choice([1, 1, 1, 2, 2, 3]))]
    text = rng.choice([" ", " ", "  ", ""]).join(words)
    if rng.random() < 0.15:
        text = rng.choice(["\t", "\n", " ", "  ", "\xa0", "\u180e", "\x1c"]) + text
    if rng.random() < 0.15:
        text += rng.choice(["\t", "\n", " ", ".", "\u180e", "\u3000"])
    return text


def random_vqa_item(rng: random.Random) -> tuple[str, list[str]]:
    pool = [random_phrase(rng) for _ in range(rng.choice([1, 1, 2, 3, 4]))]
    answers = [rng.choice(pool) for _ in range(10)]
    base = rng.choice(pool)
    prediction = rng.choice([base, base, base.upper(), base + ".", base.capitalize(), " " + base, random_phrase(rng)])
    return prediction, answers


def random_vqa_items(seed: int, n: int) -> list[tuple[str, list[str]]]:
    rng = random.Random(seed)
    return [random_vqa_item(rng) for _ in range(n)]


def ref_file(relative: str) -> Path:
    path = REFS / relative
    if not path.is_file():
        pytest.skip(f"reference file {path} is absent (fetch it as this module's docstring shows)")
    return path


def load_defs(path: Path, names: list[str], namespace: dict) -> dict:
    """Execute only the named top-level functions/classes of a reference file (its imports are not needed)."""
    tree = ast.parse(path.read_text(), str(path))
    body = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names]
    for node in body:
        node.decorator_list = []  # lmms-eval's registry decorators: the plain functions are what we call
    missing = set(names) - {node.name for node in body}
    assert not missing, f"{path} no longer defines {sorted(missing)}"
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


def python2() -> str:
    candidates = [os.environ.get("VLEVAL_PYTHON2"), shutil.which("python2.7"), shutil.which("python2"),
                  *sorted(str(p) for p in Path.home().glob(".pyenv/versions/2.7*/bin/python"))]
    for exe in filter(None, candidates):
        try:
            out = subprocess.run([exe, "-c", "import sys; print(sys.version_info[0])"], capture_output=True,
                                 text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == "2":
            return exe
    pytest.skip("no Python 2.7 interpreter (set VLEVAL_PYTHON2): the official vqaEval.py is Python 2 code")


OFFICIAL_DRIVER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
module = __import__(sys.argv[2])
from vqa import VQA
annotations, questions, results, probe, out = sys.argv[3:8]

class Recording(module.VQAEval):
    raw = {}
    def setEvalQA(self, quesId, acc):
        self.raw[str(quesId)] = repr(acc)
        module.VQAEval.setEvalQA(self, quesId, acc)

vqa = VQA(annotations, questions)
ev = Recording(vqa, vqa.loadRes(results, questions), n=2)
ev.evaluate()
reprs = lambda d: dict((k, repr(v)) for k, v in d.items())
json.dump({"raw": ev.raw, "evalQA": dict((str(k), repr(v)) for k, v in ev.evalQA.items()),
           "overall": repr(ev.accuracy["overall"]), "perQuestionType": reprs(ev.accuracy["perQuestionType"]),
           "perAnswerType": reprs(ev.accuracy["perAnswerType"]),
           "rounded": [repr(round(float(x), 2)) for x in json.load(open(probe))]}, open(out, "w"))
"""


def run_official(tmp_path: Path, script: str, items, answer_types, question_types, probe) -> dict:
    exe = python2()
    ref_file(f"{script}.py")
    ref_file("vqa.py")
    annotations, questions, results = [], [], []
    rows = zip(items, answer_types, question_types, strict=True)
    for qid, ((prediction, answers), a_type, q_type) in enumerate(rows, 1):
        annotations.append({"question_id": qid, "image_id": qid, "question_type": q_type, "answer_type": a_type,
                            "multiple_choice_answer": answers[0],
                            "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                                        for i, a in enumerate(answers)]})
        questions.append({"question_id": qid, "image_id": qid, "question": "?"})
        results.append({"question_id": qid, "answer": prediction})
    meta = {"info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "val2014", "license": {}}
    files = {"ann.json": {**meta, "annotations": annotations}, "ques.json": {**meta, "questions": questions},
             "res.json": results, "probe.json": probe}
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data))
    (tmp_path / "driver.py").write_text(OFFICIAL_DRIVER)
    out = tmp_path / "out.json"
    done = subprocess.run([exe, str(tmp_path / "driver.py"), str(REFS), script,
                           *(str(tmp_path / n) for n in files), str(out)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize(("script", "mode"), [("vqaEval", "official"), ("vqaEval_2017", "official-2017")])
def test_official_vqaeval_py_itself(tmp_path, script, mode):
    items = random_vqa_items(11, 3000)
    crafted = [("Yes", ["yes"] * 10), ("2", ["two"] * 10), ("Two dogs.", ["2 dogs"] * 3 + ["dogs"] * 7),
               ("1,,000", ["1000"] * 4 + ["x"] * 6), ("2.", ["2"] * 4 + ["3"] * 6), ("yes", ["yes\n"] * 4 + ["no"] * 6),
               ("\u0661,\u0662", ["\u0661\u0662"] * 5 + ["x"] * 5), ("two", ["Two"] * 4 + ["3"] * 6),
               ("yes", ["\u180eyes"] * 10), ("Yes", ["yes"] * 9 + ["yes\u180e"]), ("\u0130", ["i"] * 4 + ["x"] * 6)]
    items = crafted + items
    rng = random.Random(5)
    a_types = [rng.choice(["yes/no", "number", "other"]) for _ in items]
    q_types = [rng.choice(["is the", "how many", "what color is the", "what is", "none of the above"]) for _ in items]
    probe = [0.125, 0.375, -0.125, 2.675, 30.000000000000004, 12.5, 1.005, 66.66666666666667] + [
        rng.choice([rng.randint(0, 100000) / 1000, rng.random() * 100]) for _ in range(500)]
    got = run_official(tmp_path, script, items, a_types, q_types, probe)

    score = vqa_score([p for p, _ in items], [a for _, a in items], answer_types=a_types, question_types=q_types,
                      mode=mode)
    official = [float(got["raw"][str(q)]) for q in range(1, len(items) + 1)]
    mismatches = [(i, items[i], official[i], ours) for i, ours in enumerate(score.per_question) if ours != official[i]]
    assert not mismatches, mismatches[:5]
    report = score.official_report()
    assert report.per_question == tuple(float(got["evalQA"][str(q)]) for q in range(1, len(items) + 1))
    assert report.overall == float(got["overall"])
    assert report.per_answer_type == {k: float(v) for k, v in got["perAnswerType"].items()}
    assert report.per_question_type == {k: float(v) for k, v in got["perQuestionType"].items()}
    assert [official_round(x) for x in probe] == [float(x) for x in got["rounded"]]


def lmms_eval_namespace() -> dict:
    ns: dict = {"re": re, "statistics": statistics}
    load_defs(ref_file("lmms_eval/tasks__task_utils_vqa_eval_metric.py"), ["EvalAIAnswerProcessor"], ns)
    load_defs(ref_file("lmms_eval/tasks_vqav2_utils.py"), ["vqav2_process_results"], ns)
    load_defs(ref_file("lmms_eval/tasks_ok_vqa_utils.py"), ["ok_vqa_process_results"], ns)
    load_defs(ref_file("lmms_eval/tasks_textvqa_utils.py"), ["textvqa_process_results"], ns)
    load_defs(ref_file("lmms_eval/api_metrics.py"), ["mean", "levenshtein_distance", "anls"], ns)
    load_defs(ref_file("lmms_eval/tasks_chartqa_utils.py"), ["relaxed_correctness"], ns)
    load_defs(ref_file("lmms_eval/tasks_pope_utils.py"), [
        "pope_process_results", "pope_aggregate_accuracy", "pope_aggregate_precision", "pope_aggregate_recall",
        "pope_aggregate_f1_score", "pope_aggregate_yes_ratio"], ns)
    return ns


def vlmevalkit_namespace() -> dict:
    ns: dict = {"np": np, "Optional": __import__("typing").Optional}
    load_defs(ref_file("vlmevalkit/smp_misc.py"), ["process_punctuation", "istype", "listinstr"], ns)
    load_defs(ref_file("vlmevalkit/vqa_eval.py"), [
        "_process_digit_article", "hit_calculate", "relaxed_correctness", "levenshtein_distance", "anls_compute",
        "process_answer", "process_line"], ns)
    return ns


def test_lmms_eval_vqa_functions_themselves():
    ns = lmms_eval_namespace()
    items = random_vqa_items(12, 2000)
    for task, mode in (("vqav2", "lmms-eval"), ("ok_vqa", "lmms-eval-evalai"), ("textvqa", "lmms-eval-evalai")):
        theirs = []
        for prediction, answers in items:
            if task == "vqav2":
                doc = {"question_id": 1, "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                                                     for i, a in enumerate(answers)]}
            else:
                doc = {"question_id": 1, "answers": list(answers)}
            # ConfigurableTask.process_results strips generate_until outputs before calling the task's function
            theirs.append(ns[f"{task}_process_results"](doc, [prediction.strip()])["exact_match"])
        score = vqa_score([p for p, _ in items], [a for _, a in items], mode=mode)
        bad = [(items[i], t, o) for i, (t, o) in enumerate(zip(theirs, score.per_question, strict=True)) if t != o]
        assert not bad, (task, bad[:5])
        assert score.value == ns["mean"](theirs)


def test_vlmevalkit_vqa_functions_themselves():
    ns = vlmevalkit_namespace()
    items = random_vqa_items(13, 3000)
    res = [ns["process_line"]({"answer": repr(list(a)), "prediction": p}, method="vqa_score") for p, a in items]
    hits = ns["hit_calculate"](res, "TextVQA")
    score = vqa_score([p for p, _ in items], [a for _, a in items], mode="vlmevalkit")
    pairs = enumerate(zip(hits, score.per_question, strict=True))
    bad = [(items[i], float(t), o) for i, (t, o) in pairs if float(t) != o]
    assert not bad, bad[:5]
    assert score.value == float(np.mean(hits))
    for p, _ in items[:300]:
        assert normalize_answer(p, "vlmevalkit") == ns["process_answer"](p)


ANLS_TOKENS = ["Total", "total", "TOTAL", "$ 1,234", "1234", "12/03/1998", "Smith", "smith ", " J. Smith",
               "\u00df", "ss", "\u0130", "i", "St.", "Street", "\n", "  ", "N/A", "", "a", "ab", "abc"]


def random_anls_item(rng: random.Random) -> tuple[str, list[str]]:
    def phrase() -> str:
        return rng.choice([" ", "", "  ", "\t"]).join(rng.choice(ANLS_TOKENS) for _ in range(rng.randint(1, 3)))

    refs = [phrase() for _ in range(rng.randint(1, 3))]
    base = rng.choice(refs)
    chars = list(base)
    for _ in range(rng.randint(0, 3)):
        if chars and rng.random() < 0.5:
            del chars[rng.randrange(len(chars))]
        else:
            chars.insert(rng.randint(0, len(chars)), rng.choice("aeXZ 1."))
    prediction = rng.choice(["".join(chars), base.upper(), "  " + base + " ", phrase()])
    return prediction, refs


def test_anls_against_lmms_eval_and_vlmevalkit():
    lm, vk = lmms_eval_namespace(), vlmevalkit_namespace()
    rng = random.Random(21)
    items = [random_anls_item(rng) for _ in range(3000)]
    theirs_lm = [lm["anls"](refs, [pred.strip()])["anls"] for pred, refs in items]
    res = [vk["process_line"]({"answer": repr(refs), "prediction": pred}, method="anls") for pred, refs in items]
    theirs_vk = vk["hit_calculate"](res, "DocVQA")
    ours_lm = anls_score([p for p, _ in items], [r for _, r in items], mode="lmms-eval")
    ours_vk = anls_score([p for p, _ in items], [r for _, r in items], mode="vlmevalkit")
    assert [float(x) for x in theirs_lm] == list(ours_lm.per_item)
    assert [float(x) for x in theirs_vk] == list(ours_vk.per_item)
    assert ours_lm.value == lm["mean"](theirs_lm)
    assert ours_vk.value == float(np.mean(theirs_vk))
    assert any(a != b for a, b in zip(ours_lm.per_item, ours_vk.per_item, strict=True))  # the strip matters somewhere
    for a, b in [("kitten", "sitting"), ("", "x"), ("\u00df", "ss")]:
        assert levenshtein_distance(a, b) == lm["levenshtein_distance"](a, b) == vk["levenshtein_distance"](a, b)


RELAXED_TOKENS = ["12", "12.5", "12%", "0.12", "0", "0.0", "1,000", "1000", "12.", " 7 ", "7", "-3", "-3.1", "1e3",
                  "nan", "inf", "Yes", "yes", "abc", "", "%", "50%%", "0.5", "105", "100", "95", "$12", "12 %",
                  "12.5.", "1_000", "0.05", "4.76%"]


def test_relaxed_accuracy_against_lmms_eval_and_vlmevalkit():
    lm, vk = lmms_eval_namespace(), vlmevalkit_namespace()
    rng = random.Random(22)
    preds = [rng.choice(RELAXED_TOKENS) + rng.choice(["", "", " ", "\n"]) for _ in range(3000)]
    targets = [rng.choice(RELAXED_TOKENS) for _ in range(3000)]
    # lmms-eval: one target, the output stripped by task.py
    theirs = [1.0 if lm["relaxed_correctness"](p.strip(), t) else 0.0 for p, t in zip(preds, targets, strict=True)]
    assert relaxed_accuracy_score(preds, targets).per_item == tuple(theirs)
    # VLMEvalKit: a list of targets, best one
    lists = [[t, rng.choice(RELAXED_TOKENS)] for t in targets]
    res = [vk["process_line"]({"answer": repr(ts), "prediction": p}, method="relaxed_accuracy")
           for p, ts in zip(preds, lists, strict=True)]
    hits = vk["hit_calculate"](res, "ChartQA")
    ours = relaxed_accuracy_score(preds, lists)
    assert [float(h) for h in hits] == list(ours.per_item)
    assert ours.value == float(np.mean(hits))


POPE_ANSWERS = ["Yes", "yes", "No", "no", "Yes.", "No.", "yes, there is", "No, there is not.", "There is not a dog.",
                "not", "Not", "NO", "YES!", "Yes, no doubt", "yes/no", "maybe", "", " yes ", "no,", "I don't know",
                "Yes. No.", "no.", "The answer is no", "yes:", "no!", "3.5 no", "Yes,no"]


def random_pope(seed: int, n: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    preds = [rng.choice(POPE_ANSWERS) if rng.random() < 0.8 else " ".join(rng.sample(POPE_ANSWERS, 2))
             for _ in range(n)]
    return preds, [rng.choice(["yes", "no"]) for _ in range(n)]


def test_pope_against_lmms_eval():
    ns = lmms_eval_namespace()
    for seed in range(20):
        preds, labels = random_pope(seed, 200 if seed else 3)
        results = [ns["pope_process_results"]({"question_id": i, "answer": g}, [p.strip()])["pope_accuracy"]
                   for i, (p, g) in enumerate(zip(preds, labels, strict=True))]
        ours = pope_score(preds, labels, "lmms-eval")
        assert ours.accuracy == ns["pope_aggregate_accuracy"](results)
        assert ours.precision == ns["pope_aggregate_precision"](results)
        assert ours.recall == ns["pope_aggregate_recall"](results)
        assert ours.f1 == ns["pope_aggregate_f1_score"](results)
        assert ours.yes_ratio == ns["pope_aggregate_yes_ratio"](results)


def test_pope_against_vlmevalkit():
    pd = pytest.importorskip("pandas")
    ns = vlmevalkit_namespace()
    frames: dict = {}
    ns.update({"pd": pd, "load": lambda name: frames[name].copy(), "d2df": None})
    load_defs(ref_file("vlmevalkit/yorn.py"), ["YOrN_Extraction", "POPE_rating"], ns)
    for seed in range(20):
        preds, labels = random_pope(100 + seed, 300)
        rng = random.Random(seed)
        categories = [rng.choice(["adversarial", "popular", "random", "adversarial,popular"]) for _ in preds]
        extracted = [ns["YOrN_Extraction"](p) for p in preds]
        assert [{"Yes": "yes", "No": "no"}.get(e) for e in extracted] == [pope_answer(p) for p in preds]
        answer = ["Yes" if g == "yes" else "No" for g in labels]
        scores = [a == e for a, e in zip(answer, extracted, strict=True)]
        frames["f"] = pd.DataFrame({"index": range(len(preds)), "answer": answer, "extracted": extracted,
                                    "category": categories, "score": scores})
        table = ns["POPE_rating"]("f").set_index("split")
        report = pope_score_by_category(preds, labels, categories)
        for split, ours in [("Overall", report.overall), *report.by_category.items()]:
            row = table.loc[split]
            assert (row["Overall"], row["acc"], row["precision"], row["recall"]) == (
                ours.f1 * 100, ours.accuracy * 100, ours.precision * 100, ours.recall * 100), split


def test_pope_against_the_original_evaluate_py(tmp_path):
    source = ref_file("pope_evaluate.py").read_text()
    for seed in range(10):
        preds, labels = random_pope(200 + seed, 300)
        ans, lab = tmp_path / f"ans{seed}.jsonl", tmp_path / f"lab{seed}.jsonl"
        ans.write_text("".join(json.dumps({"answer": p}) + "\n" for p in preds))
        lab.write_text("".join(json.dumps({"label": g}) + "\n" for g in labels))
        script = source.replace("ans_file = ''", f"ans_file = {str(ans)!r}").replace(
            "label_file = ''", f"label_file = {str(lab)!r}")
        assert script != source
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(script, "pope_evaluate.py", "exec"), {})
        printed = dict(re.findall(r"^(Accuracy|Precision|Recall|F1 score|Yes ratio): (.*)$", out.getvalue(), re.M))
        ours = pope_score(preds, labels, "pope")
        assert float(printed["Accuracy"]) == ours.accuracy and float(printed["Precision"]) == ours.precision
        assert float(printed["Recall"]) == ours.recall and float(printed["F1 score"]) == ours.f1
        assert float(printed["Yes ratio"]) == ours.yes_ratio
