"""Exact match of a prediction against reference answers, after the normalisation of the official VQA script, none,
or VLMEvalKit's (open-compass/VLMEvalKit e8e78f0 ``vlmeval/dataset/utils/vqa_eval.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from vleval_metrics.reference_means import MeanScore, _mean_score, _python_mean
from vleval_metrics.score_inputs import _check_mode, _references
from vleval_metrics.vqa_normalize import normalize_answer

EXACT_MATCH_MODES = ("official", "strict", "vlmevalkit")

__all__ = ["EXACT_MATCH_MODES", "exact_match", "exact_match_score"]


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
