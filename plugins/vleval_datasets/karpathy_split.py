"""One split of a Karpathy JSON: its image records checked and resolved under the image root, with their captions.

The last splits read are kept (by annotation file identity, resolved image root and split), so that the same split
read again (other captions per image, the other task) skips decoding the JSON and resolving the image paths; only
the captions are taken again.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vleval.api import UnsafeInputError, safe_join
from vleval_datasets.errors import DatasetFormatError
from vleval_datasets.json_file import load_json


@dataclass(frozen=True)
class Entry:
    """One image of the split and the captions kept."""

    record: int  # position in the file's ``images`` list
    id: str
    path: Path
    captions: list[str]


@dataclass(frozen=True)
class SplitRecord:
    """What the split cache keeps of one checked image record."""

    index: int
    filename: str
    relative: str
    path: Path
    sentences: Any


#: The last splits read, by (annotation file identity, resolved image root, split): the file's ``dataset`` field and
#: the split's checked records.
_SPLITS: OrderedDict[tuple[Any, ...], tuple[Any, list[SplitRecord]]] = OrderedDict()
SPLITS_KEPT, SPLIT_IMAGES_KEPT = 8, 20_000  # at most this many splits, each of at most this many images


def _identity(path: Path) -> tuple[int, ...]:
    """A file's identity: device, inode, size, modification and change time (a rewritten file has a new one)."""
    info = os.stat(path)
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def read_split(annotations: Path, images: Path, split: str, max_captions: int | None) -> tuple[Any, list[Entry]]:
    """The file's ``dataset`` field and the entries of ``split`` (names joined by ``+``), keeping the first
    ``max_captions`` captions of each image (``None``: all), from the cache when this split of this file was read
    before (every check but the captions' passed then)."""
    key = (_identity(annotations), str(images.resolve()), split)
    view = _SPLITS.get(key)
    if view is not None:
        dataset_field, kept = view
        where = str(annotations)
        return dataset_field, [
            Entry(r.index, r.relative, r.path,
                  captions(r.sentences, f"{where}: images[{r.index}] ({r.filename})", max_captions))
            for r in kept]
    data = load_json(annotations)
    records: list[SplitRecord] = []
    entries = parse_split(data, annotations, images, split, max_captions, records)
    if len(records) <= SPLIT_IMAGES_KEPT:
        _SPLITS[key] = (data.get("dataset"), records)
        while len(_SPLITS) > SPLITS_KEPT:
            _SPLITS.popitem(last=False)
    return data.get("dataset"), entries


def parse_split(data: dict[str, Any], annotations: Path, images: Path, split: str, max_captions: int | None,
                records: list[SplitRecord] | None = None) -> list[Entry]:
    """The split's entries (raising at the first bad record); ``records`` collects what the cache keeps."""
    where = str(annotations)
    splits = set(split.split("+"))
    listed = data.get("images")
    if not isinstance(listed, list):
        raise DatasetFormatError(f"{where}: top-level field 'images' must be a list of image records")
    entries: list[Entry] = []
    first_seen: dict[str, int] = {}
    for i, record in enumerate(listed):
        if not isinstance(record, dict):
            raise DatasetFormatError(f"{where}: images[{i}] must be an object, got {type(record).__name__}")
        record_split = record.get("split")
        if not isinstance(record_split, str):
            raise DatasetFormatError(f"{where}: images[{i}]: field 'split' missing or not a string")
        if record_split not in splits:
            continue
        filename = record.get("filename")
        if not isinstance(filename, str) or not filename:
            raise DatasetFormatError(f"{where}: images[{i}]: field 'filename' missing or not a string")
        label = f"{where}: images[{i}] ({filename})"
        filepath = record.get("filepath")
        if filepath is not None and not isinstance(filepath, str):
            raise DatasetFormatError(f"{label}: field 'filepath' must be a string")
        relative = f"{filepath}/{filename}" if filepath else filename
        try:
            path = safe_join(images, relative)
        except UnsafeInputError as error:
            raise UnsafeInputError(f"{label}: {error}") from None
        if relative in first_seen:
            raise DatasetFormatError(
                f"{label}: image {relative!r} listed twice in split {split!r}, first as "
                f"images[{first_seen[relative]}]"
            )
        first_seen[relative] = i
        entries.append(Entry(i, relative, path, captions(record.get("sentences"), label, max_captions)))
        if records is not None:
            records.append(SplitRecord(i, filename, relative, path, record.get("sentences")))
    return entries


def captions(sentences: Any, label: str, max_captions: int | None) -> list[str]:
    """The first ``max_captions`` raw captions of an image record (``None``: all of them, at least one), stripped."""
    if not isinstance(sentences, list):
        raise DatasetFormatError(f"{label}: field 'sentences' missing or not a list")
    kept = sentences if max_captions is None else sentences[: max_captions]
    out: list[str] = []
    for j, sentence in enumerate(kept):
        raw = sentence.get("raw") if isinstance(sentence, dict) else None
        if not isinstance(raw, str):
            raise DatasetFormatError(f"{label}: sentences[{j}]: field 'raw' missing or not a string")
        out.append(raw.strip())
    if max_captions is None and not out:
        raise DatasetFormatError(f"{label}: has no captions")
    if max_captions is not None and len(out) < max_captions:
        raise DatasetFormatError(
            f"{label}: has {len(out)} captions, fewer than captions_per_image={max_captions} "
            "(use captions_per_image='all' to keep every caption of every image)"
        )
    return out
