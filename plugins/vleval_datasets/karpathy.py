"""Karpathy-split caption files (``dataset_flickr30k.json``, ``dataset_coco.json``) for retrieval or captioning.

The files are read unchanged: ``{"images": [{"filename", "filepath"?, "split", "sentences": [{"raw", ...}],
"imgid"?, "cocoid"?, ...}], "dataset": "..."}``. An image lies at ``images/filepath/filename`` (COCO) or
``images/filename`` (Flickr30K).

Protocols (see ``docs/datasets-and-metrics.md``):

- task: ``"retrieval"`` (``RetrievalItem``s, the default) or ``"captioning"`` (``CaptionItem``s: each image with its
  captions as references);
- captions: the first ``captions_per_image`` captions of every image (retrieval's default 5, the Karpathy-split
  literature; an image with fewer is an error), or every caption (``captions_per_image = "all"`` or ``0``,
  captioning's default and CLIP_benchmark's retrieval protocol: MSCOCO's 5K test then has 25,010 captions);
- images: a whole split (Flickr30K ``test``: the 1K test; MSCOCO ``test``: the 5K test), or one ``fold`` of it:
  the ``fold``-th block of ``fold_size`` (default 1000) consecutive images in file order (MSCOCO 1K test: folds
  0..4 of the 5K test images).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vleval.api import (
    MAX_IMAGE_PIXELS,
    CaptionItem,
    Dataset,
    RetrievalItem,
    Task,
    UnsafeInputError,
    hash_files,
    safe_join,
)
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError
from vleval_datasets.images import decode_image

#: Split names used by the Karpathy files. ``split`` may join several with ``+`` (e.g. ``"train+restval"``).
KARPATHY_SPLITS = ("train", "val", "test", "restval")
#: ``captions_per_image`` value that keeps every caption of every image (``0`` means the same).
ALL_CAPTIONS = "all"
#: Images per fold: the MSCOCO 1K test protocol's five folds of the 5K test split.
DEFAULT_FOLD_SIZE = 1000
#: Leading captions kept per image for retrieval when ``captions_per_image`` is not given (captioning keeps all).
RETRIEVAL_CAPTIONS = 5
#: The ``task`` values and the items each yields.
TASKS = {Task.RETRIEVAL.value: Task.RETRIEVAL, Task.CAPTIONING.value: Task.CAPTIONING}


#: The last splits read, by (annotation file identity, resolved image root, split): the file's ``dataset`` field and
#: the split's checked records ``(index, filename, relative path, image path, sentences)``, so that the same split
#: read again (other captions per image, the other task) skips decoding the JSON and resolving the image paths.
_SPLITS: OrderedDict[tuple[Any, ...], tuple[Any, list[tuple[int, str, str, Path, Any]]]] = OrderedDict()
SPLITS_KEPT, SPLIT_IMAGES_KEPT = 8, 20_000  # at most this many splits, each of at most this many images


def _identity(path: Path) -> tuple[int, ...]:
    """A file's identity: device, inode, size, modification and change time (a rewritten file has a new one)."""
    info = os.stat(path)
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


@dataclass(frozen=True)
class _Entry:
    record: int  # position in the file's ``images`` list
    id: str
    path: Path
    captions: list[str]


def captions_protocol(value: int | str) -> int | None:
    """``captions_per_image`` as a count of leading captions (``None``: all captions); raises on anything else."""
    if isinstance(value, str) and value.strip().lower() == ALL_CAPTIONS:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DatasetFormatError(f"karpathy: captions_per_image must be an integer >= 0 or 'all', got {value!r}")
    try:
        count = int(value)
    except ValueError:
        raise DatasetFormatError(
            f"karpathy: captions_per_image must be an integer >= 0 or 'all', got {value!r}"
        ) from None
    if count < 0:
        raise DatasetFormatError(f"karpathy: captions_per_image must be an integer >= 0 or 'all', got {value!r}")
    return count or None


def task_argument(value: str | Task) -> Task:
    """``task`` as a :class:`Task` (``"retrieval"`` or ``"captioning"``); raises on anything else."""
    task = TASKS.get(value.value if isinstance(value, Task) else value) if isinstance(value, str) else None
    if task is None:
        raise DatasetFormatError(f"karpathy: task must be one of {sorted(TASKS)}, got {value!r}")
    return task


