"""The karpathy loader's split cache: a split read again is the same dataset as a fresh read, and a changed file,
another image root or another split is read anew."""

from __future__ import annotations

import io
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from vleval_datasets import karpathy_split
from vleval_datasets.errors import DatasetFormatError
from vleval_datasets.karpathy import KarpathyDataset


def _write(root: Path, captions: list[int], dataset: str = "flickr30k", word: str = "dog") -> tuple[Path, Path]:
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    png = io.BytesIO()
    Image.new("RGB", (2, 2), (9, 8, 7)).save(png, format="PNG")
    records = []
    for i, n in enumerate(captions):
        (images / f"{i}.jpg").write_bytes(png.getvalue())
        records.append({"filename": f"{i}.jpg", "split": "test" if i % 3 else "val",
                        "sentences": [{"raw": f" A {word} {i}.{j} "} for j in range(n)]})
    annotations = root / "dataset.json"
    annotations.write_text(json.dumps({"images": records, "dataset": dataset}))
    return annotations, images


@pytest.fixture
def fresh(monkeypatch):
    """An empty cache, and the number of JSON decodes."""
    monkeypatch.setattr(karpathy_split, "_SPLITS", OrderedDict())
    decodes = []
    real = karpathy_split.load_json
    monkeypatch.setattr(karpathy_split, "load_json", lambda path: (decodes.append(path), real(path))[1])
    return decodes


def _state(dataset: KarpathyDataset) -> dict[str, Any]:
    return {"id": dataset.id, "name": dataset.name, "entries": dataset._entries, "describe": dataset.describe(),
            "hash": dataset.content_hash(), "split_size": dataset.split_size}


def _uncached(monkeypatch, *args: Any, **kwargs: Any) -> KarpathyDataset:
    with monkeypatch.context() as m:
        m.setattr(karpathy_split, "_SPLITS", OrderedDict())
        return KarpathyDataset(*args, **kwargs)


@pytest.mark.parametrize("kwargs", [{"task": "captioning"}, {"captions_per_image": 1}, {"captions_per_image": "all"},
                                    {"fold": 1, "fold_size": 2}, {"name": "other"}])
def test_a_split_read_again_equals_a_fresh_read(tmp_path, fresh, monkeypatch, kwargs):
    annotations, images = _write(tmp_path, [5, 6, 5, 7, 5, 5, 6, 5, 5])
    first = KarpathyDataset(annotations, images)
    again = KarpathyDataset(annotations, images, **kwargs)
    assert len(fresh) == 1  # the file was decoded once (the uncached reads below decode it again)
    assert _state(again) == _state(_uncached(monkeypatch, annotations, images, **kwargs))
    assert _state(first) == _state(_uncached(monkeypatch, annotations, images))
    assert [again[i] for i in range(len(again))] == [_uncached(monkeypatch, annotations, images, **kwargs)[i]
                                                     for i in range(len(again))]


def test_other_split_root_or_a_changed_file_is_read_anew(tmp_path, fresh):
    annotations, images = _write(tmp_path, [5] * 6)
    KarpathyDataset(annotations, images)
    KarpathyDataset(annotations, images, split="val")
    assert len(fresh) == 2
    stat = os.stat(annotations)
    _write(tmp_path, [5] * 6, dataset="renamed", word="cat")  # rewritten in place (same inode)
    os.utime(annotations, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    changed = KarpathyDataset(annotations, images)
    assert len(fresh) == 3 and changed.name == "renamed" and "cat" in changed._entries[0].captions[0]
    other_root = tmp_path / "copy"
    other_root.mkdir()
    (other_root / "images").symlink_to(images)
    KarpathyDataset(annotations, other_root / "images")  # resolves to the same root: one cached split
    assert len(fresh) == 3


def test_caption_errors_on_a_cached_split_are_those_of_a_fresh_read(tmp_path, fresh, monkeypatch):
    annotations, images = _write(tmp_path, [5, 5, 2, 5, 1, 5])
    KarpathyDataset(annotations, images, task="captioning")  # every caption: fine
    with pytest.raises(DatasetFormatError) as cached:
        KarpathyDataset(annotations, images)  # 5 per image for retrieval: images[2] has 2
    assert len(fresh) == 1
    with pytest.raises(DatasetFormatError) as uncached:
        _uncached(monkeypatch, annotations, images)
    assert str(cached.value) == str(uncached.value)
    assert "images[2] (2.jpg): has 2 captions, fewer than captions_per_image=5" in str(cached.value)


def test_the_cache_is_bounded(tmp_path, fresh, monkeypatch):
    monkeypatch.setattr(karpathy_split, "SPLITS_KEPT", 2)
    files = [_write(tmp_path / str(i), [5] * 3) for i in range(3)]
    for path, root in files:
        KarpathyDataset(path, root)
    assert len(karpathy_split._SPLITS) == 2
    KarpathyDataset(*files[0])  # the oldest was dropped
    assert len(fresh) == 4
    monkeypatch.setattr(karpathy_split, "SPLIT_IMAGES_KEPT", 1)
    annotations, images = _write(tmp_path / "big", [5] * 6)
    KarpathyDataset(annotations, images)
    KarpathyDataset(annotations, images)
    assert len(fresh) == 6
