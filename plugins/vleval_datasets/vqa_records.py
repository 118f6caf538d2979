"""Open-ended VQA records shared by the released-format readers (``vqa_coco``, ``vqa_textvqa``, ``vqa_docvqa``,
``vqa_chartqa``, ``vqa_pope``, ``vqa_tsv``), and the checks, content hash and image loading they share.

A reader parses and checks a whole file at once (one :class:`~vleval_datasets.errors.DatasetFormatError` naming the
file, the record and the field at the first problem), keeps the first ``limit`` records in file order and checks that
their image files exist; images are decoded only by :func:`load_image`, when an item is read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from vleval.api import MAX_IMAGE_PIXELS, UnsafeInputError, hash_files, safe_join
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError
from vleval_datasets.images import decode_image

if TYPE_CHECKING:
    from PIL.Image import Image

#: Version of the record serialisation hashed by :func:`content_hash` (bump it when that changes).
HASH_VERSION = "vqa-records/1"


class UnsafeDatasetPathError(DatasetFormatError, UnsafeInputError):
    """A record's image path is absolute or escapes the image root (both a format and an unsafe-input error)."""


@dataclass(frozen=True)
class VQARecord:
    """One open-ended VQA question.

    Attributes:
        id: the question's id in its file (``question_id``, ``questionId``, the TSV ``index``...), as a string.
        image: the image file (resolved inside the dataset's image root), or the bytes of an embedded image.
        question: the question text.
        answers: the reference answers in file order (VQAv2, OK-VQA and TextVQA: all ten human answers).
        answer_type: the file's answer type (VQAv2: ``yes/no``, ``number``, ``other``), if it has one.
        question_type: the file's question type (VQAv2: ``what color``...; OK-VQA: ``one``...), if it has one.
        extra: format-specific fields (read-only), e.g. ``multiple_choice_answer`` and ``answer_confidence``.
    """

    id: str
    image: Path | bytes
    question: str
    answers: tuple[str, ...]
    answer_type: str | None = None
    question_type: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "answers", tuple(self.answers))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))


def check_limit(limit: int | None, who: str) -> int | None:
    """``limit`` if it is ``None`` or an integer >= 1; raises :class:`DatasetFormatError` otherwise."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DatasetFormatError(f"{who}: limit must be an integer >= 1 or None, got {limit!r}")
    return limit


def require_file(path: str | Path, who: str, expected: str) -> Path:
    """``path`` (user-expanded) if it is a file; raises :class:`DatasetFileNotFoundError` saying what was expected."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetFileNotFoundError(f"{who}: {expected} {path} not found")
    return path