def _fold_arguments(fold: int | None, fold_size: int) -> tuple[int | None, int]:
    for name, value, low in (("fold", fold, 0), ("fold_size", fold_size, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise DatasetFormatError(f"karpathy: {name} must be an integer >= {low}, got {value!r}")
    return fold, fold_size


class KarpathyDataset(Dataset):
    """Images of one Karpathy split (or one fold of it) with their captions, as ``RetrievalItem``s (``task =
    "retrieval"``) or ``CaptionItem``s whose ``references`` are the captions (``task = "captioning"``).

    Args:
        annotations: the Karpathy JSON file.
        images: the image root directory.
        split: ``train``, ``val``, ``test``, ``restval`` or several joined by ``+``.
        captions_per_image: captions kept per image: the first N (an image with fewer is an error), or ``"all"``
            / ``0`` for every caption (an image without any is an error); ``None``: 5 for retrieval, all for
            captioning.
        fold: keep only images ``fold * fold_size`` to ``(fold + 1) * fold_size - 1`` of the split, in file order
            (the block must be complete); ``None`` keeps the whole split.
        fold_size: images per fold.
        name: dataset name in ``id``; defaults to the file's ``"dataset"`` field, else the file stem.
        max_pixels: largest image accepted when decoding.
        task: ``"retrieval"`` or ``"captioning"``.
    """

    task: Task = Task.RETRIEVAL  # per instance: the ``task`` argument

    def __init__(
        self,
        annotations: str | Path,
        images: str | Path,
        split: str = "test",
        captions_per_image: int | str | None = None,
        fold: int | None = None,
        fold_size: int = DEFAULT_FOLD_SIZE,
        name: str | None = None,
        max_pixels: int = MAX_IMAGE_PIXELS,
        task: str = Task.RETRIEVAL.value,
    ) -> None:
        self.task = task_argument(task)
        self.annotations = Path(annotations).expanduser()
        self.images = Path(images).expanduser()
        self.split = split
        if captions_per_image is None:
            captions_per_image = RETRIEVAL_CAPTIONS if self.task is Task.RETRIEVAL else ALL_CAPTIONS
        self.max_captions = captions_protocol(captions_per_image)
        self.captions_per_image: int | str = ALL_CAPTIONS if self.max_captions is None else self.max_captions
        self.fold, self.fold_size = _fold_arguments(fold, fold_size)
        self.max_pixels = max_pixels
        splits = split.split("+")
        unknown = [s for s in splits if s not in KARPATHY_SPLITS]
        if unknown:
            raise DatasetFormatError(f"karpathy: unknown split {split!r}; use one of {KARPATHY_SPLITS}, joined by '+'")
        if not self.annotations.is_file():
            raise DatasetFileNotFoundError(
                f"karpathy: annotation file {self.annotations} not found (expected a Karpathy split JSON such as "
                "dataset_flickr30k.json or dataset_coco.json)"
            )
        if not self.images.is_dir():
            raise DatasetFileNotFoundError(f"karpathy: image directory {self.images} not found")
        dataset_field, entries = self._read(set(splits))
        self.name = name or str(dataset_field or self.annotations.stem)
        self.id = f"karpathy:{self.name}/{split}" + ("" if self.fold is None else f"/fold{self.fold}")
        if self.task is Task.CAPTIONING:
            self.id += "/captioning"
        if not entries:
            raise DatasetFormatError(f"{self.annotations}: no images in split {split!r}")
        self.split_size = len(entries)
        self._entries = self._select_fold(entries)
        self._check_images()
        self._hash: str | None = None

    def _read(self, splits: set[str]) -> tuple[Any, list[_Entry]]:
        """The file's ``dataset`` field and the split's entries, from :data:`_SPLITS` when this split of this file
        was read before (only the captions are taken again: every other check passed then)."""
        key = (_identity(self.annotations), str(self.images.resolve()), self.split)
        view = _SPLITS.get(key)
        if view is not None:
            dataset_field, kept = view
            where = str(self.annotations)
            return dataset_field, [
                _Entry(i, relative, path, self._captions(sentences, f"{where}: images[{i}] ({filename})"))
                for i, filename, relative, path, sentences in kept]
        data = load_json(self.annotations)
        records: list[tuple[int, str, str, Path, Any]] = []
        entries = self._parse(data, splits, records)
        if len(records) <= SPLIT_IMAGES_KEPT:
            _SPLITS[key] = (data.get("dataset"), records)
            while len(_SPLITS) > SPLITS_KEPT:
                _SPLITS.popitem(last=False)
        return data.get("dataset"), entries

    def _parse(self, data: dict[str, Any], splits: set[str],
               records: list[tuple[int, str, str, Path, Any]] | None = None) -> list[_Entry]:
        """The split's entries (raising at the first bad record); ``records`` collects what :meth:`_read` keeps."""
        where = str(self.annotations)
        images = data.get("images")
        if not isinstance(images, list):
            raise DatasetFormatError(f"{where}: top-level field 'images' must be a list of image records")
        entries: list[_Entry] = []
        first_seen: dict[str, int] = {}
        for i, record in enumerate(images):
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
                path = safe_join(self.images, relative)
            except UnsafeInputError as error:
                raise UnsafeInputError(f"{label}: {error}") from None
            if relative in first_seen:
                raise DatasetFormatError(
                    f"{label}: image {relative!r} listed twice in split {self.split!r}, first as "
                    f"images[{first_seen[relative]}]"
                )
            first_seen[relative] = i
            entries.append(_Entry(i, relative, path, self._captions(record.get("sentences"), label)))
            if records is not None:
                records.append((i, filename, relative, path, record.get("sentences")))
        return entries

    def _captions(self, sentences: Any, label: str) -> list[str]:
        if not isinstance(sentences, list):
            raise DatasetFormatError(f"{label}: field 'sentences' missing or not a list")
        kept = sentences if self.max_captions is None else sentences[: self.max_captions]
        captions: list[str] = []
        for j, sentence in enumerate(kept):
            raw = sentence.get("raw") if isinstance(sentence, dict) else None
            if not isinstance(raw, str):
                raise DatasetFormatError(f"{label}: sentences[{j}]: field 'raw' missing or not a string")
            captions.append(raw.strip())
        if self.max_captions is None and not captions:
            raise DatasetFormatError(f"{label}: has no captions")
        if self.max_captions is not None and len(captions) < self.max_captions:
            raise DatasetFormatError(
                f"{label}: has {len(captions)} captions, fewer than captions_per_image={self.max_captions} "
                "(use captions_per_image='all' to keep every caption of every image)"
            )
        return captions

    def _select_fold(self, entries: list[_Entry]) -> list[_Entry]:
        if self.fold is None:
            return entries
        start, end = self.fold * self.fold_size, (self.fold + 1) * self.fold_size
        if end > len(entries):
            folds = len(entries) // self.fold_size
            available = f"folds 0..{folds - 1}" if folds else "no complete fold"
            raise DatasetFormatError(
                f"{self.annotations}: fold {self.fold} needs images {start}..{end - 1} of split {self.split!r}, "
                f"which has {len(entries)} images ({available} of {self.fold_size})"
            )
        return entries[start:end]

    def _check_images(self) -> None:
        missing = [entry for entry in self._entries if not entry.path.is_file()]
        if missing:
            scope = self.split if self.fold is None else f"{self.split} fold {self.fold}"
            raise DatasetFileNotFoundError(
                f"{self.annotations}: {len(missing)} image(s) of split {scope!r} not found under {self.images}, "
                f"e.g. images[{missing[0].record}] ({missing[0].id}): {missing[0].path}"
            )

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> RetrievalItem | CaptionItem:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]  # type: ignore[return-value]
        entry = self._entries[index]
        label = f"{self.annotations}: images[{entry.record}] ({entry.id}): image {entry.path}"
        image = decode_image(entry.path, self.max_pixels, label=label)
        if self.task is Task.CAPTIONING:
            return CaptionItem(id=entry.id, image=image, references=list(entry.captions))
        return RetrievalItem(id=entry.id, image=image, captions=list(entry.captions))

    def content_hash(self) -> str:
        """SHA-256 over the annotation file (all captions), the images kept and the protocol (cached); retrieval's
        protocol string is the one earlier releases hashed, captioning adds ``|task=captioning``."""
        if self._hash is None:
            files = hash_files([self.annotations, *(entry.path for entry in self._entries)])
            fold = "" if self.fold is None else f"|fold={self.fold}|fold_size={self.fold_size}"
            task = "" if self.task is Task.RETRIEVAL else f"|task={self.task.value}"
            params = f"karpathy|split={self.split}|captions_per_image={self.captions_per_image}{fold}{task}|{files}"
            self._hash = hashlib.sha256(params.encode()).hexdigest()
        return self._hash

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "annotations": str(self.annotations),
            "images": str(self.images),
            "dataset": self.name,
            "split": self.split,
            "size": len(self),
            "captions_per_image": self.captions_per_image,
            "captions": sum(len(entry.captions) for entry in self._entries),
        }
        if self.fold is not None:
            out.update(fold=self.fold, fold_size=self.fold_size, split_size=self.split_size)
        if self.task is not Task.RETRIEVAL:  # retrieval's facts stay as earlier releases recorded them
            out["task"] = self.task.value
        return out


def load_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; invalid JSON, non-UTF-8 text or another top-level type raise
    :class:`DatasetFormatError` naming the file (and line and column)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise DatasetFormatError(
            f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except UnicodeDecodeError as error:
        raise DatasetFormatError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    if not isinstance(data, dict):
        raise DatasetFormatError(f"{path}: expected a JSON object with an 'images' list, got {type(data).__name__}")
    return data
