"""Retrieval protocols of the ``karpathy`` loader: first-N vs all captions, 5x1K folds, and recall with variable
captions per image, on Karpathy-format JSON + image files written by the tests."""

from __future__ import annotations

import hashlib
import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vleval.api import RetrievalOutputs, hash_files
from vleval.testing import check_dataset, plugin_registry
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError
from vleval_datasets.karpathy import KarpathyDataset
from vleval_metrics.retrieval import RetrievalRecall

# (split, number of captions) per record, in file order: test images interleaved with others, 5 to 7 captions
LAYOUT: list[tuple[str, int]] = [
    ("test", 5), ("train", 5), ("test", 7), ("test", 5), ("restval", 6), ("test", 6), ("val", 5), ("test", 5),
    ("test", 5), ("train", 7), ("test", 6), ("test", 5), ("test", 5), ("val", 5), ("test", 5),
]


@cache
def _png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), color).save(buffer, format="PNG")
    return buffer.getvalue()


def _filename(cocoid: int) -> str:
    return f"COCO_val2014_{cocoid:012d}.jpg"


def _write_coco(root: Path, layout: list[tuple[str, int]]) -> tuple[Path, Path]:
    """A COCO Karpathy JSON (filepath/filename, cocoid, sentences with tokens/raw/imgid/sentid) and its images."""
    images = root / "coco"
    (images / "val2014").mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    sentid = 0
    for imgid, (split, n) in enumerate(layout):
        cocoid = 100_000 + imgid
        (images / "val2014" / _filename(cocoid)).write_bytes(_png((imgid % 256, 7, 9)))
        sentences = [{"tokens": ["a", "cat", str(j)], "raw": f"A cat {imgid}.{j} ", "imgid": imgid,
                      "sentid": sentid + j} for j in range(n)]
        records.append({"filepath": "val2014", "sentids": list(range(sentid, sentid + n)),
                        "filename": _filename(cocoid), "imgid": imgid, "split": split, "sentences": sentences,
                        "cocoid": cocoid})
        sentid += n
    annotations = root / "dataset_coco.json"
    annotations.write_text(json.dumps({"images": records, "dataset": "coco"}))
    return annotations, images


