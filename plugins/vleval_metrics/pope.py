"""POPE (object hallucination, yes/no questions): free-form answers mapped to yes/no and scored, in the modes of
its references:

* EvolvingLMMs-Lab/lmms-eval 75571cf ``lmms_eval/tasks/pope/utils.py`` (``lmms-eval``),
* open-compass/VLMEvalKit e8e78f0 ``vlmeval/dataset/utils/yorn.py``, ``vlmeval/dataset/image_yorn.py``
  (``vlmevalkit``),
* RUCAIBox/POPE 3df3ba1 ``evaluate.py`` (``pope``; haotian-liu/LLaVA ``llava/eval/eval_pope.py`` is the same code).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vleval_metrics.score_inputs import _check_mode
from vleval_metrics.vqa_normalize import process_punctuation as _process_punctuation

POPE_MODES = ("vlmevalkit", "lmms-eval", "pope")

__all__ = ["POPE_MODES", "PopeReport", "PopeScore", "pope_answer", "pope_score", "pope_score_by_category"]


# ------------------------------------------------------------------------------------------------------- POPE


def pope_answer(text: str, mode: str = "vlmevalkit") -> str | None:
    """The yes/no a free-form POPE answer maps to, ``"yes"``, ``"no"`` or None (unmapped):

    * ``vlmevalkit`` (``vlmeval/dataset/utils/yorn.py`` ``YOrN_Extraction``, exact matching, no LLM judge): lower-
      case, VLMEvalKit's punctuation processing (:func:`~vleval_metrics.vqa_normalize.process_punctuation`,
      ``vlmevalkit`` variant), split on whitespace; "yes" if the word "yes" occurs and "no" does not, "no" if "no"
      occurs and "yes" does not, otherwise unmapped ("Yes, no doubt", "yes/no", "Not at all", "Yes:" are
      unmapped; "Yes.", "NO!", "yes, it is" map).
    * ``lmms-eval`` (``lmms_eval/tasks/pope/utils.py`` ``pope_process_results``): ``lower().strip()`` must be
      exactly "yes" or "no"; anything else ("yes.", "Yes, there is") is unmapped.
    * ``pope`` (RUCAIBox/POPE ``evaluate.py``): keep the text before the first ``.``, delete commas, split on single
      spaces; "no" if one of the words is exactly "No", "no" or "not", otherwise "yes" (never unmapped: "NO",
      "No!", "Not" and "" are "yes").
    """
    _check_mode(mode, POPE_MODES, "POPE")
    if mode == "vlmevalkit":
        words = _process_punctuation(text.lower(), "vlmevalkit").split()
        if "yes" in words and "no" not in words:
            return "yes"
        if "no" in words and "yes" not in words:
            return "no"
        return None
    if mode == "lmms-eval":
        answer = text.lower().strip()
        return answer if answer in ("yes", "no") else None
    first = text.split(".")[0] if "." in text else text
    words = first.replace(",", "").split(" ")
    return "no" if ("No" in words or "not" in words or "no" in words) else "yes"


@dataclass(frozen=True)
class PopeScore:
    """POPE metrics (fractions in [0, 1]; VLMEvalKit prints 100 times these, with F1 as ``Overall``) and the counts
    they come from. Positive is "yes". The four counts take mapped answers only; ``unmapped`` answers mapped to
    neither yes nor no, and how they enter the metrics depends on the mode (:func:`pope_score`)."""

    accuracy: float
    precision: float
    recall: float
    f1: float
    yes_ratio: float
    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int
    unmapped: int
    count: int


def _pope_label(label: str) -> str:
    """A ground-truth label as lmms-eval reads it (``lower().strip()``), which must be yes or no."""
    value = label.lower().strip()
    if value not in ("yes", "no"):
        raise ValueError(f"POPE labels are yes or no, not {label!r}")
    return value


def pope_score(predictions: Sequence[str], labels: Sequence[str], mode: str = "vlmevalkit") -> PopeScore:
    """Accuracy, precision, recall, F1 and yes-ratio of free-form answers (mapped by :func:`pope_answer`) against
    yes/no labels (case and surrounding spaces ignored), as ``mode`` counts them:

    * ``vlmevalkit`` (``image_yorn.py`` ``ImageYORNDataset.evaluate``, ``yorn.py`` ``POPE_rating``): accuracy =
      answers whose mapping equals the label / all; an unmapped answer is wrong and counts as a *negative*
      prediction for precision and recall (a false negative when the label is yes). A metric with a zero
      denominator is 0. VLMEvalKit reports no yes-ratio; here it is predicted "yes" / all, as POPE defines it.
    * ``lmms-eval`` (``pope/utils.py`` ``pope_aggregate_*``): accuracy = exact matches / all (unmapped are wrong);
      precision = TP / (TP + FP); recall = TP / (TP + FN) with FN only the answers exactly "no" on a yes label, so
      unmapped answers are left out of recall altogether; zero denominators give 0; and the yes-ratio is the share
      of *labels* that are yes (the reference counts the ground truth, not the predictions).
    * ``pope`` (RUCAIBox/POPE ``evaluate.py``): every answer maps, so there are no unmapped answers; yes-ratio =
      predicted "yes" / all; a zero denominator raises ZeroDivisionError, as the script does.
    """
    _check_mode(mode, POPE_MODES, "POPE")
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
    if len(predictions) == 0:
        raise ValueError("no items")
    gold = [_pope_label(label) for label in labels]
    mapped = [pope_answer(p, mode) for p in predictions]
    tp = sum(1 for m, g in zip(mapped, gold, strict=True) if m == "yes" and g == "yes")
    fp = sum(1 for m, g in zip(mapped, gold, strict=True) if m == "yes" and g == "no")
    tn = sum(1 for m, g in zip(mapped, gold, strict=True) if m == "no" and g == "no")
    fn = sum(1 for m, g in zip(mapped, gold, strict=True) if m == "no" and g == "yes")
    unmapped_yes = sum(1 for m, g in zip(mapped, gold, strict=True) if m is None and g == "yes")
    unmapped = sum(1 for m in mapped if m is None)
    n = len(gold)
    accuracy = (tp + tn) / n
    if mode == "vlmevalkit":
        precision = tp / (tp + fp) if tp + fp else 0
        # y_pred is 1 only for "Yes": an unmapped answer on a yes label is a false negative
        recall = tp / (tp + fn + unmapped_yes) if tp + fn + unmapped_yes else 0
        f1 = 2 * (precision * recall) / (precision + recall) if precision + recall else 0
        yes_ratio = (tp + fp) / n
    elif mode == "lmms-eval":
        precision = tp / (tp + fp) if tp + fp else 0
        recall = tp / (tp + fn) if tp + fn else 0
        f1 = 2 * (precision * recall) / (precision + recall) if precision + recall else 0
        yes_ratio = gold.count("yes") / n
    else:
        if tp + fp == 0 or tp + fn == 0 or tp == 0:
            raise ZeroDivisionError("POPE's evaluate.py divides by zero: no predicted yes, no yes label or no TP")
        precision = float(tp) / float(tp + fp)
        recall = float(tp) / float(tp + fn)
        f1 = 2 * precision * recall / (precision + recall)
        yes_ratio = (tp + fp) / n
    return PopeScore(accuracy=accuracy, precision=float(precision), recall=float(recall), f1=float(f1),
                     yes_ratio=yes_ratio, true_positive=tp, false_positive=fp, true_negative=tn, false_negative=fn,
                     unmapped=unmapped, count=n)


@dataclass(frozen=True)
class PopeReport:
    """POPE over all items and per category (``adversarial``, ``popular``, ``random``)."""

    overall: PopeScore
    by_category: dict[str, PopeScore]


def pope_score_by_category(predictions: Sequence[str], labels: Sequence[str], categories: Sequence[str],
                           mode: str = "vlmevalkit") -> PopeReport:
    """:func:`pope_score` overall and per category. In ``vlmevalkit`` mode a category field may list several
    categories separated by commas (split on "," exactly, spaces kept) and, as ``POPE_rating`` explodes the rows,
    the item counts once per listed category *in the overall score too*; an empty category field counts in the
    overall score only. The other modes take each category string as is and count every item once overall
    (lmms-eval's ``pope`` task; its ``pope_adv`` / ``pope_pop`` / ``pope_random`` tasks are the categories)."""
    _check_mode(mode, POPE_MODES, "POPE")
    if not (len(predictions) == len(labels) == len(categories)):
        raise ValueError("predictions, labels and categories differ in length")
    rows: list[tuple[str, str, str | None]] = []
    for prediction, label, category in zip(predictions, labels, categories, strict=True):
        if mode == "vlmevalkit":
            rows += [(prediction, label, c) for c in category.split(",")] if category else [(prediction, label, None)]
        else:
            rows.append((prediction, label, category))
    overall = pope_score([r[0] for r in rows], [r[1] for r in rows], mode)
    names = list(dict.fromkeys(r[2] for r in rows if r[2] is not None))
    by_category = {name: pope_score([r[0] for r in rows if r[2] == name], [r[1] for r in rows if r[2] == name], mode)
                   for name in names}
    return PopeReport(overall=overall, by_category=by_category)
