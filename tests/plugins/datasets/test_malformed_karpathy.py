"""Malformed input to the ``karpathy`` loader: each case ends in one clear error that names the file and the record
(``images[i] (filename)``), never a silent drop or a bare library exception; and in a run, a failed cell with that
message. MMBench cases are in ``test_malformed_mmbench.py``.

Fixtures are written by the tests in the real format: a Flickr30K Karpathy JSON (``{"images": [...],
"dataset": "flickr30k"}``) and its image directory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from malformed_files import names, noise_png, png, png_header_only

from vleval.api import UnsafeInputError
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError, ImageDecodeError
from vleval_datasets.karpathy import KarpathyDataset

# --------------------------------------------------------------------------------------------------- karpathy

FILENAMES = ["1000092795.jpg", "10002456.jpg", "1000268201.jpg"]


def _flickr_records() -> list[dict[str, Any]]:
    return [{"sentids": [5 * i + j for j in range(5)], "imgid": i, "split": "test", "filename": name,
             "sentences": [{"tokens": ["a", "dog"], "raw": f"A dog {i}.{j}", "imgid": i, "sentid": 5 * i + j}
                           for j in range(5)]}
            for i, name in enumerate(FILENAMES)]


@pytest.fixture
def flickr(tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "flickr30k-images"
    images.mkdir()
    for i, name in enumerate(FILENAMES):
        (images / name).write_bytes(png((40 * i, 0, 0)))
    annotations = tmp_path / "dataset_flickr30k.json"
    _write_json(annotations, _flickr_records())
    return annotations, images


def _write_json(path: Path, records: Any) -> None:
    path.write_text(json.dumps({"images": records, "dataset": "flickr30k"}, indent=1))


def _edit(annotations: Path, change: Any) -> None:
    records = _flickr_records()
    change(records)
    _write_json(annotations, records)



def test_karpathy_missing_annotation_file(flickr: tuple[Path, Path]) -> None:
    _, images = flickr
    missing = images.parent / "dataset_coco.json"
    with pytest.raises(DatasetFileNotFoundError, match=names(missing, "not found")):
        KarpathyDataset(missing, images)


def test_karpathy_missing_image_directory(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    with pytest.raises(DatasetFileNotFoundError, match=names(images / "x", "not found")):
        KarpathyDataset(annotations, images / "x")


def test_karpathy_truncated_json_names_line(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    lines = annotations.read_text().splitlines()
    annotations.write_text("\n".join(lines[:20]))
    with pytest.raises(DatasetFormatError, match=names(annotations, r"invalid JSON at line 20 column")):
        KarpathyDataset(annotations, images)


def test_karpathy_json_syntax_error_names_line(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    lines = annotations.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if '"split": "test"' in line)
    lines[number] = lines[number].replace('"test"', "test")
    annotations.write_text("\n".join(lines))
    with pytest.raises(DatasetFormatError, match=names(annotations, f"invalid JSON at line {number + 1} column")):
        KarpathyDataset(annotations, images)


def test_karpathy_not_utf8(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    annotations.write_bytes(annotations.read_bytes().replace(b"A dog 0.0", b"A d\xf6g"))
    with pytest.raises(DatasetFormatError, match=names(annotations, "not UTF-8 text")):
        KarpathyDataset(annotations, images)


def test_karpathy_top_level_not_an_object(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    annotations.write_text(json.dumps(_flickr_records()))
    with pytest.raises(DatasetFormatError, match=names(annotations, "expected a JSON object.*got list")):
        KarpathyDataset(annotations, images)


def test_karpathy_images_not_a_list(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    annotations.write_text(json.dumps({"images": {"0": _flickr_records()[0]}, "dataset": "flickr30k"}))
    with pytest.raises(DatasetFormatError, match=names(annotations, "field 'images' must be a list")):
        KarpathyDataset(annotations, images)


def test_karpathy_record_not_an_object(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    _edit(annotations, lambda r: r.__setitem__(1, FILENAMES[1]))
    with pytest.raises(DatasetFormatError, match=names(annotations, r"images\[1\] must be an object, got str")):
        KarpathyDataset(annotations, images)


def test_karpathy_split_wrong_type(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    _edit(annotations, lambda r: r[1].__setitem__("split", ["test"]))
    with pytest.raises(DatasetFormatError, match=names(annotations, r"images\[1\]: field 'split'")):
        KarpathyDataset(annotations, images)


def test_karpathy_filename_wrong_type(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    _edit(annotations, lambda r: r[2].__setitem__("filename", 1000268201))
    with pytest.raises(DatasetFormatError, match=names(annotations, r"images\[2\]: field 'filename'")):
        KarpathyDataset(annotations, images)


def test_karpathy_filepath_wrong_type(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    _edit(annotations, lambda r: r[0].__setitem__("filepath", ["val2014"]))
    with pytest.raises(DatasetFormatError, match=names(annotations, r"images\[0\] \(1000092795\.jpg\): "
                                                                     "field 'filepath' must be a string")):
        KarpathyDataset(annotations, images)


def test_karpathy_sentences_wrong_type(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    _edit(annotations, lambda r: r[1].__setitem__("sentences", "A dog."))
    with pytest.raises(DatasetFormatError, match=names(annotations, r"images\[1\] \(10002456\.jpg\): "
                                                                     "field 'sentences' missing or not a list")):
        KarpathyDataset(annotations, images)


def test_karpathy_sentence_not_an_object(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    _edit(annotations, lambda r: r[2]["sentences"].__setitem__(3, "A dog."))
    with pytest.raises(DatasetFormatError, match=names(annotations, r"images\[2\] .*sentences\[3\]: field 'raw'")):
        KarpathyDataset(annotations, images)


def test_karpathy_raw_wrong_type(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    _edit(annotations, lambda r: r[0]["sentences"][1].__setitem__("raw", 42))
    with pytest.raises(DatasetFormatError, match=names(annotations, r"images\[0\] .*sentences\[1\]: field 'raw'")):
        KarpathyDataset(annotations, images)


def test_karpathy_too_few_captions(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    _edit(annotations, lambda r: r[1].__setitem__("sentences", r[1]["sentences"][:2]))
    with pytest.raises(DatasetFormatError, match=names(annotations, r"images\[1\] \(10002456\.jpg\): has 2 captions")):
        KarpathyDataset(annotations, images)


def test_karpathy_duplicate_image(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    _edit(annotations, lambda r: r[2].__setitem__("filename", FILENAMES[0]))
    with pytest.raises(DatasetFormatError, match=names(annotations, r"images\[2\] \(1000092795\.jpg\): image "
                                                                     r"'1000092795\.jpg' listed twice.*images\[0\]")):
        KarpathyDataset(annotations, images)


def test_karpathy_missing_image(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    (images / FILENAMES[2]).unlink()
    pattern = names(annotations, r"1 image\(s\) of split 'test' not found", r"images\[2\] \(1000268201\.jpg\)",
                     re.escape(str(images / FILENAMES[2])))
    with pytest.raises(DatasetFileNotFoundError, match=pattern):
        KarpathyDataset(annotations, images)


@pytest.mark.parametrize(
    ("case", "content"),
    [("corrupt", b"GIF89a this is not an image"), ("empty", b""), ("truncated", noise_png()[:600]),
     ("text", b"<html>404 Not Found</html>")],
)
def test_karpathy_undecodable_image(flickr: tuple[Path, Path], case: str, content: bytes) -> None:
    annotations, images = flickr
    (images / FILENAMES[1]).write_bytes(content)
    data = KarpathyDataset(annotations, images)
    assert data[0].image.size == (8, 8)  # the other images still load
    pattern = names(annotations, r"images\[1\] \(10002456\.jpg\)", re.escape(str(images / FILENAMES[1])),
                     "cannot decode image")
    with pytest.raises(ImageDecodeError, match=pattern):
        data[1]


def test_karpathy_image_deleted_after_loading(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    data = KarpathyDataset(annotations, images)
    (images / FILENAMES[0]).unlink()
    with pytest.raises(ImageDecodeError, match=names(annotations, r"images\[0\].*FileNotFoundError")):
        data[0]


def test_karpathy_oversized_image(flickr: tuple[Path, Path]) -> None:
    annotations, images = flickr
    (images / FILENAMES[2]).write_bytes(png_header_only(9_000, 8_000))
    pattern = names(annotations, r"images\[2\] \(1000268201\.jpg\)", "9000x8000 pixels, over the limit of 64000000")
    with pytest.raises(UnsafeInputError, match=pattern):
        KarpathyDataset(annotations, images)[2]




# ------------------------------------------------------------------------------------------------------ in a run


def test_run_records_the_clear_error_as_a_failed_cell(flickr: tuple[Path, Path], tmp_path: Path) -> None:
    """In ``vleval run`` the loader's error fails the cell with its message (the other cells go on)."""
    from conftest import explicit_registry, toy_benchmark

    import vleval_datasets.plugin
    from vleval.executors.runner import run_benchmark

    annotations, images = flickr
    (images / FILENAMES[1]).write_bytes(b"not an image")
    args = {"annotations": str(annotations), "images": str(images)}
    bench = toy_benchmark(models=[{"name": "toy-moe"}], shifts=[], metrics=["retrieval-recall"],
                          datasets=[{"name": "karpathy", "args": args}])
    summary = run_benchmark("bad", bench, tmp_path / "results", registry=explicit_registry(vleval_datasets.plugin))
    (record,) = summary.records
    assert record["status"] == "failed"
    assert record["error"]["type"] == "ImageDecodeError"
    assert re.search(names(annotations, r"images\[1\] \(10002456\.jpg\)", "cannot decode image"),
                     record["error"]["message"])


