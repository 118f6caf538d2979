"""Levenshtein distance and ANLS (``vleval_metrics.anls``): by hand, and against lmms-eval's and VLMEvalKit's functions
on generated items. Their files are never in this repository (:mod:`fixtures.vqa_references` says where they are
read from and how to fetch them); those tests skip, saying why, when a file is missing."""

from __future__ import annotations

import random

import numpy as np
from fixtures.vqa_references import lmms_eval_namespace, vlmevalkit_namespace

from vleval_metrics.anls import anls, anls_score, levenshtein_distance, normalized_levenshtein

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


# =================================================================== against the references' own code (skips)


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
