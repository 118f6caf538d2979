"""ChartQA's relaxed accuracy (numbers within a relative tolerance, otherwise case-insensitive equality) as
lmms-eval (EvolvingLMMs-Lab/lmms-eval 75571cf ``lmms_eval/tasks/chartqa/utils.py``) and VLMEvalKit
(open-compass/VLMEvalKit e8e78f0 ``vlmeval/dataset/utils/vqa_eval.py``) compute it."""

from __future__ import annotations

from collections.abc import Sequence

from vleval_metrics.reference_means import MeanScore, _mean_score, _python_mean
from vleval_metrics.score_inputs import _references

RELAXED_TOLERANCE = 0.05

__all__ = ["RELAXED_TOLERANCE", "relaxed_accuracy", "relaxed_accuracy_score", "relaxed_correctness"]


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
