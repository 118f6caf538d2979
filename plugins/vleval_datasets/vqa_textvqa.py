"""TextVQA, read as released: ``TextVQA_0.5.1_val.json`` (or ``_train``) and the OpenImages ``train_images/``.

The file is ``{"dataset_type": "val", "dataset_name": "textvqa", "dataset_version": "0.5.1", "data": [{"question":
str, "image_id": str, "image_classes": [...], "flickr_original_url", "flickr_300k_url", "image_width",
"image_height", "answers": [str x 10], "question_tokens": [...], "question_id": int, "set_name": "val"}, ...]}``; an
image lies at ``<images>/<image_id>.jpg`` (the validation images ship in ``train_val_images.zip``'s
``train_images/``). The test file has no ``answers`` and is refused.

``answers`` keeps all ten answers in file order; ``extra`` holds ``image_id`` and ``set_name``.
"""

from __future__ import annotations

from pathlib import Path

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
    texts,
    top_list,
)


def read_textvqa(annotations: str | Path, images: str | Path, *, limit: int | None = None) -> list[VQARecord]:
    """The questions of a TextVQA file, in file order.

    Args:
        annotations: ``TextVQA_0.5.1_<split>.json``.
        images: the directory holding ``<image_id>.jpg`` (``train_images/`` for train and val).
        limit: keep only the first N questions (``None``: all); every record is checked either way.
    """
    who = "textvqa"
    check_limit(limit, who)
    annotations = require_file(annotations, who, "annotation file")
    root = ImageRoot(images, who)
    data = top_list(read_json(annotations, "a TextVQA file"), "data", annotations, "question records")
    records: list[VQARecord] = []
    labels: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(data):
        label = f"{annotations}: data[{i}]"
        entry = record_object(raw, label)
        question_id = ident(entry, "question_id", label)
        label = f"{annotations}: data[{i}] (question_id {question_id!r})"
        first_use(seen, str(question_id), i, label, "question_id", "data[{}]")
        image_id = text(entry, "image_id", label) or ""
        answers = texts(entry, "answers", label, missing=" (the TextVQA test split has no answers)")
        extra = {"image_id": image_id}
        set_name = text(entry, "set_name", label, optional=True)
        if set_name is not None:
            extra["set_name"] = set_name
        records.append(VQARecord(
            id=str(question_id),
            image=root.join(f"{image_id}.jpg", label),
            question=text(entry, "question", label) or "",
            answers=answers,
            extra=extra,
        ))
        labels.append(label)
    return keep(records, labels, limit, root, annotations)