def _test_records(layout: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """(item id, imgid, caption count) of the test images, in file order."""
    return [(f"val2014/{_filename(100_000 + i)}", i, n) for i, (split, n) in enumerate(layout) if split == "test"]


@pytest.fixture
def coco(tmp_path: Path) -> tuple[Path, Path]:
    return _write_coco(tmp_path, LAYOUT)


# ---------------------------------------------------------------------------------------------- caption protocols


def test_first_n_keeps_the_first_captions_of_every_test_image(coco: tuple[Path, Path]) -> None:
    data = KarpathyDataset(*coco)
    expected = _test_records(LAYOUT)
    assert [item.id for item in data] == [id_ for id_, _, _ in expected]
    for item, (_, imgid, _) in zip(data, expected, strict=True):
        assert item.captions == [f"A cat {imgid}.{j}" for j in range(5)]
    assert data.describe()["captions_per_image"] == 5
    assert data.describe()["captions"] == 5 * 10


def test_all_captions_keeps_every_caption(coco: tuple[Path, Path]) -> None:
    expected = _test_records(LAYOUT)
    for value in ("all", "ALL", 0):
        data = KarpathyDataset(*coco, captions_per_image=value)
        assert [len(item.captions) for item in data] == [n for _, _, n in expected]
        assert data[1].captions == [f"A cat 2.{j}" for j in range(7)]
        assert data.describe()["captions_per_image"] == "all"
        assert data.describe()["captions"] == 5 + 7 + 5 + 6 + 5 + 5 + 6 + 5 + 5 + 5


def test_first_n_refuses_an_image_with_fewer_but_all_accepts_it(tmp_path: Path) -> None:
    annotations, images = _write_coco(tmp_path, [("test", 5), ("test", 3), ("test", 1)])
    with pytest.raises(DatasetFormatError, match=r"dataset_coco\.json: images\[1\] \(COCO_val2014_000000100001"
                                                  r"\.jpg\): has 3 captions, fewer than captions_per_image=5"):
        KarpathyDataset(annotations, images)
    data = KarpathyDataset(annotations, images, captions_per_image="all")
    assert [len(item.captions) for item in data] == [5, 3, 1]


def test_all_captions_refuses_an_image_without_captions(tmp_path: Path) -> None:
    annotations, images = _write_coco(tmp_path, [("test", 5), ("test", 0)])
    with pytest.raises(DatasetFormatError, match=r"images\[1\] \(COCO_val2014_000000100001\.jpg\): has no captions"):
        KarpathyDataset(annotations, images, captions_per_image="all")


@pytest.mark.parametrize("value", [-1, "five", True, 2.5, [5]])  # None: the task's default
def test_invalid_captions_per_image(coco: tuple[Path, Path], value: Any) -> None:
    with pytest.raises(DatasetFormatError, match=r"captions_per_image must be an integer >= 0 or 'all'"):
        KarpathyDataset(*coco, captions_per_image=value)


# ---------------------------------------------------------------------------------------------------------- folds


def test_folds_are_consecutive_blocks_of_test_images_in_file_order(coco: tuple[Path, Path]) -> None:
    ids = [id_ for id_, _, _ in _test_records(LAYOUT)]
    for fold in (0, 1):
        data = KarpathyDataset(*coco, fold=fold, fold_size=4)
        assert [item.id for item in data] == ids[4 * fold: 4 * fold + 4]
        assert data.id == f"karpathy:coco/test/fold{fold}"
        assert data.describe() | {"annotations": None, "images": None} == {
            "annotations": None, "images": None, "dataset": "coco", "split": "test", "size": 4,
            "captions_per_image": 5, "captions": 20, "fold": fold, "fold_size": 4, "split_size": 10}
    assert KarpathyDataset(*coco, fold=1, fold_size=4, captions_per_image="all").describe()["captions"] == 5 + 5 + 6 + 5


def test_incomplete_fold_is_an_error(coco: tuple[Path, Path]) -> None:
    with pytest.raises(DatasetFormatError, match=r"dataset_coco\.json: fold 2 needs images 8\.\.11 of split 'test', "
                                                  r"which has 10 images \(folds 0\.\.1 of 4\)"):
        KarpathyDataset(*coco, fold=2, fold_size=4)
    with pytest.raises(DatasetFormatError, match=r"no complete fold of 1000"):
        KarpathyDataset(*coco, fold=0)


@pytest.mark.parametrize(("fold", "fold_size"), [(-1, 4), (True, 4), ("0", 4), (0, 0), (0, 2.0)])
def test_invalid_fold_arguments(coco: tuple[Path, Path], fold: Any, fold_size: Any) -> None:
    with pytest.raises(DatasetFormatError, match=r"karpathy: fold(_size)? must be an integer >= [01]"):
        KarpathyDataset(*coco, fold=fold, fold_size=fold_size)


def test_mscoco_5k_test_gives_five_1k_folds(tmp_path: Path) -> None:
    """The literature's MSCOCO 1K protocol: 5 folds of 1000 over the 5000 test images (other splits around them)."""
    layout = [("train", 5)] * 3 + [("test", 5 + (i % 500 == 0)) for i in range(5000)] + [("val", 5)] * 2
    annotations, images = _write_coco(tmp_path, layout)
    ids = [id_ for id_, _, _ in _test_records(layout)]
    assert len(KarpathyDataset(annotations, images)) == 5000
    assert KarpathyDataset(annotations, images, captions_per_image="all").describe()["captions"] == 25_010
    seen: list[str] = []
    for fold in range(5):
        data = KarpathyDataset(annotations, images, fold=fold)
        assert len(data) == 1000 and data[0].id == ids[1000 * fold] and data[999].id == ids[1000 * fold + 999]
        seen += [entry.id for entry in data._entries]
    assert seen == ids
    with pytest.raises(DatasetFormatError, match=r"fold 5 needs images 5000\.\.5999.*folds 0\.\.4 of 1000"):
        KarpathyDataset(annotations, images, fold=5)


def test_missing_image_outside_the_fold_is_not_needed(coco: tuple[Path, Path]) -> None:
    annotations, images = coco
    ids = [id_ for id_, _, _ in _test_records(LAYOUT)]
    (images / ids[0]).unlink()
    assert len(KarpathyDataset(annotations, images, fold=1, fold_size=4)) == 4
    with pytest.raises(DatasetFileNotFoundError, match=r"1 image\(s\) of split 'test fold 0' not found.*100000"):
        KarpathyDataset(annotations, images, fold=0, fold_size=4)


# -------------------------------------------------------------------------------------------------- content hash


def test_default_protocol_hash_is_unchanged(coco: tuple[Path, Path]) -> None:
    """The first-5 whole-split hash is the one earlier releases recorded (results stay comparable)."""
    annotations, images = coco
    paths = [annotations, *(images / id_ for id_, _, _ in _test_records(LAYOUT))]
    expected = hashlib.sha256(f"karpathy|split=test|captions_per_image=5|{hash_files(paths)}".encode()).hexdigest()
    assert KarpathyDataset(annotations, images).content_hash() == expected


def test_hash_covers_the_protocol_and_what_it_reads(coco: tuple[Path, Path]) -> None:
    annotations, images = coco
    hashes = {
        "first5": KarpathyDataset(annotations, images).content_hash(),
        "first4": KarpathyDataset(annotations, images, captions_per_image=4).content_hash(),
        "all": KarpathyDataset(annotations, images, captions_per_image="all").content_hash(),
        "fold0": KarpathyDataset(annotations, images, fold=0, fold_size=4).content_hash(),
        "fold1": KarpathyDataset(annotations, images, fold=1, fold_size=4).content_hash(),
        "fold0/5": KarpathyDataset(annotations, images, fold=0, fold_size=5).content_hash(),
    }
    assert len(set(hashes.values())) == len(hashes)
    assert KarpathyDataset(annotations, images, captions_per_image=0).content_hash() == hashes["all"]
    ids = [id_ for id_, _, _ in _test_records(LAYOUT)]
    (images / ids[5]).write_bytes(_png((1, 2, 3)))  # in fold 1 only
    assert KarpathyDataset(annotations, images, fold=0, fold_size=4).content_hash() == hashes["fold0"]
    assert KarpathyDataset(annotations, images, fold=1, fold_size=4).content_hash() != hashes["fold1"]
    data = json.loads(annotations.read_text())
    data["images"][2]["sentences"][6]["raw"] = "edited seventh caption"  # read only by the all-captions protocol
    annotations.write_text(json.dumps(data))
    assert KarpathyDataset(annotations, images, captions_per_image="all").content_hash() != hashes["all"]


def test_registered_factory_takes_protocol_arguments_and_conforms(coco: tuple[Path, Path]) -> None:
    import vleval_datasets.plugin

    annotations, images = coco
    registry = plugin_registry(vleval_datasets.plugin)
    args = {"annotations": str(annotations), "images": str(images), "captions_per_image": "all", "fold": 1,
            "fold_size": 4}
    data = registry.create("dataset", "karpathy", args)
    assert [len(item.captions) for item in data] == [5, 5, 6, 5]
    check_dataset(data, name="karpathy", fresh=lambda: registry.create("dataset", "karpathy", args))


# ------------------------------------------------------------------------------------- recall, variable captions


def test_recall_on_hand_built_similarity_with_variable_captions(tmp_path: Path) -> None:
    """Images with 1, 2 and 3 captions under the all-captions protocol; outputs built as the retrieval task builds
    them (one text column per caption, in item order). i2t uses each image's best own caption; t2i one outcome per
    caption, so the 3-caption image weighs three times the 1-caption one."""
    annotations, images = _write_coco(tmp_path, [("test", 1), ("train", 4), ("test", 2), ("test", 3)])
    data = KarpathyDataset(annotations, images, captions_per_image="all")
    items = list(data)
    text_image = np.asarray([i for i, item in enumerate(items) for _ in item.captions])
    assert text_image.tolist() == [0, 1, 1, 2, 2, 2]
    sim = np.array([
        # c0    c1    c2    c3    c4    c5
        [0.20, 0.90, 0.10, 0.00, 0.30, 0.40],  # image 0: own c0 is 4th (after c1, c5, c4)
        [0.10, 0.30, 0.80, 0.50, 0.20, 0.00],  # image 1: own c2 is 1st
        [0.70, 0.60, 0.10, 0.20, 0.65, 0.05],  # image 2: best own c4 is 2nd (after c0)
    ])
    out = RetrievalRecall().compute(RetrievalOutputs(similarity=sim, text_image=text_image))
    # i2t ranks (0-based): 3, 0, 1 -> R@1 = 1/3, R@5 = R@10 = 3/3
    assert out["i2t_r1"].value == pytest.approx(100 / 3)
    assert out["i2t_r5"].value == pytest.approx(100.0)
    # t2i ranks per caption: c0 1 (I2 ahead), c1 2, c2 0, c3 1 (I1 ahead), c4 0, c5 1 (I0 ahead) -> R@1 = 2/6
    # (per-image averaging would give (0 + 1/2 + 1/3) / 3 = 27.8)
    assert out["t2i_r1"].value == pytest.approx(100 * 2 / 6)
    assert out["t2i_r5"].value == pytest.approx(100.0)
    assert out["rsum"].value == pytest.approx(100 / 3 + 100 + 100 + 100 * 2 / 6 + 100 + 100)
