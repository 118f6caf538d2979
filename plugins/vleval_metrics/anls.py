"""Levenshtein distance and ANLS (DocVQA, InfoVQA) as lmms-eval (EvolvingLMMs-Lab/lmms-eval 75571cf
``lmms_eval/api/metrics.py``) and VLMEvalKit (open-compass/VLMEvalKit e8e78f0 ``vlmeval/dataset/utils/vqa_eval.py``)
compute them."""

from __future__ import annotations

from collections.abc import Sequence

from vleval_metrics.reference_means import MeanScore, _mean_score, _numpy_mean, _python_mean
from vleval_metrics.score_inputs import _check_mode, _references

ANLS_MODES = ("lmms-eval", "vlmevalkit")
ANLS_THRESHOLD = 0.5

__all__ = [
    "ANLS_MODES", "ANLS_THRESHOLD", "anls", "anls_normalize", "anls_score", "levenshtein_distance",
    "normalized_levenshtein",
]


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
