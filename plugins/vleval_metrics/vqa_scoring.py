"""Open-ended VQA scores as the field computes them: VQA accuracy, exact match, ANLS, relaxed accuracy, POPE.

Pure functions over plain Python data (nothing here imports vleval); each reproduces a named reference, quirks
included, and where references differ a ``mode`` picks one. The references, read at these commits:

* GT-Vision-Lab/VQA a013f00 ``PythonEvaluationTools/vqaEvaluation/vqaEval.py`` (``official``; a4f1afd for
  ``official-2017``),
* EvolvingLMMs-Lab/lmms-eval 75571cf (``lmms-eval``; files named per function),
* open-compass/VLMEvalKit e8e78f0 ``vlmeval/dataset/utils/vqa_eval.py``, ``vlmeval/dataset/image_vqa.py``,
  ``vlmeval/dataset/utils/yorn.py``, ``vlmeval/dataset/image_yorn.py`` (``vlmevalkit``),
* RUCAIBox/POPE 3df3ba1 ``evaluate.py`` (``pope``; haotian-liu/LLaVA ``llava/eval/eval_pope.py`` is the same code).

Means are summed the way each reference sums them, so the floats agree to the last bit and not only to rounding:
the official script's Python 2 ``sum`` (left to right), lmms-eval's ``sum(arr) / len(arr)`` (the running
interpreter's built-in ``sum``; Python 3.12 made it compensated) and, inside ``vqav2/ok_vqa/textvqa`` items,
``statistics.mean`` (exact, then rounded once), VLMEvalKit's ``np.mean`` (numpy's pairwise summation, reproduced
here in pure Python). Values are fractions in [0, 1]; the references that print percentages multiply by 100
(VLMEvalKit: ``np.mean(...) * 100``, unrounded; the official script: see :meth:`VQAScore.official_report`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from vleval_metrics.vqa_normalize import VQA_MODES, normalize_answer, normalize_vqa_item
from vleval_metrics.vqa_normalize import process_punctuation as _process_punctuation

EXACT_MATCH_MODES = ("official", "strict", "vlmevalkit")
ANLS_MODES = ("lmms-eval", "vlmevalkit")
POPE_MODES = ("vlmevalkit", "lmms-eval", "pope")
ANLS_THRESHOLD = 0.5
RELAXED_TOLERANCE = 0.05

__all__ = [
    "ANLS_MODES", "ANLS_THRESHOLD", "EXACT_MATCH_MODES", "POPE_MODES", "RELAXED_TOLERANCE", "VQA_MODES", "MeanScore",
    "PopeReport", "PopeScore", "VQAItemScore", "VQAReport", "VQAScore", "anls", "anls_normalize", "anls_score",
    "exact_match", "exact_match_score", "levenshtein_distance", "normalized_levenshtein", "official_percent",
    "official_round", "pope_answer", "pope_score", "pope_score_by_category", "relaxed_accuracy",
    "relaxed_accuracy_score", "relaxed_correctness", "vqa_accuracy", "vqa_item_score", "vqa_score",
]


# ----------------------------------------------------------------------------------------- the references' means


def _python2_sum(values: Sequence[float]) -> float:
    """Python 2's (and Python <= 3.11's) built-in ``sum`` of floats: plain left-to-right additions from 0."""
    total: float = 0
    for value in values:
        total = total + value
    return total


def _exact_mean(values: Sequence[float]) -> float:
    """``statistics.mean`` of floats: the exact rational mean, rounded once to the nearest float."""
    return float(sum((Fraction(v) for v in values), Fraction(0)) / len(values))


def _pairwise_sum(values: Sequence[float], start: int, count: int) -> float:
    """numpy's ``pairwise_sum`` for float64 (``numpy/_core/src/umath/loops_utils.h.src``): under 8 values a plain
    loop; up to 128 values eight running sums combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the
    remainder added one by one; above 128 the two halves (the first a multiple of 8 long) summed recursively."""
    if count < 8:
        total = 0.0
        for i in range(start, start + count):
            total += values[i]
        return total
    if count <= 128:
        r = [float(values[start + j]) for j in range(8)]
        i = 8
        while i < count - count % 8:
            for j in range(8):
                r[j] += values[start + i + j]
            i += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for k in range(start + i, start + count):
            total += values[k]
        return total
    half = count // 2
    half -= half % 8
    return _pairwise_sum(values, start, half) + _pairwise_sum(values, start + half, count - half)


def _numpy_mean(values: Sequence[float]) -> float:
    """``float(np.mean(values))`` for a 1-D list of floats (checked against numpy 2 in the tests); ``nan`` when
    empty, as numpy returns (with a warning)."""
    if len(values) == 0:
        return math.nan
    return _pairwise_sum([float(v) for v in values], 0, len(values)) / len(values)


def _python_mean(values: Sequence[float]) -> float:
    """lmms-eval's ``mean`` aggregation (``lmms_eval/api/metrics.py``): ``sum(arr) / len(arr)``."""
    return sum(values) / len(values)


