"""``example-folder`` (a retrieval dataset from a directory) and ``example-folder-shift`` (two such directories).

The directory holds images and a ``captions.json`` mapping each split to its items::

    {"test": [{"image": "test/000.png", "captions": ["a red swatch", "plain red"]}, ...],
     "val":  [{"image": "val/000.png",  "captions": ["a blue swatch", "plain blue"]}, ...]}

``python -m vleval_example.swatches DIR`` writes one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vleval.api import Dataset, DatasetSpec, RetrievalItem, Shift, Task, hash_files, open_image, safe_join

INDEX = "captions.json"


class CaptionedFolder(Dataset):
    """Image-text retrieval over ``root/captions.json``; images are decoded lazily, one item at a time."""

    task = Task.RETRIEVAL

    def __init__(self, root: str, split: str = "test") -> None:
        self.root, self.split = Path(root).expanduser(), split
        self.index = safe_join(self.root, INDEX)
        if not self.index.is_file():
            raise FileNotFoundError(f"example-folder: {self.index} not found; write a demo folder with "
                                    f"`python -m vleval_example.swatches {self.root}`")
        splits: dict[str, list[dict[str, Any]]] = json.loads(self.index.read_text())
        if split not in splits:
            raise ValueError(f"example-folder: {self.index} has no split {split!r} (it has {sorted(splits)})")
        # safe_join refuses absolute paths and "../" escapes in a downloaded captions.json
        self.entries = [(safe_join(self.root, e["image"]), [str(c) for c in e["captions"]]) for e in splits[split]]
        self.id = f"example-folder:{self.root.name}/{split}"

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> RetrievalItem:
        path, captions = self.entries[index]
        return RetrievalItem(id=path.stem, image=open_image(path), captions=captions)

    def content_hash(self) -> str:
        """SHA-256 over the index file and every image of the split, in order."""
        return hash_files([self.index, *(path for path, _ in self.entries)])

    def describe(self) -> dict[str, Any]:
        return {"root": str(self.root), "split": self.split, "images": len(self.entries),
                "captions": sum(len(c) for _, c in self.entries)}


class FolderShift(Shift):
    """Evaluate on ``source`` and on ``target`` (two ``example-folder`` roots); calibrate pruning on source/val."""

    def __init__(self, source: str, target: str, split: str = "test") -> None:
        self.source_root, self.target_root, self.split = source, target, split

    def source(self) -> DatasetSpec:
        return DatasetSpec("example-folder", {"root": self.source_root, "split": self.split})

    def target(self) -> DatasetSpec:
        return DatasetSpec("example-folder", {"root": self.target_root, "split": self.split})

    def calibration(self) -> DatasetSpec:
        return DatasetSpec("example-folder", {"root": self.source_root, "split": "val"})
