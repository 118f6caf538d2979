"""Image-text retrieval on Karpathy-split caption files (``dataset_flickr30k.json``, ``dataset_coco.json``).

The files are read unchanged: ``{"images": [{"filename", "filepath"?, "split", "sentences": [{"raw", ...}],
"imgid"?, "cocoid"?, ...}], "dataset": "..."}``. An image lies at ``images/filepath/filename`` (COCO) or
``images/filename`` (Flickr30K).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vleval.api import MAX_IMAGE_PIXELS, Dataset, RetrievalItem, Task, UnsafeInputError, hash_files, safe_join
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError
from vleval_datasets.images import decode_image

#: Split names used by the Karpathy files. ``split`` may join several with ``+`` (e.g. ``"train+restval"``).
KARPATHY_SPLITS = ("train", "val", "test", "restval")


@dataclass(frozen=True)
class _Entry:
    id: str
    path: Path
    captions: list[str]


class KarpathyDataset(Dataset):
    """Images of one Karpathy split with their first ``captions_per_image`` captions, as ``RetrievalItem``s.

    Args:
        annotations: the Karpathy JSON file.
        images: the image root directory.
        split: ``train``, ``val``, ``test``, ``restval`` or several joined by ``+``.
        captions_per_image: captions kept per image (the first ones); an image with fewer is an error.
        name: dataset name in ``id``; defaults to the file's ``"dataset"`` field, else the file stem.
        max_pixels: largest image accepted when decoding.
    """

    task = Task.RETRIEVAL

    def __init__(
        self,
        annotations: str | Path,
        images: str | Path,
        split: str = "test",
        captions_per_image: int = 5,
        name: str | None = None,
        max_pixels: int = MAX_IMAGE_PIXELS,
    ) -> None:
        self.annotations = Path(annotations).expanduser()
        self.images = Path(images).expanduser()
        self.split = split
        self.captions_per_image = int(captions_per_image)
        self.max_pixels = max_pixels
        splits = split.split("+")
        unknown = [s for s in splits if s not in KARPATHY_SPLITS]
        if unknown:
            raise DatasetFormatError(f"karpathy: unknown split {split!r}; use one of {KARPATHY_SPLITS}, joined by '+'")
        if self.captions_per_image < 1:
            raise DatasetFormatError(f"karpathy: captions_per_image must be >= 1, got {captions_per_image}")
        if not self.annotations.is_file():
            raise DatasetFileNotFoundError(
                f"karpathy: annotation file {self.annotations} not found (expected a Karpathy split JSON such as "
                "dataset_flickr30k.json or dataset_coco.json)"
            )
        if not self.images.is_dir():
            raise DatasetFileNotFoundError(f"karpathy: image directory {self.images} not found")
        data = _load_json(self.annotations)
        self.name = name or str(data.get("dataset") or self.annotations.stem)
        self.id = f"karpathy:{self.name}/{split}"
        self._entries = self._parse(data, set(splits))
        if not self._entries:
            raise DatasetFormatError(f"{self.annotations}: no images in split {split!r}")
        self._hash: str | None = None

    def _parse(self, data: dict[str, Any], splits: set[str]) -> list[_Entry]:
        where = str(self.annotations)
        images = data.get("images")
        if not isinstance(images, list):
            raise DatasetFormatError(f"{where}: top-level field 'images' must be a list of image records")
        entries: list[_Entry] = []
        missing: list[Path] = []
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
            sentences = record.get("sentences")
            if not isinstance(sentences, list):
                raise DatasetFormatError(f"{label}: field 'sentences' missing or not a list")
            captions: list[str] = []
            for j, sentence in enumerate(sentences[: self.captions_per_image]):
                raw = sentence.get("raw") if isinstance(sentence, dict) else None
                if not isinstance(raw, str):
                    raise DatasetFormatError(f"{label}: sentences[{j}]: field 'raw' missing or not a string")
                captions.append(raw.strip())
            if len(captions) < self.captions_per_image:
                raise DatasetFormatError(
                    f"{label}: has {len(captions)} captions, fewer than captions_per_image={self.captions_per_image}"
                )
            if not path.is_file():
                missing.append(path)
            entries.append(_Entry(relative, path, captions))
        if missing:
            raise DatasetFileNotFoundError(
                f"{where}: {len(missing)} image(s) of split {self.split!r} not found under {self.images}, "
                f"e.g. {missing[0]}"
            )
        return entries

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> RetrievalItem:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]  # type: ignore[return-value]
        entry = self._entries[index]
        image = decode_image(entry.path, self.max_pixels)
        return RetrievalItem(id=entry.id, image=image, captions=list(entry.captions))

    def content_hash(self) -> str:
        """SHA-256 over the annotation file, the images of the split, and the split parameters (cached)."""
        if self._hash is None:
            files = hash_files([self.annotations, *(entry.path for entry in self._entries)])
            params = f"karpathy|split={self.split}|captions_per_image={self.captions_per_image}|{files}"
            self._hash = hashlib.sha256(params.encode()).hexdigest()
        return self._hash

    def describe(self) -> dict[str, Any]:
        return {
            "annotations": str(self.annotations),
            "images": str(self.images),
            "dataset": self.name,
            "split": self.split,
            "size": len(self),
            "captions_per_image": self.captions_per_image,
        }


def _load_json(path: Path) -> dict[str, Any]:
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