def _py2_mean(values: Sequence[float]) -> float:
    """The official script's ``float(sum(x)) / len(x)`` under Python 2."""
    return _python2_sum(values) / len(values)


_AGGREGATE = {"official": _py2_mean, "official-2017": _py2_mean, "lmms-eval": _python_mean,
              "lmms-eval-evalai": _python_mean, "vlmevalkit": _numpy_mean}


def _group_means(values: Sequence[float], groups: Sequence[str] | None, mean) -> dict[str, float]:
    """``{group: mean of its values}`` in order of first appearance; ``{}`` without groups."""
    if groups is None:
        return {}
    if len(groups) != len(values):
        raise ValueError(f"{len(groups)} group labels for {len(values)} items")
    members: dict[str, list[float]] = {}
    for value, group in zip(values, groups, strict=True):
        members.setdefault(group, []).append(value)
    return {group: mean(vs) for group, vs in members.items()}


def _references(references: str | Sequence[str]) -> tuple[str, ...]:
    """One reference string or several, as a non-empty tuple."""
    refs = (references,) if isinstance(references, str) else tuple(references)
    if not refs:
        raise ValueError("no reference answers")
    return refs


def _check_mode(mode: str, modes: tuple[str, ...], what: str) -> None:
    """ValueError naming the known modes when ``mode`` is not one of them."""
    if mode not in modes:
        raise ValueError(f"unknown {what} mode {mode!r}; expected one of {', '.join(modes)}")


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


# -------------------------------------------------------------------------------------------------- mean scores


@dataclass(frozen=True)
class MeanScore:
    """A per-item score averaged over items: ``value`` (in [0, 1]), ``per_item`` in input order, and ``by_group``
    (the mean per group label, in order of first appearance; empty without groups)."""

    value: float
    per_item: tuple[float, ...]
    by_group: dict[str, float]


def _mean_score(per_item: tuple[float, ...], groups: Sequence[str] | None, mean) -> MeanScore:
    """A :class:`MeanScore` of ``per_item`` averaged with the reference's ``mean`` (ValueError when empty)."""
    if not per_item:
        raise ValueError("no items")
    return MeanScore(mean(per_item), per_item, _group_means(per_item, groups, mean))


# ------------------------------------------------------------------------------------------------- exact match


def exact_match(prediction: str, references: str | Sequence[str], mode: str = "official") -> float:
    """1.0 if the prediction equals any reference, else 0.0, after ``mode``'s normalisation of both sides:

    * ``official``: the official VQA processing, all of it, on both sides (:func:`normalize_answer`:
      newline/tab and strip, punctuation, digits/articles/contractions), whatever the other references are.
    * ``strict``: the strings as given, compared exactly (no stripping, case-sensitive).
    * ``vlmevalkit``: VLMEvalKit's ``process_line(method='accuracy')`` (OCRVQA, GQA): ``strip().lower()`` on both
      sides; best over the references as ``hit_calculate`` does for OCRVQA (``np.max``).
    """
    _check_mode(mode, EXACT_MATCH_MODES, "exact-match")
    refs = _references(references)
    if mode == "official":
        pred = normalize_answer(prediction, "official")
        return 1.0 if any(normalize_answer(r, "official") == pred for r in refs) else 0.0
    if mode == "strict":
        return 1.0 if prediction in refs else 0.0
    pred = prediction.strip().lower()
    return 1.0 if any(r.strip().lower() == pred for r in refs) else 0.0


def exact_match_score(predictions: Sequence[str], references: Sequence[str | Sequence[str]], mode: str = "official",
                      groups: Sequence[str] | None = None) -> MeanScore:
    """:func:`exact_match` per item and its mean (a count over n, so every summation order agrees)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} items")
    per_item = tuple(exact_match(p, r, mode) for p, r in zip(predictions, references, strict=True))
    return _mean_score(per_item, groups, _python_mean)


# ------------------------------------------------------------------------------------------------ ANLS (DocVQA)


def levenshtein_distance(a: str, b: str) -> int:
    """The edit distance between two strings (insertions, deletions, substitutions of single code points, each
    costing 1), as ``levenshtein_distance`` in lmms-eval ``lmms_eval/api/metrics.py`` and VLMEvalKit
    ``vqa_eval.py`` computes it (the distance is unique, so any correct algorithm agrees)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def anls_normalize(text: str) -> str:
    """ANLS's normalisation in both references: ``" ".join(text.strip().lower().split())`` (lower-case and every
    run of whitespace, newlines included, becomes one space)."""
    return " ".join(text.strip().lower().split())


def normalized_levenshtein(reference: str, prediction: str) -> float:
    """The normalised distance ANLS uses (lmms-eval ``anls``, VLMEvalKit ``anls_compute``): the edit distance of
    the *normalised* strings (:func:`anls_normalize`) over ``max(len(reference.upper()), len(prediction.upper()))``
    of the *original* strings (a quirk: surrounding or repeated spaces and case folding that changes lengths, such
    as "ß" upper-casing to "SS", enlarge the denominator). 0.0 when both are empty."""
    distance = levenshtein_distance(anls_normalize(reference), anls_normalize(prediction))
    length = max(len(reference.upper()), len(prediction.upper()))
    return 0.0 if length == 0 else float(distance) / float(length)


