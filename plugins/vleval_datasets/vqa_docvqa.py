"""DocVQA (single-page, Task 1), read as released: ``val_v1.0.json`` (or ``train_v1.0.json``, ``*_withQT.json``)
and the ``documents/`` next to it.

The file is ``{"dataset_name": "docvqa", "dataset_split": "val", "dataset_version": "1.0", "data": [{"questionId":
int, "question": str, "question_types"?: [str], "image": "documents/<page>.png", "docId": int, "ucsf_document_id":
str, "ucsf_document_page_no": str, "answers": [str], "data_split": "val"}, ...]}``; ``image`` is relative to the split
directory (the one holding the JSON file). The test file has no ``answers`` and is refused.

``answers`` keeps every answer in file order; ``extra`` holds ``question_types`` (a tuple), ``docId``,
``ucsf_document_id``, ``ucsf_document_page_no`` and ``data_split`` where given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    scalars,
    text,
    texts,
    top_list,
)

#: Per-question fields kept in ``extra`` as they are.
DOCVQA_EXTRA = ("docId", "ucsf_document_id", "ucsf_document_page_no", "data_split")


def read_docvqa(annotations: str | Path, images: str | Path | None = None, *,
                limit: int | None = None) -> list[VQARecord]:
    """The questions of a DocVQA file, in file order.

    Args:
        annotations: ``<split>_v1.0.json``.
        images: the directory the records' ``image`` paths are relative to; default: the JSON file's directory.
        limit: keep only the first N questions (``None``: all); every record is checked either way.
    """
    who = "docvqa"
    check_limit(limit, who)
    annotations = require_file(annotations, who, "annotation file")
    root = ImageRoot(annotations.parent if images is None else images, who, "document image directory")
    data = top_list(read_json(annotations, "a DocVQA file"), "data", annotations, "question records")
    records: list[VQARecord] = []
    labels: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(data):
        label = f"{annotations}: data[{i}]"
        entry = record_object(raw, label)
        question_id = ident(entry, "questionId", label)
        label = f"{annotations}: data[{i}] (questionId {question_id!r})"
        first_use(seen, str(question_id), i, label, "questionId", "data[{}]")
        path = root.join(text(entry, "image", label) or "", label)
        answers = texts(entry, "answers", label, missing=" (the DocVQA test split has no answers)")
        extra: dict[str, Any] = {}
        if entry.get("question_types") is not None:
            extra["question_types"] = texts(entry, "question_types", label)
        extra.update(scalars(entry, DOCVQA_EXTRA, label))
        records.append(VQARecord(id=str(question_id), image=path, question=text(entry, "question", label) or "",
                                 answers=answers, extra=extra))
        labels.append(label)
    return keep(records, labels, limit, root, annotations)
