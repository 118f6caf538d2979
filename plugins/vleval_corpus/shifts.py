"""The two offline shifts over the corpus; they name the registered ``karpathy`` and ``mmbench`` datasets."""

from __future__ import annotations

from pathlib import Path

from vleval.api import DatasetSpec, Shift, ShiftArgumentError
from vleval_corpus.cache import default_corpus_dir, ensure_corpus
from vleval_corpus.layout import CorpusPaths

#: ``task`` values of :class:`MiniFlickrToMiniCOCO` (the ``karpathy`` dataset's); the first is the default.
RETRIEVAL = "retrieval"
TASKS = (RETRIEVAL, "captioning")


class CorpusShift(Shift):
    """A shift over the offline corpus for ``seed``, generated into ``cache_dir`` on first use (not at construction)."""

    def __init__(self, seed: int = 0, cache_dir: str | Path | None = None) -> None:
        self.seed = int(seed)
        self.cache_dir = cache_dir
        self._corpus: CorpusPaths | None = None

    @property
    def corpus(self) -> CorpusPaths:
        """The corpus paths (generating the corpus into the cache if needed)."""
        if self._corpus is None:
            self._corpus = ensure_corpus(default_corpus_dir(self.seed, self.cache_dir), seed=self.seed)
        return self._corpus


class MiniFlickrToMiniCOCO(CorpusShift):
    """Retrieval (or, with ``task = "captioning"``, captioning) on the offline mini-flickr30k (source) vs
    mini-mscoco (target) test splits; calibration is mini-flickr30k's val split.

    ``task`` is passed to the ``karpathy`` specs only when it is not the default, so retrieval cells keep the
    dataset arguments (and identity) they always had; captioning keeps every caption of an image as references.
    """

    name = "mini-flickr30k->mini-mscoco"
    version = "1.0.0"
    description = ("Offline shift: generated Flickr-style to COCO-style scenes and captions (Karpathy JSON); "
                   "retrieval, or captioning with task='captioning'")

    def __init__(self, seed: int = 0, cache_dir: str | Path | None = None, task: str = RETRIEVAL) -> None:
        if task not in TASKS:
            raise ShiftArgumentError(f"shift {self.name!r}: argument 'task' must be one of {list(TASKS)}, "
                                     f"got {task!r}")
        super().__init__(seed=seed, cache_dir=cache_dir)
        self.task = task

    def _spec(self, coco: bool, split: str) -> DatasetSpec:
        c = self.corpus
        annotations, images = (c.coco_annotations, c.coco_images) if coco else (c.flickr_annotations, c.flickr_images)
        args = {"annotations": str(annotations), "images": str(images), "split": split}
        if self.task != RETRIEVAL:
            args["task"] = self.task
        return DatasetSpec("karpathy", args)

    def source(self) -> DatasetSpec:
        return self._spec(False, "test")

    def target(self) -> DatasetSpec:
        return self._spec(True, "test")

    def calibration(self) -> DatasetSpec:
        return self._spec(False, "val")


class MiniNaturalToSynthetic(CorpusShift):
    """Multiple choice on the offline mini-MMBench: natural renders (source) vs flat synthetic renders (target)."""

    name = "mini-natural->synthetic"
    version = "1.0.0"
    description = "Offline MMBench-style shift: the same questions on natural vs clean synthetic renders"

    def source(self) -> DatasetSpec:
        return DatasetSpec("mmbench", {"path": str(self.corpus.mmbench_natural)})

    def target(self) -> DatasetSpec:
        return DatasetSpec("mmbench", {"path": str(self.corpus.mmbench_synthetic)})

    def calibration(self) -> DatasetSpec:
        return DatasetSpec("mmbench", {"path": str(self.corpus.mmbench_natural_val)})
