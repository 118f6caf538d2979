"""Multiple choice on MMBench-format TSV files.

Columns (tab-separated, a header row first): ``index, question, hint, A, B, C, D, answer, category, l2-category,
image`` and optionally ``split``, ``source``, ``comment``. Option columns are single capital letters; an empty or
``nan`` option is absent. ``image`` is a base64-encoded image, or the integer ``index`` of another row whose image
is reused (as in the released MMBench files). Circular rotations of a question share ``index % CIRCULAR_BASE``.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vleval.api import CIRCULAR_BASE, MAX_IMAGE_PIXELS, Dataset, MCItem, Task, hash_files
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError, ImageDecodeError
from vleval_datasets.images import decode_image

#: Columns every MMBench TSV must have.
REQUIRED_COLUMNS = ("index", "question", "answer")
#: A field holding a reference to another row's image is all digits and at most this long.
_MAX_REFERENCE_LENGTH = 20
_CSV_FIELD_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class _Row:
    line: int
    index: int
    question: str
    hint: str
    options: dict[str, str]
    answer: str
    category: str
    l2_category: str
    image_key: int | None  # the index of the row whose base64 image this row shows


def _absent(value: str) -> bool:
    stripped = value.strip()
    return not stripped or stripped.lower() == "nan"


class MMBenchDataset(Dataset):
    """The rows of an MMBench TSV, in file order, as ``MCItem``s.

    Args:
        path: the TSV file.
        split: keep only rows whose ``split`` column equals this (the column must then exist); ``None`` keeps all.
        name: dataset name in ``id``; defaults to the file stem.
        max_pixels: largest image accepted when decoding.
    """

    task = Task.MULTIPLE_CHOICE

    def __init__(
        self,
        path: str | Path,
        split: str | None = None,
        name: str | None = None,
        max_pixels: int = MAX_IMAGE_PIXELS,
    ) -> None:
        self.path = Path(path).expanduser()
        self.split = split
        self.max_pixels = max_pixels
        if not self.path.is_file():
            raise DatasetFileNotFoundError(f"mmbench: TSV file {self.path} not found (expected an MMBench-format TSV)")
        self.name = name or self.path.stem
        self.id = f"mmbench:{self.name}" + (f"/{split}" if split else "")
        self._rows, self._images = self._read()
        if not self._rows:
            raise DatasetFormatError(f"{self.path}: no rows" + (f" with split {split!r}" if split else ""))
        self._hash: str | None = None

    def _read(self) -> tuple[list[_Row], dict[int, tuple[str, int]]]:
        where = str(self.path)
        if csv.field_size_limit() < _CSV_FIELD_LIMIT:
            csv.field_size_limit(_CSV_FIELD_LIMIT)  # base64 images exceed the default 128 KiB field limit
        rows: list[_Row] = []
        images: dict[int, tuple[str, int]] = {}  # row index -> (base64 data, line)
        references: dict[int, tuple[int, int]] = {}  # row index -> (referenced index, line)
        seen: dict[int, int] = {}
        line = 1  # the last physical line read: reported when the csv module itself fails
        try:
            with open(self.path, encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle, delimiter="\t")
                header = next(reader, None)
                if header is None:
                    raise DatasetFormatError(f"{where}: empty file, expected a header row")
                columns = {name.strip(): i for i, name in enumerate(header)}
                missing = [name for name in REQUIRED_COLUMNS if name not in columns]
                if missing:
                    raise DatasetFormatError(
                        f"{where}: line 1: header lacks column(s) {missing}; found {list(columns)}"
                    )
                letters = [name for name in columns if len(name) == 1 and "A" <= name <= "Z"]
                if len(letters) < 2:
                    raise DatasetFormatError(f"{where}: line 1: header needs option columns A, B, ...; found {letters}")
                if self.split is not None and "split" not in columns:
                    raise DatasetFormatError(
                        f"{where}: line 1: split={self.split!r} given but the header has no 'split' column"
                    )
                image_column = columns.get("image")
                for fields in reader:
                    start, line = line + 1, reader.line_num
                    lines = f"line {line}" if start == line else f"lines {start}-{line}"  # quoted newlines
                    if not fields or (len(fields) == 1 and not fields[0].strip()):
                        continue
                    if len(fields) != len(header):
                        raise DatasetFormatError(
                            f"{where}: {lines}: expected {len(header)} tab-separated fields, got {len(fields)} "
                            "(tabs, quotes or newlines inside a field must be quoted; an unclosed quote runs on to "
                            "later lines)"
                        )

                    def get(name: str, fields: list[str] = fields) -> str:
                        return fields[columns[name]] if name in columns else ""

                    raw_index = get("index").strip()
                    try:
                        index = int(raw_index)
                    except ValueError:
                        raise DatasetFormatError(
                            f"{where}: {lines}: field 'index' must be an integer, got {raw_index!r}"
                        ) from None
                    label = f"{where}: {lines} (index {index})"
                    if index in seen:
                        raise DatasetFormatError(f"{label}: duplicate index, first used on line {seen[index]}")
                    seen[index] = start
                    image_key: int | None = None
                    if image_column is not None and not _absent(fields[image_column]):
                        value = fields[image_column].strip()
                        if value.isdigit() and len(value) <= _MAX_REFERENCE_LENGTH:
                            references[index] = (int(value), start)
                        else:
                            images[index] = (value, start)
                        image_key = index
                    if self.split is not None and get("split").strip() != self.split:
                        continue
                    options = {letter: get(letter).strip() for letter in letters if not _absent(get(letter))}
                    if len(options) < 2:
                        raise DatasetFormatError(f"{label}: fewer than two options among columns {letters}")
                    answer = get("answer").strip()
                    if answer not in options:
                        raise DatasetFormatError(
                            f"{label}: field 'answer' is {answer!r}, not one of the options {sorted(options)}"
                        )
                    question = get("question").strip()
                    if not question:
                        raise DatasetFormatError(f"{label}: field 'question' is empty")
                    hint = get("hint")
                    rows.append(
                        _Row(
                            line=start,
                            index=index,
                            question=question,
                            hint="" if _absent(hint) else hint.strip(),
                            options=options,
                            answer=answer,
                            category=get("category").strip(),
                            l2_category=get("l2-category").strip(),
                            image_key=image_key,
                        )
                    )
        except UnicodeDecodeError as error:
            raise DatasetFormatError(f"{where}: not UTF-8 text ({error.reason} at byte {error.start})") from None
        except csv.Error as error:
            raise DatasetFormatError(f"{where}: line {line}: malformed TSV: {error}") from None
        resolved = self._resolve(references, images)
        rows = [row if row.image_key is None else replace(row, image_key=resolved[row.image_key]) for row in rows]
        used = {row.image_key for row in rows}
        return rows, {key: value for key, value in images.items() if key in used}

    def _resolve(self, references: dict[int, tuple[int, int]], images: dict[int, Any]) -> dict[int, int]:
        """Map every row index with an image to the index of the row holding its base64 data."""
        resolved = {index: index for index in images}
        for index, (target, line) in references.items():
            chain = {index}
            while target in references and target not in chain:
                chain.add(target)
                target = references[target][0]
            if target not in images:
                raise DatasetFormatError(
                    f"{self.path}: line {line} (index {index}): field 'image' refers to index {target}, "
                    "which is not a row with a base64 image"
                )
            resolved[index] = target
        return resolved

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> MCItem:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]  # type: ignore[return-value]
        row = self._rows[index]
        image = None
        if row.image_key is not None:
            encoded, line = self._images[row.image_key]
            label = f"{self.path}: line {row.line} (index {row.index}) field 'image'"
            if row.image_key != row.index:
                label += f" (a reference to the image of index {row.image_key} on line {line})"
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as error:
                raise ImageDecodeError(f"{label}: invalid base64: {error}") from None
            image = decode_image(data, self.max_pixels, label=label)
        return MCItem(
            index=row.index,
            image=image,
            question=row.question,
            options=dict(row.options),
            answer=row.answer,
            hint=row.hint,
            category=row.category,
            l2_category=row.l2_category,
        )

    def content_hash(self) -> str:
        """SHA-256 over the TSV file (which holds the images) and the split filter (cached)."""
        if self._hash is None:
            params = f"mmbench|split={self.split}|{hash_files([self.path])}"
            self._hash = hashlib.sha256(params.encode()).hexdigest()
        return self._hash

    def describe(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "split": self.split,
            "size": len(self),
            "questions": len({row.index % CIRCULAR_BASE for row in self._rows}),
            "categories": dict(Counter(row.category for row in self._rows)),
            "rows_without_image": sum(row.image_key is None for row in self._rows),  # shown to the model blind
        }

