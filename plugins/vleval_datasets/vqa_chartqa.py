"""ChartQA, read as released: ``ChartQA Dataset/<split>/<split>_human.json`` or ``<split>_augmented.json`` and the
split's ``png/`` directory.

The file is a JSON list ``[{"imgname": "41699051005347.png", "query": str, "label": str}, ...]``; an image lies at
``<split dir>/png/<imgname>``. Records have no id in the file: a record's id is ``<file stem>/<position>`` (e.g.
``test_human/0``), so the human and augmented files can be read and concatenated.

``answers`` is ``(label,)``; ``extra`` holds ``imgname`` and ``subset`` (``human`` or ``augmented``, from the file
name).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from vleval_datasets.vqa_records import (
    ImageRoot,
    VQARecord,
    check_limit,
    keep,
    read_json,
    record_object,
    require_file,
    text,
    top_list,
)

#: ``<split>_<subset>.json``: the released file names.
CHARTQA_FILE = re.compile(r"^(?:train|val|test)_(human|augmented)$")


def read_chartqa(annotations: str | Path, images: str | Path | None = None, *,
                 limit: int | None = None) -> list[VQARecord]:
    """The questions of a ChartQA file, in file order.

    Args:
        annotations: ``<split>_human.json`` or ``<split>_augmented.json``.
        images: the directory holding the ``imgname`` files; default: ``png/`` next to the JSON file.
        limit: keep only the first N questions (``None``: all); every record is checked either way.
    """
    who = "chartqa"
    check_limit(limit, who)
    annotations = require_file(annotations, who, "annotation file")
    root = ImageRoot(annotations.parent / "png" if images is None else images, who, "chart image directory")
    data = top_list(read_json(annotations, "a ChartQA file"), None, annotations, "question records")
    match = CHARTQA_FILE.match(annotations.stem)
    records: list[VQARecord] = []
    labels: list[str] = []
    for i, raw in enumerate(data):
        label = f"{annotations}: [{i}]"
        entry = record_object(raw, label)
        imgname = text(entry, "imgname", label) or ""
        label = f"{annotations}: [{i}] ({imgname})"
        extra: dict[str, Any] = {"imgname": imgname}
        if match:
            extra["subset"] = match.group(1)
        records.append(VQARecord(
            id=f"{annotations.stem}/{i}",
            image=root.join(imgname, label),
            question=text(entry, "query", label) or "",
            answers=(text(entry, "label", label) or "",),
            extra=extra,
        ))
        labels.append(label)
    return keep(records, labels, limit, root, annotations)