def read_json(path: Path, expected: str) -> Any:
    """The JSON value in ``path``; invalid JSON or non-UTF-8 text raise :class:`DatasetFormatError` naming the file,
    line and column."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise DatasetFormatError(
            f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg} (expected {expected})"
        ) from None
    except UnicodeDecodeError as error:
        raise DatasetFormatError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def top_list(data: Any, key: str | None, path: Path, expected: str) -> list[Any]:
    """``data[key]`` (or ``data`` itself when ``key`` is ``None``), which must be a list."""
    if key is None:
        if not isinstance(data, list):
            raise DatasetFormatError(f"{path}: expected a JSON list of {expected}, got {type(data).__name__}")
        return data
    if not isinstance(data, dict):
        raise DatasetFormatError(f"{path}: expected a JSON object with a {key!r} list, got {type(data).__name__}")
    value = data.get(key)
    if not isinstance(value, list):
        raise DatasetFormatError(f"{path}: top-level field {key!r} missing or not a list of {expected}")
    return value


def record_object(value: Any, label: str) -> dict[str, Any]:
    """``value`` if it is a JSON object (a record)."""
    if not isinstance(value, dict):
        raise DatasetFormatError(f"{label}: must be a JSON object, got {type(value).__name__}")
    return value


def _type_name(value: Any) -> str:
    return "missing" if value is None else type(value).__name__


def text(record: Mapping[str, Any], key: str, label: str, *, optional: bool = False,
         empty: bool = False) -> str | None:
    """``record[key]`` as a string (stripped); ``optional`` allows it to be absent (``None``), ``empty`` to be blank."""
    value = record.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise DatasetFormatError(f"{label}: field {key!r} must be a string, got {_type_name(value)}")
    if not empty and not value.strip():
        raise DatasetFormatError(f"{label}: field {key!r} is empty")
    return value.strip()


def ident(record: Mapping[str, Any], key: str, label: str, *, integer: bool = False) -> int | str:
    """``record[key]`` as an id: an integer (not a boolean) or, unless ``integer``, a non-empty string."""
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not integer and isinstance(value, str) and value.strip():
        return value.strip()
    expected = "an integer" if integer else "an integer or a non-empty string"
    raise DatasetFormatError(f"{label}: field {key!r} must be {expected}, got {value!r}")


def texts(record: Mapping[str, Any], key: str, label: str, *, missing: str = "") -> tuple[str, ...]:
    """``record[key]``: a non-empty list of strings (each stripped); ``missing`` is added to the message when the
    field is absent (e.g. why a test split has no answers)."""
    value = record.get(key)
    if value is None:
        raise DatasetFormatError(f"{label}: field {key!r} missing (expected a list of strings){missing}")
    if not isinstance(value, list) or not value:
        raise DatasetFormatError(f"{label}: field {key!r} must be a non-empty list of strings, got {value!r}")
    for j, item in enumerate(value):
        if not isinstance(item, str):
            raise DatasetFormatError(f"{label}: field {key!r}[{j}] must be a string, got {_type_name(item)}")
    return tuple(item.strip() for item in value)


def scalars(record: Mapping[str, Any], keys: Iterable[str], label: str) -> dict[str, Any]:
    """The fields among ``keys`` that ``record`` has, each of which must be a string or a number."""
    out: dict[str, Any] = {}
    for key in keys:
        if key in record:
            value = record[key]
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise DatasetFormatError(f"{label}: field {key!r} must be a string or a number, got {value!r}")
            out[key] = value
    return out


def first_use(seen: dict[Any, int], key: Any, position: int, label: str, what: str, first: str) -> None:
    """Record that ``key`` is used at ``position``; raises when it was used before (a duplicate id). ``first`` formats
    the earlier position, e.g. ``"data[{}]"`` or ``"line {}"``."""
    if key in seen:
        raise DatasetFormatError(f"{label}: duplicate {what} {key!r}, first used by {first.format(seen[key])}")
    seen[key] = position


class ImageRoot:
    """A dataset's image directory: record paths are joined with :func:`vleval.api.safe_join` (no absolute paths,
    nothing outside the root) and checked to be files, without decoding them."""

    def __init__(self, root: str | Path, who: str, expected: str = "image directory") -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DatasetFileNotFoundError(f"{who}: {expected} {self.root} not found")
        self._joined: dict[str, Path] = {}
        self._checked: set[Path] = set()

    def join(self, relative: str, label: str) -> Path:
        """The path of ``relative`` inside the root; raises :class:`UnsafeDatasetPathError` naming ``label``."""
        path = self._joined.get(relative)
        if path is None:
            try:
                path = safe_join(self.root, relative)
            except UnsafeInputError as error:
                raise UnsafeDatasetPathError(f"{label}: image {relative!r}: {error}") from None
            self._joined[relative] = path
        return path

    def check(self, path: Path, label: str) -> None:
        """Raise :class:`DatasetFileNotFoundError` naming ``label`` unless ``path`` is a file."""
        if path not in self._checked:
            if not path.is_file():
                raise DatasetFileNotFoundError(f"{label}: image file {path} not found under {self.root}")
            self._checked.add(path)


def keep(records: list[VQARecord], labels: list[str], limit: int | None, images: ImageRoot | None,
         where: Path) -> list[VQARecord]:
    """The first ``limit`` records (all when ``None``), after checking that each one's image file exists."""
    if not records:
        raise DatasetFormatError(f"{where}: no records")
    kept = records[:limit]
    if images is not None:
        for record, label in zip(kept, labels, strict=False):
            if isinstance(record.image, Path):
                images.check(record.image, label)
    return kept


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, bytes):
        return {"sha256": hashlib.sha256(value).hexdigest()}
    raise TypeError(f"cannot hash a {type(value).__name__} in a VQA record's extra fields")


def content_hash(records: Iterable[VQARecord], protocol: str = "") -> str:
    """SHA-256 over ``protocol`` and every record in order: its fields (answers in order, ``extra`` included) and its
    image's bytes (a file's name and bytes via :func:`vleval.api.hash_files`, each file read once; embedded bytes
    directly). Stable across runs and machines (absolute paths are not hashed); any edit to a record or an image
    changes it."""
    digest = hashlib.sha256(f"{HASH_VERSION}|{protocol}\n".encode())
    files: dict[Path, str] = {}
    for record in records:
        if isinstance(record.image, bytes):
            image = "bytes:" + hashlib.sha256(record.image).hexdigest()
        else:
            image = files.get(record.image, "")
            if not image:
                try:
                    image = files[record.image] = "file:" + hash_files([record.image])
                except OSError as error:
                    raise DatasetFileNotFoundError(
                        f"record {record.id!r}: cannot read image {record.image}: {error.strerror or error}"
                    ) from None
        row = [record.id, image, record.question, list(record.answers), record.answer_type, record.question_type,
               record.extra]
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                                 default=_plain).encode() + b"\n")
    return digest.hexdigest()


def load_image(record: VQARecord, max_pixels: int = MAX_IMAGE_PIXELS, label: str | None = None) -> Image:
    """Decode the record's image to RGB through :func:`vleval.api.open_image` (decompression-bomb guard); errors name
    ``label`` (default: the record id and image)."""
    where = "<embedded bytes>" if isinstance(record.image, bytes) else str(record.image)
    return decode_image(record.image, max_pixels, label=label or f"record {record.id!r}: image {where}")


