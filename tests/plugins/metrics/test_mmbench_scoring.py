"""MMBench scoring as VLMEvalKit does it (exact matching, no judge): one test per extraction rule and quirk, the
strict mode's fixes, and CircularEval grouping. Expected letters are worked out by hand from VLMEvalKit's rules
(``vlmeval/utils/matching_util.py``, ``vlmeval/dataset/utils/multiple_choice.py``)."""

from __future__ import annotations

import pytest

from vleval.api import MCOutputs
from vleval_metrics.choice import Accuracy, CircularAccuracy
from vleval_metrics.matching import extract

OPTS = {"A": "red", "B": "blue", "C": "green", "D": "yellow"}


def vk(answer: str, options: dict[str, str] = OPTS) -> str | None:
    return extract(answer, options, "vlmevalkit").letter


def strict(answer: str, options: dict[str, str] = OPTS) -> str | None:
    return extract(answer, options, "strict").letter


# ------------------------------------------------------------------------------------------- VLMEvalKit rules


def test_punctuation_is_replaced_by_spaces_before_splitting():
    assert vk("(B)") == "B"
    assert vk("[C].") == "C"
    assert vk("**D**") == "D"
    assert vk("{A}!") == "A"
    assert vk("B-") is None  # '-' is not in VLMEvalKit's list: the token is "B-", not "B"


def test_letter_match_is_case_sensitive():
    assert vk("b") is None
    assert vk("the option b") is None
    assert strict("b") is None


def test_single_letter_counts_only_among_the_last_four_tokens():
    assert vk("I think it is B") == "B"  # B is token 4 of 5 -> index 4 > 5 - 5
    assert vk("B because the car is clearly painted that way") is None  # B first, 9 tokens follow
    assert vk("B is it I think so") is None  # index 0 of 7: 0 > 2 is false
    assert vk("well B is it I") == "B"  # index 1 of 5: 1 > 0


def test_first_occurrence_decides_the_position():
    assert vk("B then more words here and B") is None  # first B at 0 of 7, only the first occurrence counts


def test_two_letters_fall_through_to_answer_is_then_text():
    assert vk("A or B") is None
    assert vk("Not A. The answer is B") == "B"  # two letters, then the 'answer is' rule
    # two letters, no 'answer is'; the text rule: 'a b blue' is short and contains exactly one option text
    assert vk("A B blue") == "B" and extract("A B blue", OPTS, "vlmevalkit").rule == "text"


def test_answer_is_pattern_is_case_insensitive_and_limited_to_abcd():
    assert vk("the correct answer is **b** since it matches the colour of the ball today") == "B"
    assert vk("So the Answer is C, clearly, after looking at every object in the picture") == "C"
    five = {**OPTS, "E": "purple"}
    # the letter sits too early for the letter rule; the pattern then finds D, but not E (outside [ABCD])
    assert vk("the answer is D because the ball on the left is yellow and round", five) == "D"
    assert vk("the answer is E because the ball on the left is purple and round", five) is None


def test_text_fallback_accepts_a_substring_of_one_option():
    assert vk("it is reddish") == "A"  # 'red' is a substring of 'reddish' (a quirk: not a whole word)
    assert vk("Blue, clearly") == "B"  # lower-cased on both sides


def test_text_fallback_needs_exactly_one_option():
    assert vk("red and blue") is None


def test_text_fallback_refuses_long_answers():
    total = sum(len(v) for v in OPTS.values())  # 3 + 4 + 5 + 6 = 18
    short = "green" + " " * (2 * total - 5)
    assert len(short) == 2 * total and vk(short) == "C"
    assert vk(short + " ") is None  # one character over twice the options' total length


def test_only_non_empty_options_are_valid_letters():
    opts = {"A": "red", "B": "blue", "C": "", "D": ""}
    assert vk("C", opts) is None  # C has no text: not a valid letter; 'c' contains no option text either
    assert vk("B", opts) == "B"


def test_capital_a_used_as_an_article_counts_as_option_a():
    assert vk("A dog") == "A"
    assert strict("A dog") is None  # strict: the article is not an answer (and 'dog' is no option here)


def test_refusals_map_to_z_which_is_wrong():
    assert vk("Cannot determine the answer from this image.") == "Z"
    assert vk("I can't process this file.") == "Z"
    assert vk("Z") == "Z"  # a lone Z token with no option letter
    out = MCOutputs(predictions=["Z"], answers=["A"], indices=[0], raw_answers=["Cannot determine the answer"],
                    options=[OPTS])
    assert Accuracy().compute(out)["accuracy"].value == 0.0
    assert Accuracy().compute(out)["extraction_failures"].value == 0.0  # Z is a decision, not a failure
    assert strict("Cannot determine the answer") is None


