"""POPE (``vleval_metrics.pope``): the yes/no mapping and the scores by hand, and against lmms-eval's and VLMEvalKit's
functions and POPE's own ``evaluate.py`` on generated items. Their files are never in this repository
(:mod:`fixtures.vqa_references` says where they are read from and how to fetch them); those tests skip, saying why,
when a file is missing."""

from __future__ import annotations

import contextlib
import io
import json
import random
import re

import pytest
from fixtures.vqa_references import lmms_eval_namespace, load_defs, ref_file, vlmevalkit_namespace

from vleval_metrics.pope import pope_answer, pope_score, pope_score_by_category

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
