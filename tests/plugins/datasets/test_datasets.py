"""The karpathy and mmbench loaders on hand-written real-format fixtures, and their guards and errors."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pluggy
import pytest
from PIL import Image

import vleval.api.hookspecs
from vleval.api import MCItem, RetrievalItem, Task, UnsafeInputError
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError, ImageDecodeError
from vleval_datasets.karpathy import KarpathyDataset
from vleval_datasets.mmbench import MMBenchDataset


def _png(color: tuple[int, int, int], size: tuple[int, int] = (4, 3)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels but which holds no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _sentences(imgid: int, texts: list[str], start: int) -> list[dict[str, Any]]:
    return [{"tokens": t.lower().split(), "raw": t, "imgid": imgid, "sentid": start + i} for i, t in enumerate(texts)]


FLICKR_CAPTIONS = [f"A dog runs number {i}." for i in range(6)]


def _write_flickr(tmp_path: Path, filenames: tuple[str, ...] = ("1000092795.jpg", "10002456.jpg", "1000268201.jpg"),
                  splits: tuple[str, ...] = ("test", "train", "test"), captions: int = 6) -> tuple[Path, Path]:
    """A Flickr30K Karpathy JSON in the released layout, with PNG bytes under .jpg names like the real files."""
    images = tmp_path / "flickr30k-images"
    images.mkdir(exist_ok=True)
    records = []
    for imgid, (filename, split) in enumerate(zip(filenames, splits, strict=True)):
        if "/" not in filename:
            (images / filename).write_bytes(_png((imgid * 80, 10, 200)))
        records.append({"sentids": list(range(imgid * 10, imgid * 10 + captions)), "imgid": imgid,
                        "sentences": _sentences(imgid, FLICKR_CAPTIONS[:captions], imgid * 10), "split": split,
                        "filename": filename})
    annotations = tmp_path / "dataset_flickr30k.json"
    annotations.write_text(json.dumps({"images": records, "dataset": "flickr30k"}))
    return annotations, images


def _write_coco(tmp_path: Path) -> tuple[Path, Path]:
    """A COCO Karpathy JSON: images under filepath/filename, cocoid, a restval image, 7 captions on one."""
    root = tmp_path / "coco"
    records = []
    layout = [("val2014", 391895, "test", 5), ("train2014", 522418, "train", 5), ("val2014", 184613, "restval", 7),
              ("val2014", 318219, "test", 6)]
    for imgid, (filepath, cocoid, split, n) in enumerate(layout):
        filename = f"COCO_{filepath}_{cocoid:012d}.jpg"
        (root / filepath).mkdir(parents=True, exist_ok=True)
        (root / filepath / filename).write_bytes(_png((imgid * 60, 100, 20)))
        records.append({"filepath": filepath, "sentids": list(range(n)), "filename": filename, "imgid": imgid,
                        "split": split, "sentences": _sentences(imgid, [f"caption {imgid}.{j}" for j in range(n)], 0),
                        "cocoid": cocoid})
    annotations = tmp_path / "dataset_coco.json"
    annotations.write_text(json.dumps({"images": records, "dataset": "coco"}))
    return annotations, root


# ------------------------------------------------------------------------------------------------------ karpathy


def test_karpathy_reads_flickr_layout(tmp_path: Path) -> None:
    annotations, images = _write_flickr(tmp_path)
    data = KarpathyDataset(annotations=annotations, images=images)
    assert data.task is Task.RETRIEVAL
    assert data.id == "karpathy:flickr30k/test"
    assert len(data) == 2
    item = data[1]
    assert isinstance(item, RetrievalItem)
    assert item.id == "1000268201.jpg"
    assert item.captions == FLICKR_CAPTIONS[:5]  # the first five of six
    assert item.image.mode == "RGB" and item.image.size == (4, 3)
    assert item.image.getpixel((0, 0)) == (160, 10, 200)
    assert data[-1].id == item.id
    with pytest.raises(IndexError):
        data[2]
    assert [x.id for x in data] == ["1000092795.jpg", "1000268201.jpg"]
    assert data.describe() == {"annotations": str(annotations), "images": str(images), "dataset": "flickr30k",
                               "split": "test", "size": 2, "captions_per_image": 5, "captions": 10}
    assert len(KarpathyDataset(annotations, images, split="train")) == 1


def test_karpathy_reads_coco_layout(tmp_path: Path) -> None:
    annotations, root = _write_coco(tmp_path)
    test = KarpathyDataset(annotations, root, split="test")
    assert test.id == "karpathy:coco/test"
    assert [item.id for item in test] == ["val2014/COCO_val2014_000000391895.jpg",
                                          "val2014/COCO_val2014_000000318219.jpg"]
    assert test[1].captions == [f"caption 3.{j}" for j in range(5)]
    train = KarpathyDataset(annotations, root, split="train+restval", captions_per_image=5)
    assert len(train) == 2 and train[1].captions == [f"caption 2.{j}" for j in range(5)]


def test_karpathy_content_hash_tracks_used_files(tmp_path: Path) -> None:
    annotations, images = _write_flickr(tmp_path)
    first = KarpathyDataset(annotations, images).content_hash()
    assert len(first) == 64 and first == KarpathyDataset(annotations, images).content_hash()
    assert KarpathyDataset(annotations, images, split="train").content_hash() != first
    (images / "10002456.jpg").write_bytes(_png((1, 2, 3)))  # a train image: not used by the test split
    assert KarpathyDataset(annotations, images).content_hash() == first
    (images / "1000268201.jpg").write_bytes(_png((1, 2, 3)))
    assert KarpathyDataset(annotations, images).content_hash() != first


def test_karpathy_too_few_captions(tmp_path: Path) -> None:
    annotations, images = _write_flickr(tmp_path, captions=4)
    pattern = r"images\[0\] \(1000092795.jpg\): has 4 captions.*captions_per_image=5"
    with pytest.raises(DatasetFormatError, match=pattern):
        KarpathyDataset(annotations, images)
    assert len(KarpathyDataset(annotations, images, captions_per_image=4)[0].captions) == 4


@pytest.mark.parametrize("filename", ["../secret.png", "sub/../../secret.png", "/etc/passwd"])
def test_karpathy_refuses_path_traversal(tmp_path: Path, filename: str) -> None:
    (tmp_path / "secret.png").write_bytes(_png((0, 0, 0)))
    annotations, images = _write_flickr(tmp_path, filenames=(filename,), splits=("test",))
    with pytest.raises(UnsafeInputError, match=r"images\[0\]"):
        KarpathyDataset(annotations, images)


def test_karpathy_refuses_traversal_through_filepath(tmp_path: Path) -> None:
    annotations, root = _write_coco(tmp_path)
    data = json.loads(annotations.read_text())
    data["images"][0]["filepath"] = "../.."
    annotations.write_text(json.dumps(data))
    with pytest.raises(UnsafeInputError, match="escapes the dataset root"):
        KarpathyDataset(annotations, root)


def test_karpathy_refuses_decompression_bomb(tmp_path: Path) -> None:
    annotations, images = _write_flickr(tmp_path)
    (images / "1000268201.jpg").write_bytes(_png_header_only(100_000, 100_000))
    data = KarpathyDataset(annotations, images)
    data[0]  # the other image still decodes
    with pytest.raises(UnsafeInputError, match="1000268201.jpg"):
        data[1]
    (images / "1000268201.jpg").write_bytes(_png((0, 0, 0), size=(20, 20)))
    with pytest.raises(UnsafeInputError, match="decompression bomb"):
        KarpathyDataset(annotations, images, max_pixels=100)[1]


def test_karpathy_corrupt_image_names_file(tmp_path: Path) -> None:
    annotations, images = _write_flickr(tmp_path)
    (images / "1000268201.jpg").write_bytes(b"not an image")
    with pytest.raises(ImageDecodeError, match="1000268201.jpg"):
        KarpathyDataset(annotations, images)[1]


def test_karpathy_missing_files(tmp_path: Path) -> None:
    annotations, images = _write_flickr(tmp_path)
    with pytest.raises(DatasetFileNotFoundError, match="nope.json"):
        KarpathyDataset(tmp_path / "nope.json", images)
    (images / "1000268201.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="1 image.*1000268201.jpg"):
        KarpathyDataset(annotations, images)
    assert issubclass(DatasetFileNotFoundError, ValueError)


def test_karpathy_malformed_json(tmp_path: Path) -> None:
    annotations, images = _write_flickr(tmp_path)
    text = annotations.read_text()
    annotations.write_text(text[: len(text) // 2])
    with pytest.raises(DatasetFormatError, match=r"dataset_flickr30k.json: invalid JSON at line 1 column \d+"):
        KarpathyDataset(annotations, images)
    data = json.loads(text)
    del data["images"][2]["sentences"]
    annotations.write_text(json.dumps(data))
    with pytest.raises(DatasetFormatError, match=r"images\[2\] \(1000268201.jpg\): field 'sentences'"):
        KarpathyDataset(annotations, images)
    data = json.loads(text)
    data["images"][0]["sentences"][3] = {"tokens": []}
    annotations.write_text(json.dumps(data))
    with pytest.raises(DatasetFormatError, match=r"images\[0\].*sentences\[3\]: field 'raw'"):
        KarpathyDataset(annotations, images)
    with pytest.raises(DatasetFormatError, match="unknown split 'testing'"):
        KarpathyDataset(annotations, images, split="testing")


# ------------------------------------------------------------------------------------------------------- mmbench

MMB_HEADER = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "source",
              "l2-category", "comment", "split"]


def _b64(color: tuple[int, int, int]) -> str:
    return base64.b64encode(_png(color)).decode()


def _mmb_rows() -> list[list[str]]:
    red, blue = _b64((255, 0, 0)), _b64((0, 0, 255))
    return [
        ["0", "What color is it?", "nan", "red", "blue", "green", "yellow", "A", "color", red, "src", "attr", "nan",
         "dev"],
        ["1", "Which shape?", "A hint.", "circle", "square", "triangle", "", "C", "shape", blue, "src", "obj", "",
         "dev"],
        ["1000000", "What color is it?", "", "blue", "green", "yellow", "red", "D", "color", "0", "src", "attr", "",
         "dev"],
        ["2", '"A ""quoted""\tquestion"', "", "1", "2", "nan", "nan", "B", "digit", "1", "src", "ocr", "", "test"],
    ]


def _write_tsv(path: Path, rows: list[list[str]], header: list[str] = MMB_HEADER) -> Path:
    lines = ["\t".join(header)] + ["\t".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_mmbench_reads_rows_in_order(tmp_path: Path) -> None:
    path = _write_tsv(tmp_path / "MMBench_DEV_EN.tsv", _mmb_rows())
    data = MMBenchDataset(path=path)
    assert data.task is Task.MULTIPLE_CHOICE
    assert data.id == "mmbench:MMBench_DEV_EN"
    assert [item.index for item in data] == [0, 1, 1000000, 2]
    first = data[0]
    assert isinstance(first, MCItem)
    assert first.options == {"A": "red", "B": "blue", "C": "green", "D": "yellow"}
    assert (first.answer, first.hint, first.category, first.l2_category) == ("A", "", "color", "attr")
    assert first.image.getpixel((0, 0)) == (255, 0, 0)
    second = data[1]
    assert second.options == {"A": "circle", "B": "square", "C": "triangle"}  # empty D is absent
    assert second.hint == "A hint."
    rotation = data[2]  # image "0": the image of the row with index 0
    assert rotation.image.getpixel((0, 0)) == (255, 0, 0)
    assert rotation.options["D"] == "red" and rotation.answer == "D"
    quoted = data[3]
    assert quoted.question == 'A "quoted"\tquestion'
    assert quoted.options == {"A": "1", "B": "2"}
    assert quoted.image.getpixel((0, 0)) == (0, 0, 255)
    assert data.describe()["questions"] == 3
    assert len(MMBenchDataset(path, split="test")) == 1  # its image reference resolves across the split filter
    assert MMBenchDataset(path, split="test")[0].image is not None


def test_mmbench_content_hash(tmp_path: Path) -> None:
    path = _write_tsv(tmp_path / "a.tsv", _mmb_rows())
    first = MMBenchDataset(path).content_hash()
    assert first == MMBenchDataset(path).content_hash()
    assert MMBenchDataset(path, split="dev").content_hash() != first
    rows = _mmb_rows()
    rows[0][1] = "What colour is it?"
    _write_tsv(path, rows)
    assert MMBenchDataset(path).content_hash() != first


def test_mmbench_without_image_column(tmp_path: Path) -> None:
    header = [h for h in MMB_HEADER if h != "image"]
    rows = [[v for h, v in zip(MMB_HEADER, row, strict=True) if h != "image"] for row in _mmb_rows()]
    assert MMBenchDataset(_write_tsv(tmp_path / "t.tsv", rows, header))[0].image is None


@pytest.mark.parametrize(
    ("line", "column", "value", "pattern"),
    [
        (2, "index", "zero", r"line 2: field 'index' must be an integer, got 'zero'"),
        (3, "answer", "D", r"line 3 \(index 1\): field 'answer' is 'D', not one of the options \['A', 'B', 'C'\]"),
        (4, "image", "77", r"line 4 \(index 1000000\): field 'image' refers to index 77"),
        (3, "index", "0", r"line 3 \(index 0\): duplicate index, first used on line 2"),
        (5, "B", "", r"line 5 \(index 2\): fewer than two options"),
    ],
)
def test_mmbench_malformed_rows_name_line_and_field(
    tmp_path: Path, line: int, column: str, value: str, pattern: str
) -> None:
    rows = _mmb_rows()
    rows[line - 2][MMB_HEADER.index(column)] = value
    path = _write_tsv(tmp_path / "bad.tsv", rows)
    with pytest.raises(DatasetFormatError, match=r"bad\.tsv: " + pattern):
        MMBenchDataset(path)


def test_mmbench_structural_errors(tmp_path: Path) -> None:
    rows = _mmb_rows()
    rows[1] = rows[1][:-1]
    with pytest.raises(DatasetFormatError, match=r"t1\.tsv: line 3: expected 14 tab-separated fields, got 13"):
        MMBenchDataset(_write_tsv(tmp_path / "t1.tsv", rows))
    header = [h for h in MMB_HEADER if h != "answer"]
    with pytest.raises(DatasetFormatError, match=r"t2\.tsv: line 1: header lacks column\(s\) \['answer'\]"):
        MMBenchDataset(_write_tsv(tmp_path / "t2.tsv", [], header))
    with pytest.raises(DatasetFormatError, match="no 'split' column"):
        MMBenchDataset(_write_tsv(tmp_path / "t3.tsv", [], MMB_HEADER[:-1]), split="dev")
    with pytest.raises(DatasetFileNotFoundError, match="missing.tsv"):
        MMBenchDataset(tmp_path / "missing.tsv")


def test_mmbench_bad_images(tmp_path: Path) -> None:
    rows = _mmb_rows()
    rows[0][MMB_HEADER.index("image")] = "!!not-base64!!"
    rows[1][MMB_HEADER.index("image")] = base64.b64encode(_png_header_only(100_000, 100_000)).decode()
    data = MMBenchDataset(_write_tsv(tmp_path / "img.tsv", rows))
    with pytest.raises(ImageDecodeError, match=r"img\.tsv: line 2 \(index 0\) field 'image': invalid base64"):
        data[0]
    with pytest.raises(UnsafeInputError, match=r"img\.tsv: line 3 \(index 1\) field 'image'"):
        data[1]
    with pytest.raises(UnsafeInputError, match="over the limit of 10"):
        MMBenchDataset(_write_tsv(tmp_path / "ok.tsv", _mmb_rows()), max_pixels=10)[0]


# ------------------------------------------------------------------------------------------------------- plugin


def test_plugin_registers_lazy_factories() -> None:
    import importlib

    import vleval_datasets.plugin

    manager = pluggy.PluginManager(vleval.api.hookspecs.PROJECT)
    manager.add_hookspecs(vleval.api.hookspecs)
    manager.register(vleval_datasets.plugin)
    seen: dict[str, Any] = {}
    manager.hook.register_datasets(register=lambda factory, **kw: seen.setdefault(kw["name"], (factory, kw)))
    assert set(seen) == {"karpathy", "coco-captions", "mmbench"}
    for factory, kw in seen.values():
        assert isinstance(factory, str) and kw["version"] == "1.0.0" and kw["description"]
        module, attribute = factory.split(":")
        assert hasattr(importlib.import_module(module), attribute)
