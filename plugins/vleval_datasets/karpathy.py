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
from pathlib import Path
from typing import Any

from vleval.api import MAX_IMAGE_PIXELS, CaptionItem, Dataset, RetrievalItem, Task, hash_files
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError
from vleval_datasets.images import decode_image
from vleval_datasets.karpathy_arguments import (
    ALL_CAPTIONS,
    DEFAULT_FOLD_SIZE,
    KARPATHY_SPLITS,
    RETRIEVAL_CAPTIONS,
    captions_protocol,
    fold_arguments,
    task_argument,
)
from vleval_datasets.karpathy_split import Entry, read_split


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
        self.fold, self.fold_size = fold_arguments(fold, fold_size)
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
        dataset_field, entries = read_split(self.annotations, self.images, split, self.max_captions)
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

    def _select_fold(self, entries: list[Entry]) -> list[Entry]:
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
