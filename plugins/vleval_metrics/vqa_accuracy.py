"""VQA accuracy (leave-one-out over the human answers) in the modes of its references, and the official script's
rounded report.

Pure functions over plain Python data (nothing here imports vleval); each mode reproduces a named reference, quirks
included. The references, read at these commits:

* GT-Vision-Lab/VQA a013f00 ``PythonEvaluationTools/vqaEvaluation/vqaEval.py`` (``official``; a4f1afd for
  ``official-2017``),
* EvolvingLMMs-Lab/lmms-eval 75571cf (``lmms-eval``, ``lmms-eval-evalai``; files named per function),
* open-compass/VLMEvalKit e8e78f0 ``vlmeval/dataset/utils/vqa_eval.py``, ``vlmeval/dataset/image_vqa.py``
  (``vlmevalkit``).

The means follow :mod:`vleval_metrics.reference_means`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext

from vleval_metrics.reference_means import (
    _exact_mean,
    _group_means,
    _numpy_mean,
    _py2_mean,
    _python2_sum,
    _python_mean,
)
from vleval_metrics.score_inputs import _check_mode
from vleval_metrics.vqa_normalize import VQA_MODES, normalize_vqa_item

__all__ = [
    "VQA_MODES", "VQAItemScore", "VQAReport", "VQAScore", "official_percent", "official_round", "vqa_accuracy",
    "vqa_item_score", "vqa_score",
]

_AGGREGATE = {"official": _py2_mean, "official-2017": _py2_mean, "lmms-eval": _python_mean,
              "lmms-eval-evalai": _python_mean, "vlmevalkit": _numpy_mean}


# ------------------------------------------------------------------------------------------------ VQA accuracy


def official_round(x: float, ndigits: int = 2) -> float:
    """Python 2's ``round(x, ndigits)``, which the official script uses (``setAccuracy``, ``setEvalQA``): the exact
    binary value of ``x`` rounded to ``ndigits`` decimals, halves away from zero. Python 3's ``round`` sends
    halves to even instead: ``round(0.125, 2)`` is 0.13 in Python 2, 0.12 in Python 3 (and both give 2.67 for
    2.675, which is stored as 2.67499999...)."""
    if not math.isfinite(x):
        return x
    with localcontext() as context:
        context.prec = 1000
        return float(Decimal(x).quantize(Decimal(1).scaleb(-ndigits), rounding=ROUND_HALF_UP))


def official_percent(values: Sequence[float]) -> float:
    """The official script's unrounded percentage of per-question accuracies, ``100*float(sum(acc))/len(acc)``:
    the Python 2 left-to-right sum, times 100, divided by the count (in that order)."""
    if len(values) == 0:
        raise ValueError("no questions")
    return 100 * _python2_sum(values) / len(values)


@dataclass(frozen=True)
class VQAItemScore:
    """One question's VQA accuracy: ``value`` is the mean of ``subset_scores`` (one per left-out answer,
    min(1, matches among the other answers / 3)); ``prediction`` and ``answers`` are the strings compared."""

    value: float
    subset_scores: tuple[float, ...]
    prediction: str
    answers: tuple[str, ...]


def vqa_item_score(prediction: str, answers: str | Sequence[str], mode: str = "official") -> VQAItemScore:
    """VQA accuracy of one prediction against its (usually ten) human answers (a single string is one answer), as
    ``mode`` computes it.

    Normalisation: :func:`vleval_metrics.vqa_normalize.normalize_vqa_item` (when each step runs differs by mode).
    Then every reference leaves each answer out in turn and scores min(1, #other answers equal to the prediction
    / 3); the value is the mean of those ten scores (so a prediction given by 3 of 10 people scores 0.9, not 1:
    ``3 * (2/3) + 7 * 1``, over 10). None of the three uses min(1, #matches / 3) over all ten at once. The answers
    are left out by position: the references compare answer records (``item != gtAnsDatum`` in vqaEval.py and
    lmms-eval ``vqav2_process_results``), which carry distinct ``answer_id`` s in VQAv2, or indices (lmms-eval
    OK-VQA/TextVQA, VLMEvalKit).

    The mean: ``official`` / ``official-2017`` ``float(sum(gtAcc))/len(gtAcc)`` (Python 2 sum); ``lmms-eval`` /
    ``lmms-eval-evalai`` ``statistics.mean``; ``vlmevalkit`` ``np.mean`` (``hit_calculate``). With no answers
    the references fail (``official``, ``official-2017``, ``lmms-eval``: ValueError here), return 0
    (``lmms-eval-evalai``, as ``ok_vqa_process_results``) or ``nan`` (``vlmevalkit``, numpy's empty mean).
    """
    _check_mode(mode, VQA_MODES, "VQA")
    item = normalize_vqa_item(prediction, (answers,) if isinstance(answers, str) else tuple(answers), mode)
    if not item.answers:
        if mode == "lmms-eval-evalai":
            return VQAItemScore(0.0, (), item.prediction, ())
        if mode == "vlmevalkit":
            return VQAItemScore(math.nan, (), item.prediction, ())
        raise ValueError("no reference answers")
    matches = sum(1 for a in item.answers if a == item.prediction)
    # leaving out a matching answer leaves matches - 1 among the others, leaving out any other answer leaves all
    subsets = tuple(min(1.0, (matches - (a == item.prediction)) / 3) for a in item.answers)
    if mode in ("official", "official-2017"):
        value = _py2_mean(subsets)
    elif mode == "vlmevalkit":
        value = _numpy_mean(subsets)
    else:
        value = _exact_mean(subsets)
    return VQAItemScore(value, subsets, item.prediction, item.answers)


def vqa_accuracy(prediction: str, answers: str | Sequence[str], mode: str = "official") -> float:
    """The VQA accuracy (in [0, 1]) of one prediction: :func:`vqa_item_score` ``.value``."""
    return vqa_item_score(prediction, answers, mode).value


@dataclass(frozen=True)
class VQAReport:
    """What the official script reports (``VQAEval.accuracy`` and ``evalQA``): percentages rounded with
    :func:`official_round`; ``per_question`` in the order of the questions."""

    overall: float
    per_answer_type: dict[str, float]
    per_question_type: dict[str, float]
    per_question: tuple[float, ...]


@dataclass(frozen=True)
class VQAScore:
    """VQA accuracy over a set of questions, unrounded, in [0, 1].

    ``value`` is the mean of ``per_question``; ``by_answer_type`` / ``by_question_type`` the mean per type (empty
    when no types were given), in order of first appearance, each summed as the mode's reference sums (official:
    Python 2 ``sum`` / count; lmms-eval: ``sum(arr) / len(arr)``; VLMEvalKit: ``np.mean``). lmms-eval and
    VLMEvalKit report no per-type values; theirs here are the same mean over each type's questions.
    """

    value: float
    by_answer_type: dict[str, float]
    by_question_type: dict[str, float]
    per_question: tuple[float, ...]
    mode: str = "official"
    answer_types: tuple[str, ...] | None = field(default=None, repr=False)
    question_types: tuple[str, ...] | None = field(default=None, repr=False)

    def official_report(self, ndigits: int = 2) -> VQAReport:
        """The numbers ``VQAEval.evaluate`` prints, reproduced from the unrounded values: overall and per type
        ``round(100*float(sum(acc))/len(acc), n)`` (:func:`official_percent` then :func:`official_round`, Python 2
        rounding), per question ``round(100*acc, n)``. Meaningful with ``mode="official"`` (or
        ``official-2017``)."""
        def grouped(types: tuple[str, ...] | None) -> dict[str, float]:
            """The rounded official percentage per type."""
            groups = _group_means(self.per_question, types, official_percent)
            return {k: official_round(v, ndigits) for k, v in groups.items()}

        return VQAReport(
            overall=official_round(official_percent(self.per_question), ndigits),
            per_answer_type=grouped(self.answer_types),
            per_question_type=grouped(self.question_types),
            per_question=tuple(official_round(100 * v, ndigits) for v in self.per_question),
        )


def vqa_score(predictions: Sequence[str], answers: Sequence[str | Sequence[str]], *,
              answer_types: Sequence[str] | None = None, question_types: Sequence[str] | None = None,
              mode: str = "official") -> VQAScore:
    """VQA accuracy of ``predictions[i]`` against ``answers[i]`` (:func:`vqa_item_score`) for every question, the
    overall mean and the means per answer type ("yes/no", "number", "other") and per question type ("what color
    is the", ...), as ``mode`` aggregates them; the official script's rounded percentages are
    ``vqa_score(...).official_report()``. Questions are summed in the order given (the official script's order is
    that of its annotation file)."""
    _check_mode(mode, VQA_MODES, "VQA")
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions for {len(answers)} questions")
    if len(predictions) == 0:
        raise ValueError("no questions")
    per_question = tuple(vqa_accuracy(p, a, mode) for p, a in zip(predictions, answers, strict=True))
    mean = _AGGREGATE[mode]
    a_types = None if answer_types is None else tuple(answer_types)
    q_types = None if question_types is None else tuple(question_types)
    return VQAScore(value=mean(per_question), by_answer_type=_group_means(per_question, a_types, mean),
                    by_question_type=_group_means(per_question, q_types, mean), per_question=per_question,
                    mode=mode, answer_types=a_types, question_types=q_types)
