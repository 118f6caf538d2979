"""VLMEvalKit's VQA TSVs (``TextVQA_VAL.tsv``, ``DocVQA_VAL.tsv``, ``ChartQA_TEST.tsv``, ``OCRVQA_TEST.tsv``...),
read as VLMEvalKit's ``ImageVQADataset`` reads them.

Tab-separated with a header row: ``index``, ``question``, ``answer`` and ``image``, and any others (``split``,
``category``, ``image_path``, ``question_id``...). ``image`` holds a base64-encoded image, or (64 characters or
fewer) the ``index`` of another row whose image is reused; a file without an ``image`` column names files in
``image_path`` instead, relative to ``images``. ``answer`` is one answer, or a Python/JSON list literal of several
(``"['a', 'b']"``); a field that starts with ``[`` but is no list literal is one answer, as in VLMEvalKit.

``answers`` keeps every answer in order; ``answer_type`` / ``question_type`` come from columns of those names; every
other non-empty column is kept in ``extra`` as text. Base64 images are decoded to bytes (not to pixels) for the kept
rows only.
"""

from __future__ import annotations

import ast
import base64
import binascii
import csv
from dataclasses import dataclass
from pathlib import Path

from vleval_datasets.errors import DatasetFormatError, ImageDecodeError
from vleval_datasets.vqa_records import ImageRoot, VQARecord, check_limit, keep, require_file

#: Columns every VQA TSV must have (and ``image`` or ``image_path``).
REQUIRED_COLUMNS = ("index", "question", "answer")
#: VLMEvalKit treats an ``image`` field of at most this many characters as the ``index`` of the row holding the image.
REFERENCE_MAX = 64
#: Columns read into the record itself rather than ``extra``.
RECORD_COLUMNS = ("index", "question", "answer", "image", "answer_type", "question_type")
_CSV_FIELD_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class _Row:
    line: int
    label: str
    index: str
    question: str
    answers: tuple[str, ...]
    answer_type: str | None
    question_type: str | None
    extra: dict[str, str]


def read_vqa_tsv(path: str | Path, *, images: str | Path | None = None, split: str | None = None,
                 limit: int | None = None) -> list[VQARecord]:
    """The rows of a VLMEvalKit VQA TSV, in file order.

    Args:
        path: the TSV file.
        images: the directory ``image_path`` is relative to (only for files without an ``image`` column).
        split: keep only rows whose ``split`` column equals this (the column must then exist); ``None`` keeps all.
        limit: keep only the first N rows (``None``: all); every row is checked either way.
    """
    who = "vqa-tsv"
    check_limit(limit, who)
    path = require_file(path, who, "TSV file")
    rows, embedded, columns = _read(path, split)
    if not rows:
        raise DatasetFormatError(f"{path}: no rows" + (f" with split {split!r}" if split is not None else ""))
    rows = rows[:limit]
    if "image" in columns:
        decoded: dict[str, bytes] = {}
        records = [_record(row, _image_bytes(row, embedded, decoded, path)) for row in rows]
        return keep(records, [row.label for row in rows], None, None, path)
    if images is None:
        raise DatasetFormatError(f"{path}: line 1: no 'image' column, so images= (the root of 'image_path') is needed")
    root = ImageRoot(images, who)
    records = []
    for row in rows:
        relative = row.extra.get("image_path")
        if not relative:
            raise DatasetFormatError(f"{row.label}: field 'image_path' is empty")
        records.append(_record(row, root.join(relative, row.label)))
    return keep(records, [row.label for row in rows], None, root, path)


def _record(row: _Row, image: Path | bytes) -> VQARecord:
    return VQARecord(id=row.index, image=image, question=row.question, answers=row.answers,
                     answer_type=row.answer_type, question_type=row.question_type, extra=row.extra)


