"""VQAv2 and OK-VQA: a questions JSON, an annotations JSON and COCO images, read as released.

- questions (``v2_OpenEnded_mscoco_val2014_questions.json``; OK-VQA ``OpenEnded_mscoco_val2014_questions.json``):
  ``{"info", "task_type", "data_type", "data_subtype": "val2014", "license", "questions": [{"image_id": int,
  "question": str, "question_id": int}, ...]}``;
- annotations (``v2_mscoco_val2014_annotations.json``; OK-VQA ``mscoco_val2014_annotations.json``): ``{...,
  "annotations": [{"question_id", "image_id", "question_type", "answer_type", "answers": [{"answer": str,
  "answer_confidence": "yes" | "maybe" | "no", "answer_id": int, "raw_answer"?: str}, ...],
  "multiple_choice_answer"?: str, "confidence"?: int}, ...]}`` (OK-VQA has ``raw_answer`` and ``confidence``, no
  ``multiple_choice_answer``);
- images: ``<images>/COCO_<data_subtype>_<image_id:012d>.jpg`` (the official API's naming), e.g.
  ``val2014/COCO_val2014_000000262148.jpg``.

Records follow the questions file's order; every question needs exactly one annotation with the same ``image_id`` and
every annotation a question. ``answers`` keeps all (ten) answers in file order; ``extra`` holds ``image_id``,
``answer_confidence`` (one per answer), and ``multiple_choice_answer``, ``raw_answers`` and ``confidence`` where given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vleval_datasets.errors import DatasetFormatError
from vleval_datasets.vqa_records import (
    ImageRoot,
    VQARecord,
    check_limit,
    first_use,
    ident,
    keep,
    read_json,
    record_object,
    require_file,
    text,
    top_list,
)

#: How the official VQA API names a COCO image from the file's ``data_subtype`` and the record's ``image_id``.
COCO_IMAGE_PATTERN = "COCO_{subtype}_{image_id:012d}.jpg"


def read_vqa_coco(
    questions: str | Path,
    annotations: str | Path,
    images: str | Path,
    *,
    limit: int | None = None,
    subtype: str | None = None,
    image_pattern: str = COCO_IMAGE_PATTERN,
    who: str = "vqa-coco",
) -> list[VQARecord]:
    """The questions of a VQAv2 / OK-VQA split with their annotations, in the questions file's order.

    Args:
        questions: the questions JSON.
        annotations: the annotations JSON of the same split.
        images: the directory holding the split's COCO images (e.g. ``val2014/``).
        limit: keep only the first N questions (``None``: all); every record is checked either way.
        subtype: the ``{subtype}`` in image names; default: the files' ``data_subtype`` (e.g. ``val2014``).
        image_pattern: how an image's file name is built from ``subtype`` and ``image_id``.
        who: the dataset name used in error messages.
    """
    check_limit(limit, who)
    questions = require_file(questions, who, "questions file")
    annotations = require_file(annotations, who, "annotations file")
    root = ImageRoot(images, who)
    question_data = read_json(questions, "a VQA questions file")
    annotation_data = read_json(annotations, "a VQA annotations file")
    question_list = top_list(question_data, "questions", questions, "question records")
    annotation_list = top_list(annotation_data, "annotations", annotations, "annotation records")
    subtype = _subtype(subtype, question_data, annotation_data, questions, annotations)
    _check_pattern(image_pattern, subtype, who)
    by_question = _index_annotations(annotation_list, annotations)
    records: list[VQARecord] = []
    labels: list[str] = []
    seen: dict[int, int] = {}
    for i, raw in enumerate(question_list):
        label = f"{questions}: questions[{i}]"
        question = record_object(raw, label)
        question_id = ident(question, "question_id", label, integer=True)
        label = f"{questions}: questions[{i}] (question_id {question_id})"
        first_use(seen, question_id, i, label, "question_id", "questions[{}]")
        image_id = ident(question, "image_id", label, integer=True)
        found = by_question.pop(question_id, None)
        if found is None:
            raise DatasetFormatError(f"{label}: no annotation in {annotations} has this question_id")
        j, annotation = found
        if annotation.get("image_id") != image_id:
            raise DatasetFormatError(
                f"{label}: image_id {image_id} differs from {annotations}: annotations[{j}]'s image_id "
                f"{annotation.get('image_id')!r}"
            )
        path = root.join(image_pattern.format(subtype=subtype, image_id=image_id), label)
        records.append(_record(question, annotation, f"{annotations}: annotations[{j}] (question_id {question_id})",
                               label, str(question_id), image_id, path))
        labels.append(label)
    if by_question:
        question_id, (j, _) = next(iter(by_question.items()))
        raise DatasetFormatError(
            f"{annotations}: annotations[{j}] (question_id {question_id}): no question in {questions} has this "
            f"question_id ({len(by_question)} annotation(s) without a question)"
        )
    return keep(records, labels, limit, root, questions)


def read_vqav2(questions: str | Path, annotations: str | Path, images: str | Path, *, limit: int | None = None,
               subtype: str | None = None, image_pattern: str = COCO_IMAGE_PATTERN) -> list[VQARecord]:
    """VQAv2 (``v2_OpenEnded_mscoco_<split>_questions.json`` + ``v2_mscoco_<split>_annotations.json``)."""
    return read_vqa_coco(questions, annotations, images, limit=limit, subtype=subtype, image_pattern=image_pattern,
                         who="vqav2")


def read_okvqa(questions: str | Path, annotations: str | Path, images: str | Path, *, limit: int | None = None,
               subtype: str | None = None, image_pattern: str = COCO_IMAGE_PATTERN) -> list[VQARecord]:
    """OK-VQA (``OpenEnded_mscoco_<split>_questions.json`` + ``mscoco_<split>_annotations.json``)."""
    return read_vqa_coco(questions, annotations, images, limit=limit, subtype=subtype, image_pattern=image_pattern,
                         who="ok-vqa")


def _subtype(subtype: str | None, question_data: dict[str, Any], annotation_data: dict[str, Any], questions: Path,
             annotations: Path) -> str:
    if subtype is not None:
        if not isinstance(subtype, str) or not subtype:
            raise DatasetFormatError(f"{questions}: subtype must be a non-empty string, got {subtype!r}")
        return subtype
    in_questions, in_annotations = question_data.get("data_subtype"), annotation_data.get("data_subtype")
    for path, value in ((questions, in_questions), (annotations, in_annotations)):
        if value is not None and (not isinstance(value, str) or not value):
            raise DatasetFormatError(f"{path}: top-level field 'data_subtype' must be a non-empty string, got "
                                     f"{value!r}")
    if in_questions and in_annotations and in_questions != in_annotations:
        raise DatasetFormatError(
            f"{questions}: data_subtype {in_questions!r} differs from {annotations}'s {in_annotations!r} (files of "
            "different splits?)"
        )
    found = in_questions or in_annotations
    if not found:
        raise DatasetFormatError(
            f"{questions}: no top-level 'data_subtype' (e.g. 'val2014') in it or in {annotations}; pass subtype= "
            "to name the images"
        )
    return found


def _check_pattern(pattern: str, subtype: str, who: str) -> None:
    try:
        pattern.format(subtype=subtype, image_id=0)
    except (KeyError, IndexError, ValueError, TypeError, AttributeError) as error:
        raise DatasetFormatError(
            f"{who}: image_pattern {pattern!r} must use only {{subtype}} and {{image_id}} (an integer): {error!r}"
        ) from None


def _index_annotations(annotation_list: list[Any], annotations: Path) -> dict[int, tuple[int, dict[str, Any]]]:
    by_question: dict[int, tuple[int, dict[str, Any]]] = {}
    for j, raw in enumerate(annotation_list):
        label = f"{annotations}: annotations[{j}]"
        annotation = record_object(raw, label)
        question_id = ident(annotation, "question_id", label, integer=True)
        if question_id in by_question:
            raise DatasetFormatError(
                f"{label} (question_id {question_id}): duplicate question_id, first used by "
                f"annotations[{by_question[question_id][0]}]"
            )
        by_question[question_id] = (j, annotation)
    return by_question


def _record(question: dict[str, Any], annotation: dict[str, Any], label: str, question_label: str, record_id: str,
            image_id: int, path: Path) -> VQARecord:
    answers = annotation.get("answers")
    if not isinstance(answers, list) or not answers:
        raise DatasetFormatError(f"{label}: field 'answers' must be a non-empty list of answer objects, got "
                                 f"{answers!r}")
    texts: list[str] = []
    confidences: list[str] = []
    raw_answers: list[str] = []
    for k, raw in enumerate(answers):
        entry = record_object(raw, f"{label}: answers[{k}]")
        texts.append(text(entry, "answer", f"{label}: answers[{k}]", empty=True) or "")
        confidence = text(entry, "answer_confidence", f"{label}: answers[{k}]", optional=True)
        if confidence is not None:
            confidences.append(confidence)
        raw_answer = text(entry, "raw_answer", f"{label}: answers[{k}]", optional=True, empty=True)
        if raw_answer is not None:
            raw_answers.append(raw_answer)
    extra: dict[str, Any] = {"image_id": image_id}
    for key, values in (("answer_confidence", confidences), ("raw_answers", raw_answers)):
        if values and len(values) != len(texts):
            raise DatasetFormatError(f"{label}: field {key!r} given for {len(values)} of {len(texts)} answers")
        if values:
            extra[key] = tuple(values)
    multiple_choice = text(annotation, "multiple_choice_answer", label, optional=True, empty=True)
    if multiple_choice is not None:
        extra["multiple_choice_answer"] = multiple_choice
    confidence = annotation.get("confidence")
    if confidence is not None:
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            raise DatasetFormatError(f"{label}: field 'confidence' must be a number, got {confidence!r}")
        extra["confidence"] = confidence
    return VQARecord(
        id=record_id,
        image=path,
        question=text(question, "question", question_label) or "",
        answers=tuple(texts),
        answer_type=text(annotation, "answer_type", label, optional=True),
        question_type=text(annotation, "question_type", label, optional=True),
        extra=extra,
    )
