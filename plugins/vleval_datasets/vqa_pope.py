"""POPE, read as released: ``output/coco/coco_pope_{random,popular,adversarial}.json`` and COCO ``val2014/``.

Each file is JSON lines, one object a line: ``{"question_id": int, "image": "COCO_val2014_000000310196.jpg",
"image_id"?: int, "text": "Is there a snowboard in the image?", "label": "yes" | "no"}``; an image lies at
``<images>/<image>``. Blank lines are skipped.

``answers`` is ``(label,)`` (lower-cased); ``extra`` holds ``image_id`` where given and ``category`` (``random``,
``popular`` or ``adversarial``, from the file name).
"""

from __future__ import annotations

import json
import re
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
    record_object,
    require_file,
    text,
)

#: The POPE sampling settings, named at the end of the released file names (``coco_pope_<category>.json``).
POPE_CATEGORY = re.compile(r"_(random|popular|adversarial)$")
POPE_LABELS = ("yes", "no")


def read_pope(path: str | Path, images: str | Path, *, limit: int | None = None) -> list[VQARecord]:
    """The questions of a POPE file, in file order.

    Args:
        path: a POPE JSON-lines file.
        images: the directory holding the ``image`` files (COCO ``val2014/``).
        limit: keep only the first N questions (``None``: all); every line is checked either way.
    """
    who = "pope"
    check_limit(limit, who)
    path = require_file(path, who, "question file")
    root = ImageRoot(images, who)
    match = POPE_CATEGORY.search(path.stem)
    records: list[VQARecord] = []
    labels: list[str] = []
    seen: dict[str, int] = {}
    for number, line in _lines(path):
        label = f"{path}: line {number}"
        try:
            entry = record_object(json.loads(line), label)
        except json.JSONDecodeError as error:
            raise DatasetFormatError(f"{label}: invalid JSON at column {error.colno}: {error.msg} (expected one "
                                     "JSON object per line)") from None
        question_id = ident(entry, "question_id", label)
        label = f"{path}: line {number} (question_id {question_id!r})"
        first_use(seen, str(question_id), number, label, "question_id", "line {}")
        image = root.join(text(entry, "image", label) or "", label)
        answer = (text(entry, "label", label) or "").lower()
        if answer not in POPE_LABELS:
            raise DatasetFormatError(f"{label}: field 'label' must be 'yes' or 'no', got {entry['label']!r}")
        extra: dict[str, Any] = {}
        if entry.get("image_id") is not None:
            extra["image_id"] = ident(entry, "image_id", label)
        if match:
            extra["category"] = match.group(1)
        records.append(VQARecord(id=str(question_id), image=image, question=text(entry, "text", label) or "",
                                 answers=(answer,), extra=extra))
        labels.append(label)
    return keep(records, labels, limit, root, path)


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8") as handle:
            return [(number, line) for number, line in enumerate(handle, 1) if line.strip()]
    except UnicodeDecodeError as error:
        raise DatasetFormatError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
