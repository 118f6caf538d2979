"""Image captioning on a COCO-format caption file (``captions_val2014.json``, nocaps, Flickr30K in COCO format).

The file is read unchanged: ``{"images": [{"id", "file_name", ...}], "annotations": [{"image_id", "id", "caption"},
...], ...}`` (other top-level keys such as ``info`` and ``licenses`` are ignored); an image lies at
``images/<file_name>``. A COCO file is one split, so there is no ``split`` argument.

Items are ``CaptionItem(id, image, references)`` in the order of ``images``, each with every caption of its image in
the order of ``annotations``. Every problem is one error at construction naming the file and record; an image
without any caption is an error too (nothing is dropped silently: drop it from the file, or use ``limit``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vleval.api import MAX_IMAGE_PIXELS, CaptionItem, Dataset, Task, UnsafeInputError, hash_files, safe_join
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError
from vleval_datasets.images import decode_image
from vleval_datasets.json_file import load_json


@dataclass
class _Image:
    record: int  # position in the file's ``images`` list
    id: int | str
    file_name: str
    path: Path
    captions: list[str] = field(default_factory=list)


def _is_id(value: Any) -> bool:
    """COCO ids are integers; non-empty strings are accepted too (some converted datasets use them)."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and bool(value))


class CocoCaptionsDataset(Dataset):
    """The images of a COCO-format caption file with their reference captions, as ``CaptionItem``s.

    Args:
        annotations: the COCO caption JSON file.
        images: the directory holding the images' ``file_name`` paths.
        limit: keep only the first N images of the file (``None``: all).
        name: dataset name in ``id``; defaults to the file stem.
        max_pixels: largest image accepted when decoding.
    """

    task = Task.CAPTIONING

    def __init__(
        self,
        annotations: str | Path,
        images: str | Path,
        limit: int | None = None,
        name: str | None = None,
        max_pixels: int = MAX_IMAGE_PIXELS,
    ) -> None:
        self.annotations = Path(annotations).expanduser()
        self.images = Path(images).expanduser()
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise DatasetFormatError(f"coco-captions: limit must be an integer >= 1 or None, got {limit!r}")
        self.limit = limit
        self.max_pixels = max_pixels
        if not self.annotations.is_file():
            raise DatasetFileNotFoundError(
                f"coco-captions: annotation file {self.annotations} not found (expected a COCO caption JSON such "
                "as captions_val2014.json)"
            )
        if not self.images.is_dir():
            raise DatasetFileNotFoundError(f"coco-captions: image directory {self.images} not found")
        self.name = name or self.annotations.stem
        self.id = f"coco-captions:{self.name}"
        data = load_json(self.annotations)
        parsed = self._parse_images(data.get("images"))
        self._attach_captions(data.get("annotations"), parsed)
        self.images_in_file = len(parsed)
        self._entries = list(parsed.values())[: self.limit]
        self._check_images()
        self._hash: str | None = None

    def _parse_images(self, images: Any) -> dict[int | str, _Image]:
        where = str(self.annotations)
        if not isinstance(images, list):
            raise DatasetFormatError(f"{where}: top-level field 'images' must be a list of image records")
        if not images:
            raise DatasetFormatError(f"{where}: 'images' is empty")
        parsed: dict[int | str, _Image] = {}
        files: dict[str, int] = {}
        for i, record in enumerate(images):
            if not isinstance(record, dict):
                raise DatasetFormatError(f"{where}: images[{i}] must be an object, got {type(record).__name__}")
            image_id = record.get("id")
            if not _is_id(image_id):
                raise DatasetFormatError(f"{where}: images[{i}]: field 'id' missing or not an integer or string")
            file_name = record.get("file_name")
            if not isinstance(file_name, str) or not file_name:
                raise DatasetFormatError(f"{where}: images[{i}] (id {image_id!r}): field 'file_name' missing or not "
                                         "a string")
            label = f"{where}: images[{i}] (id {image_id!r}, {file_name})"
            if image_id in parsed:
                first = parsed[image_id].record
                raise DatasetFormatError(f"{label}: duplicate image id, first used by images[{first}]")
            if file_name in files:
                raise DatasetFormatError(f"{label}: file {file_name!r} listed twice, first as "
                                         f"images[{files[file_name]}]")
            try:
                path = safe_join(self.images, file_name)
            except UnsafeInputError as error:
                raise UnsafeInputError(f"{label}: {error}") from None
            parsed[image_id] = _Image(i, image_id, file_name, path)
            files[file_name] = i
        return parsed

    def _attach_captions(self, annotations: Any, parsed: dict[int | str, _Image]) -> None:
        where = str(self.annotations)
        if not isinstance(annotations, list):
            raise DatasetFormatError(f"{where}: top-level field 'annotations' must be a list of caption records")
        seen: dict[int | str, int] = {}
        for j, record in enumerate(annotations):
            if not isinstance(record, dict):
                raise DatasetFormatError(f"{where}: annotations[{j}] must be an object, got {type(record).__name__}")
            annotation_id = record.get("id")
            if not _is_id(annotation_id):
                raise DatasetFormatError(f"{where}: annotations[{j}]: field 'id' missing or not an integer or string")
            label = f"{where}: annotations[{j}] (id {annotation_id!r})"
            if annotation_id in seen:
                raise DatasetFormatError(f"{label}: duplicate annotation id, first used by "
                                         f"annotations[{seen[annotation_id]}]")
            seen[annotation_id] = j
            image_id = record.get("image_id")
            if not _is_id(image_id):
                raise DatasetFormatError(f"{label}: field 'image_id' missing or not an integer or string")
            caption = record.get("caption")
            if not isinstance(caption, str) or not caption.strip():
                raise DatasetFormatError(f"{label}: field 'caption' missing, not a string or empty")
            image = parsed.get(image_id)
            if image is None:
                same_text = str(image_id) in {str(k) for k in parsed}
                hint = " (ids are compared with their JSON type: 1 and \"1\" differ)" if same_text else ""
                raise DatasetFormatError(f"{label}: image_id {image_id!r} is not the id of any record in "
                                         f"'images'{hint}")
            image.captions.append(caption.strip())
        for image in parsed.values():
            if not image.captions:
                raise DatasetFormatError(
                    f"{where}: images[{image.record}] (id {image.id!r}, {image.file_name}): has no caption in "
                    "'annotations' (every image needs at least one reference; remove it from 'images')"
                )

    def _check_images(self) -> None:
        missing = [entry for entry in self._entries if not entry.path.is_file()]
        if missing:
            first = missing[0]
            raise DatasetFileNotFoundError(
                f"{self.annotations}: {len(missing)} image file(s) not found under {self.images}, e.g. "
                f"images[{first.record}] (id {first.id!r}, {first.file_name}): {first.path}"
            )

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> CaptionItem:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]  # type: ignore[return-value]
        entry = self._entries[index]
        label = f"{self.annotations}: images[{entry.record}] (id {entry.id!r}): image {entry.path}"
        image = decode_image(entry.path, self.max_pixels, label=label)
        return CaptionItem(id=str(entry.id), image=image, references=list(entry.captions))

    def content_hash(self) -> str:
        """SHA-256 over the limit, the annotation file (all captions) and the bytes of the images kept (cached)."""
        if self._hash is None:
            files = hash_files([self.annotations, *(entry.path for entry in self._entries)])
            params = f"coco-captions|limit={self.limit}|{files}"
            self._hash = hashlib.sha256(params.encode()).hexdigest()
        return self._hash

    def describe(self) -> dict[str, Any]:
        return {
            "annotations": str(self.annotations),
            "images": str(self.images),
            "dataset": self.name,
            "size": len(self),
            "images_in_file": self.images_in_file,
            "limit": self.limit,
            "captions": sum(len(entry.captions) for entry in self._entries),
        }
