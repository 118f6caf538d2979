"""VQA accuracy (``vleval_metrics.vqa_accuracy``) against the references themselves, run on generated items and
compared value by value, exactly: the official ``vqaEval.py`` (both versions, unmodified, under Python 2.7),
lmms-eval's and VLMEvalKit's functions. Their files are never in this repository (:mod:`fixtures.vqa_references`
says where they are read from and how to fetch them); those tests skip, saying why, when a file is missing."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fixtures.vqa_references import REFS, lmms_eval_namespace, python2, ref_file, vlmevalkit_namespace

from vleval_metrics.vqa_accuracy import official_round, vqa_score
from vleval_metrics.vqa_normalize import normalize_answer

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


@pytest.mark.slow
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