def anls(prediction: str, references: str | Sequence[str], threshold: float = ANLS_THRESHOLD,
         mode: str = "lmms-eval") -> float:
    """One question's ANLS: 1 - the smallest :func:`normalized_levenshtein` over the references, set to 0 when
    below ``threshold`` (exactly ``threshold`` is kept). ``lmms-eval`` (``lmms_eval/api/metrics.py`` ``anls``, as
    the DocVQA/InfoVQA val tasks call it) scores the model output stripped (``lmms_eval/api/task.py``
    ``ConfigurableTask.process_results``), which also shortens the denominator; ``vlmevalkit``
    (``process_line(method='anls')`` and ``hit_calculate``) scores it as given."""
    _check_mode(mode, ANLS_MODES, "ANLS")
    refs = _references(references)
    pred = prediction.strip() if mode == "lmms-eval" else prediction
    result = 1 - min(normalized_levenshtein(r, pred) for r in refs)
    return 0.0 if result < threshold else result


def anls_score(predictions: Sequence[str], references: Sequence[str | Sequence[str]],
               threshold: float = ANLS_THRESHOLD, mode: str = "lmms-eval",
               groups: Sequence[str] | None = None) -> MeanScore:
    """:func:`anls` per question and the mean over questions: lmms-eval's ``mean`` aggregation
    (``sum(arr) / len(arr)``) or VLMEvalKit's ``np.mean(hit)`` (reported ×100)."""
    _check_mode(mode, ANLS_MODES, "ANLS")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} questions")
    per_item = tuple(anls(p, r, threshold, mode) for p, r in zip(predictions, references, strict=True))
    return _mean_score(per_item, groups, _python_mean if mode == "lmms-eval" else _numpy_mean)


# --------------------------------------------------------------------------------------- relaxed accuracy (ChartQA)


def _relaxed_float(text: str) -> float | None:
    """The references' ``_to_float``: a trailing ``%`` (all trailing ``%`` signs, ``rstrip``) means "divide by 100";
    otherwise Python's ``float`` (so "12." is 12.0, " 12 " is 12.0, "1e3", "1_000", "inf" and "nan" parse, "1,000",
    "$12" and "12 apples" do not: None)."""
    try:
        if text.endswith("%"):
            return float(text.rstrip("%")) / 100.0
        return float(text)
    except ValueError:
        return None


def relaxed_correctness(prediction: str, target: str, max_relative_change: float = RELAXED_TOLERANCE) -> bool:
    """ChartQA's relaxed correctness (pix2struct ``relaxed_correctness``, copied by lmms-eval
    ``lmms_eval/tasks/chartqa/utils.py`` and VLMEvalKit ``vqa_eval.py``): if the prediction parses as a number and
    the target parses as a *non-zero* number (:func:`_relaxed_float`), correct when
    ``|prediction - target| / |target| <= max_relative_change``; otherwise (a target of 0 included, so "0.0" does not
    match "0") case-insensitive string equality, ``prediction.lower() == target.lower()`` (no stripping here).
    "12%" is 0.12: it matches "0.12" but not "12"."""
    pred_value = _relaxed_float(prediction)
    target_value = _relaxed_float(target)
    if pred_value is not None and target_value:
        return abs(pred_value - target_value) / abs(target_value) <= max_relative_change
    return prediction.lower() == target.lower()


def relaxed_accuracy(prediction: str, targets: str | Sequence[str],
                     max_relative_change: float = RELAXED_TOLERANCE) -> float:
    """One ChartQA question: 1.0 if :func:`relaxed_correctness` holds for any target, else 0.0. The prediction is
    stripped (VLMEvalKit ``process_line(method='relaxed_accuracy')``; lmms-eval strips every model output in
    ``ConfigurableTask.process_results``), the targets are not. lmms-eval has one target per question
    (``chartqa_process_results``), VLMEvalKit takes the best over a list (``hit_calculate``: ``np.max``): with one
    target they agree, and so do their means (counts over n)."""
    pred = prediction.strip()
    return 1.0 if any(relaxed_correctness(pred, t, max_relative_change) for t in _references(targets)) else 0.0


def relaxed_accuracy_score(predictions: Sequence[str], targets: Sequence[str | Sequence[str]],
                           groups: Sequence[str] | None = None,
                           max_relative_change: float = RELAXED_TOLERANCE) -> MeanScore:
    """:func:`relaxed_accuracy` per question, the mean, and the mean per group (lmms-eval's
    ``relaxed_human_split`` / ``relaxed_augmented_split`` are the groups "human_test" / "augmented_test")."""
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} questions")
    per_item = tuple(relaxed_accuracy(p, t, max_relative_change) for p, t in zip(predictions, targets, strict=True))
    return _mean_score(per_item, groups, _python_mean)


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