def _read(path: Path, split: str | None) -> tuple[list[_Row], dict[str, tuple[str, int]], dict[str, int]]:
    """The rows kept (of ``split``), every row's ``image`` field by index (references may point at any row), and
    the header's columns."""
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)  # base64 images exceed the default 128 KiB field limit
    rows: list[_Row] = []
    embedded: dict[str, tuple[str, int]] = {}
    seen: dict[str, int] = {}
    line = 1
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t")
            header = next(reader, None)
            if header is None:
                raise DatasetFormatError(f"{path}: empty file, expected a header row")
            columns = {name.strip(): i for i, name in enumerate(header)}
            missing = [name for name in REQUIRED_COLUMNS if name not in columns]
            if missing:
                raise DatasetFormatError(f"{path}: line 1: header lacks column(s) {missing}; found {list(columns)}")
            if "image" not in columns and "image_path" not in columns:
                raise DatasetFormatError(f"{path}: line 1: header needs an 'image' (base64) or 'image_path' column")
            if split is not None and "split" not in columns:
                raise DatasetFormatError(f"{path}: line 1: split={split!r} given but the header has no 'split' column")
            for fields in reader:
                start, line = line + 1, reader.line_num
                lines = f"line {line}" if start == line else f"lines {start}-{line}"  # quoted newlines
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if len(fields) != len(header):
                    raise DatasetFormatError(
                        f"{path}: {lines}: expected {len(header)} tab-separated fields, got {len(fields)} (tabs, "
                        "quotes or newlines inside a field must be quoted)"
                    )
                values = {name: fields[i].strip() for name, i in columns.items()}
                index = values["index"]
                if not index:
                    raise DatasetFormatError(f"{path}: {lines}: field 'index' is empty")
                label = f"{path}: {lines} (index {index})"
                if index in seen:
                    raise DatasetFormatError(f"{label}: duplicate index, first used on line {seen[index]}")
                seen[index] = start
                if "image" in columns:
                    if not values["image"] or values["image"].lower() == "nan":
                        raise DatasetFormatError(f"{label}: field 'image' is empty (every row needs an image)")
                    embedded[index] = (values["image"], start)
                if split is not None and values["split"] != split:
                    continue
                if not values["question"]:
                    raise DatasetFormatError(f"{label}: field 'question' is empty")
                rows.append(_Row(
                    line=start,
                    label=label,
                    index=index,
                    question=values["question"],
                    answers=_answers(values["answer"], label),
                    answer_type=values.get("answer_type") or None,
                    question_type=values.get("question_type") or None,
                    extra={k: v for k, v in values.items() if k not in RECORD_COLUMNS and v},
                ))
    except UnicodeDecodeError as error:
        raise DatasetFormatError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise DatasetFormatError(f"{path}: line {line}: malformed TSV: {error}") from None
    return rows, embedded, columns


def _answers(raw: str, label: str) -> tuple[str, ...]:
    """The ``answer`` field: one answer, or the items of a list literal (strings or numbers, as VLMEvalKit's
    ``toliststr`` takes them)."""
    if not raw:
        raise DatasetFormatError(f"{label}: field 'answer' is empty")
    if not (raw.startswith("[") and raw.endswith("]")):
        return (raw,)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return (raw,)  # not a list literal: one answer, as VLMEvalKit reads it
    if not isinstance(value, list):
        return (raw,)
    if not value:
        raise DatasetFormatError(f"{label}: field 'answer' is an empty list, expected at least one answer")
    for j, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise DatasetFormatError(
                f"{label}: field 'answer' item {j} must be a string or a number, got {type(item).__name__} {item!r}"
            )
    return tuple(str(item).strip() for item in value)


def _image_bytes(row: _Row, embedded: dict[str, tuple[str, int]], decoded: dict[str, bytes], path: Path) -> bytes:
    """The decoded image of ``row``, following a reference to another row (each image decoded once)."""
    value, _ = embedded[row.index]
    target, label = row.index, f"{row.label}: field 'image'"
    if len(value) <= REFERENCE_MAX:
        target = value
        if target not in embedded:
            raise DatasetFormatError(f"{label}: {value!r} is no base64 image and refers to no row's index")
        value, line = embedded[target]
        if len(value) <= REFERENCE_MAX:
            raise DatasetFormatError(
                f"{label}: refers to index {target} (line {line}), whose 'image' is itself a reference, not a "
                "base64 image"
            )
        label += f" (a reference to the image of index {target} on line {line})"
    if target not in decoded:
        decoded[target] = _decode(value, label)
    return decoded[target]


def _decode(value: str, label: str) -> bytes:
    if value.startswith("["):
        raise DatasetFormatError(f"{label}: holds a list of images; multi-image rows are not supported")
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ImageDecodeError(f"{label}: invalid base64: {error}") from None
    if not data:
        raise ImageDecodeError(f"{label}: decodes to no bytes")
    return data
