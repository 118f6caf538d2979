"""Where the files of a generated corpus lie, and the format/version every generated corpus carries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CORPUS_FORMAT = "vleval-mini-corpus"
#: Bumping it changes every random stream (it seeds them) and the cache directory name.
CORPUS_VERSION = 1
MANIFEST = "corpus.json"
#: Called as ``progress(stage, done, total)`` while generating.
Progress = Callable[[str, int, int], None]


class CorpusError(ValueError):
    """The offline corpus directory is unusable (e.g. it holds another seed or unrelated files)."""


@dataclass(frozen=True)
class CorpusPaths:
    """Where the files of a generated corpus lie."""

    root: Path
    flickr_annotations: Path
    flickr_images: Path
    coco_annotations: Path
    coco_images: Path
    mmbench_natural: Path
    mmbench_synthetic: Path
    mmbench_natural_val: Path

    @classmethod
    def at(cls, root: str | Path) -> CorpusPaths:
        """The corpus layout under ``root`` (whether or not it exists)."""
        root = Path(root)
        return cls(
            root=root,
            flickr_annotations=root / "mini-flickr30k" / "dataset_flickr30k.json",
            flickr_images=root / "mini-flickr30k" / "images",
            coco_annotations=root / "mini-mscoco" / "dataset_coco.json",
            coco_images=root / "mini-mscoco" / "images",
            mmbench_natural=root / "mini-mmbench-natural.tsv",
            mmbench_synthetic=root / "mini-mmbench-synthetic.tsv",
            mmbench_natural_val=root / "mini-mmbench-natural-val.tsv",
        )

    def required_files(self) -> tuple[Path, ...]:
        """The files a complete corpus has besides its manifest."""
        return (self.flickr_annotations, self.coco_annotations, self.mmbench_natural, self.mmbench_synthetic,
                self.mmbench_natural_val)
