"""Distribution shifts over registered datasets: Flickr30K -> MSCOCO on local files, and a user-defined pair.

The offline corpus shifts (``mini-flickr30k->mini-mscoco``, ``mini-natural->synthetic``) live in :mod:`vleval_corpus`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vleval.api import DatasetSpec, Shift, ShiftArgumentError, dataset_spec

#: ``task`` values (the ``karpathy`` dataset's); the first is the default
TASKS = ("retrieval", "captioning")
KARPATHY_URL = "https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip"


class ShiftConfigError(ShiftArgumentError):
    """A shift's arguments are missing or point at files that do not exist."""


def _require(shift: str, arg: str, value: str | Path | None, expected: str, *, directory: bool = False) -> str:
    """``value`` as a string, after checking that it is given and names an existing file (or directory)."""
    if value is None or str(value) == "":
        raise ShiftConfigError(f"shift {shift!r}: argument {arg!r} is required: {expected}")
    path = Path(value).expanduser()
    exists = path.is_dir() if directory else path.is_file()
    if not exists:
        kind = "directory" if directory else "file"
        raise ShiftConfigError(f"shift {shift!r}: argument {arg!r} = {str(value)!r} is not an existing {kind}; "
                               f"expected {expected}")
    return str(path)


class Flickr30kToMSCOCO(Shift):
    """Retrieval (or, with ``task = "captioning"``, captioning) on Flickr30K (source) vs MSCOCO (target), Karpathy
    splits, from local copies of the data. ``task`` reaches the ``karpathy`` specs only when it is not retrieval, so
    retrieval cells keep the dataset arguments (and identity) they always had."""

    name = "flickr30k->mscoco"
    version = "1.0.0"
    description = ("Flickr30K -> MSCOCO (Karpathy splits, local files): image-text retrieval, or captioning with "
                   "task='captioning'")

    def __init__(
        self,
        flickr30k_annotations: str | Path | None = None,
        flickr30k_images: str | Path | None = None,
        mscoco_annotations: str | Path | None = None,
        mscoco_images: str | Path | None = None,
        split: str = "test",
        captions_per_image: int = 5,
        task: str = "retrieval",
    ) -> None:
        if task not in TASKS:
            raise ShiftConfigError(f"shift {self.name!r}: argument 'task' must be one of {list(TASKS)}, got {task!r}")
        self.flickr30k_annotations = _require(
            self.name, "flickr30k_annotations", flickr30k_annotations,
            f"the Karpathy split file dataset_flickr30k.json (in {KARPATHY_URL})",
        )
        self.flickr30k_images = _require(
            self.name, "flickr30k_images", flickr30k_images,
            "the directory of Flickr30K images (flickr30k-images/, holding e.g. 1000092795.jpg)", directory=True,
        )
        self.mscoco_annotations = _require(
            self.name, "mscoco_annotations", mscoco_annotations,
            f"the Karpathy split file dataset_coco.json (in {KARPATHY_URL})",
        )
        self.mscoco_images = _require(
            self.name, "mscoco_images", mscoco_images,
            "the MSCOCO image root holding train2014/ and val2014/", directory=True,
        )
        self.split = split
        self.captions_per_image = captions_per_image
        self.task = task

    def _spec(self, annotations: str, images: str, split: str) -> DatasetSpec:
        args: dict[str, Any] = {"annotations": annotations, "images": images, "split": split}
        if self.task == "retrieval":  # captioning keeps every caption of an image as a reference
            args["captions_per_image"] = self.captions_per_image
        else:
            args["task"] = self.task
        return DatasetSpec("karpathy", args)

    def source(self) -> DatasetSpec:
        return self._spec(self.flickr30k_annotations, self.flickr30k_images, self.split)

    def target(self) -> DatasetSpec:
        return self._spec(self.mscoco_annotations, self.mscoco_images, self.split)

    def calibration(self) -> DatasetSpec:
        return self._spec(self.flickr30k_annotations, self.flickr30k_images, "val")


class PairShift(Shift):
    """Any two registered datasets as source and target, with an optional calibration dataset."""

    name = "pair"
    version = "1.0.0"
    description = "A user-defined shift: source and target are any registered datasets with their arguments"

    def __init__(
        self,
        source: Mapping[str, Any] | DatasetSpec | None = None,
        target: Mapping[str, Any] | DatasetSpec | None = None,
        calibration: Mapping[str, Any] | DatasetSpec | None = None,
    ) -> None:
        for arg, value in (("source", source), ("target", target)):
            if value is None:
                raise ShiftConfigError(f"shift 'pair': argument {arg!r} is required: a table like "
                                       "{name = \"karpathy\", args = {annotations = ..., images = ...}}")
        self._source = dataset_spec(self.name, "source", source)
        self._target = dataset_spec(self.name, "target", target)
        self._calibration = None if calibration is None else dataset_spec(self.name, "calibration", calibration)

    def source(self) -> DatasetSpec:
        return self._source

    def target(self) -> DatasetSpec:
        return self._target

    def calibration(self) -> DatasetSpec | None:
        return self._calibration