def test_api_failure_skips_the_letter_rules_but_not_the_text_rule():
    assert vk("Failed to obtain answer via API B") is None
    opts = {"A": "failed to obtain answer via api", "B": "x"}
    assert vk("Failed to obtain answer via API", opts) == "A"


# ----------------------------------------------------------------------------------------------- strict mode


def test_strict_mode_fixes_the_quirks():
    assert strict("B because the car is clearly painted that way") == "B"  # a leading letter counts
    assert strict("it is reddish") is None  # whole words only
    assert strict("the answer is E", {**OPTS, "E": "purple"}) == "E"  # any option letter
    assert strict("(C) green") == "C"
    assert strict("A or B") is None
    assert strict("A is correct") == "A"


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="extraction must be one of vlmevalkit, strict"):
        Accuracy(extraction="fuzzy")


# ------------------------------------------------------------------------------------- vanilla and circular


def _outputs(rows):
    """rows: (index, raw answer, ground truth, category, l2)."""
    return MCOutputs(
        predictions=[None] * len(rows), answers=[r[2] for r in rows], indices=[r[0] for r in rows],
        categories=[r[3] for r in rows], l2_categories=[r[4] for r in rows], num_options=[4] * len(rows),
        raw_answers=[r[1] for r in rows], options=[OPTS] * len(rows),
    )


ROWS = [
    # question 1: all four rotations right
    (1, "A", "A", "color", "perception"), (1_000_001, "B", "B", "color", "perception"),
    (2_000_001, "C", "C", "color", "perception"), (3_000_001, "D", "D", "color", "perception"),
    # question 2: rotation 2 wrong
    (2, "B", "B", "shape", "perception"), (1_000_002, "C", "C", "shape", "perception"),
    (2_000_002, "A", "D", "shape", "perception"), (3_000_002, "A", "A", "shape", "perception"),
    # question 3: only rotations 0 and 1 present, both right (VLMEvalKit scores it on the rows present)
    (3, "C", "C", "digit", "reasoning"), (1_000_003, "D", "D", "digit", "reasoning"),
    # question 4: rotation 0 missing (not scored by VLMEvalKit), the rest right
    (1_000_004, "A", "A", "digit", "reasoning"), (2_000_004, "B", "B", "digit", "reasoning"),
    # question 5: rotation 0 with an answer nothing can be extracted from
    (5, "no idea at all, sorry, truly nothing to say about this", "A", "color", "perception"),
]


def test_circular_groups_as_vlmevalkit_does():
    values = CircularAccuracy().compute(_outputs(ROWS))
    # scored: questions 1, 2, 3, 5 (4 lacks rotation 0); right: 1 and 3
    assert values["questions"].value == 4 and values["incomplete_questions"].value == 1
    assert values["circular_accuracy"].value == pytest.approx(50.0)
    assert values["circular_accuracy/color"].value == pytest.approx(50.0)  # q1 right, q5 wrong
    assert values["circular_accuracy/shape"].value == 0.0
    assert values["circular_accuracy/digit"].value == 100.0  # q3 only
    assert values["circular_accuracy/l2/perception"].value == pytest.approx(100 / 3)
    assert values["circular_accuracy/l2/reasoning"].value == 100.0
    assert values["extraction_failures"].value == pytest.approx(100 / 13)


def test_strict_circular_scores_only_complete_groups():
    values = CircularAccuracy(extraction="strict").compute(_outputs(ROWS))
    assert values["questions"].value == 2 and values["circular_accuracy"].value == pytest.approx(50.0)


def test_vanilla_overall_per_category_and_rotation_zero():
    values = Accuracy().compute(_outputs(ROWS))
    assert values["accuracy"].value == pytest.approx(100 * 11 / 13)  # wrong: q2 rot 2, q5
    assert values["accuracy_rotation0"].value == pytest.approx(100 * 3 / 4)  # indices 1, 2, 3, 5
    assert values["accuracy/shape"].value == pytest.approx(75.0)
    assert values["accuracy/l2/reasoning"].value == 100.0
    assert values["unanswered"].value == values["extraction_failures"].value == pytest.approx(100 / 13)


def test_scored_options_need_no_extraction():
    out = MCOutputs(predictions=["A", None, "C"], answers=["A", "B", "D"], indices=[0, 1, 2])
    values = Accuracy().compute(out)
    assert values["accuracy"].value == pytest.approx(100 / 3)
    assert values["extraction_failures"].value == pytest.approx(100 / 3)
