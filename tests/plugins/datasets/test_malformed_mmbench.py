"""Malformed input to the ``mmbench`` loader: each case ends in one clear error that names the TSV file and the line
(and the row's ``index``), never a silent drop or a bare library exception.

Fixtures are written by the tests in the real format: an MMBench TSV with a header row, base64 PNG images and image
references by index.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from malformed_files import names, noise_png, png, png_header_only

from vleval.api import UnsafeInputError
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError, ImageDecodeError
from vleval_datasets.mmbench import MMBenchDataset

HEADER = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "source", "l2-category",
          "comment", "split"]
COLUMN = {name: i for i, name in enumerate(HEADER)}


def _rows() -> list[list[str]]:
    """Three questions on lines 2-4 and a rotation of the first on line 5 that reuses its image by index."""
    red, blue, green = (base64.b64encode(png(c)).decode() for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0)))
    return [
        ["0", "What color?", "nan", "red", "blue", "green", "yellow", "A", "color", red, "s", "attr", "", "dev"],
        ["1", "Which shape?", "", "circle", "square", "triangle", "", "C", "shape", blue, "s", "obj", "", "dev"],
        ["2", "How many?", "", "1", "2", "3", "4", "B", "count", green, "s", "count", "", "dev"],
        ["1000000", "What color?", "", "blue", "green", "yellow", "red", "D", "color", "0", "s", "attr", "", "dev"],
    ]


def _tsv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    path.write_text("\n".join("\t".join(row) for row in [header, *rows]) + "\n", encoding="utf-8")
    return path


def _with(line: int, column: str, value: str) -> list[list[str]]:
    rows = _rows()
    rows[line - 2][COLUMN[column]] = value
    return rows


def test_mmbench_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetFileNotFoundError, match=names(tmp_path / "MMBench_DEV_EN.tsv", "not found")):
        MMBenchDataset(tmp_path / "MMBench_DEV_EN.tsv")


def test_mmbench_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "e.tsv"
    path.write_text("")
    with pytest.raises(DatasetFormatError, match=names(path, "empty file, expected a header row")):
        MMBenchDataset(path)


def test_mmbench_missing_required_column(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "question"]
    path = _tsv(tmp_path / "m.tsv", [[v for h, v in zip(HEADER, r, strict=True) if h != "question"] for r in _rows()],
                header)
    with pytest.raises(DatasetFormatError, match=names(path, r"line 1: header lacks column\(s\) \['question'\]")):
        MMBenchDataset(path)


def test_mmbench_missing_option_columns(tmp_path: Path) -> None:
    header = [h for h in HEADER if h not in "BCD"]
    path = _tsv(tmp_path / "o.tsv", [], header)
    with pytest.raises(DatasetFormatError, match=names(path, r"line 1: header needs option columns.*\['A'\]")):
        MMBenchDataset(path)


def test_mmbench_missing_split_column(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "s.tsv", [r[:-1] for r in _rows()], HEADER[:-1])
    with pytest.raises(DatasetFormatError, match=names(path, "line 1: split='dev' given.*no 'split' column")):
        MMBenchDataset(path, split="dev")


def test_mmbench_missing_field(tmp_path: Path) -> None:
    rows = _rows()
    del rows[2][COLUMN["hint"]]
    path = _tsv(tmp_path / "f.tsv", rows)
    with pytest.raises(DatasetFormatError, match=names(path, "line 4: expected 14 tab-separated fields, got 13")):
        MMBenchDataset(path)


def test_mmbench_unclosed_quote_names_the_lines_it_ran_over(tmp_path: Path) -> None:
    """The quote opened on line 3 swallows the rest of the file: the index, then one field."""
    path = _tsv(tmp_path / "q.tsv", _with(3, "question", '"Which shape?'))
    with pytest.raises(DatasetFormatError, match=names(path, "lines 3-5: expected 14 tab-separated fields, got 2",
                                                        "unclosed quote")):
        MMBenchDataset(path)


def test_mmbench_index_not_an_integer(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "i.tsv", _with(4, "index", "2.5"))
    with pytest.raises(DatasetFormatError, match=names(path, "line 4: field 'index' must be an integer, got '2.5'")):
        MMBenchDataset(path)


def test_mmbench_duplicate_index(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "d.tsv", _with(4, "index", "1"))
    with pytest.raises(DatasetFormatError, match=names(path, r"line 4 \(index 1\): duplicate index, first used "
                                                              "on line 3")):
        MMBenchDataset(path)


def test_mmbench_answer_not_an_option(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "a.tsv", _with(3, "answer", "D"))
    with pytest.raises(DatasetFormatError, match=names(path, r"line 3 \(index 1\): field 'answer' is 'D'")):
        MMBenchDataset(path)


def test_mmbench_fewer_than_two_options(tmp_path: Path) -> None:
    rows = _rows()
    for letter in "BCD":
        rows[2][COLUMN[letter]] = "nan"
    path = _tsv(tmp_path / "n.tsv", rows)
    with pytest.raises(DatasetFormatError, match=names(path, r"line 4 \(index 2\): fewer than two options")):
        MMBenchDataset(path)


def test_mmbench_empty_question(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "e.tsv", _with(2, "question", "  "))
    with pytest.raises(DatasetFormatError, match=names(path, r"line 2 \(index 0\): field 'question' is empty")):
        MMBenchDataset(path)


def test_mmbench_image_reference_to_missing_row(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "r.tsv", _with(5, "image", "7"))
    with pytest.raises(DatasetFormatError, match=names(path, r"line 5 \(index 1000000\): field 'image' refers to "
                                                              "index 7")):
        MMBenchDataset(path)


def test_mmbench_image_reference_cycle(tmp_path: Path) -> None:
    rows = _with(5, "image", "2")
    rows[2][COLUMN["image"]] = "1000000"
    path = _tsv(tmp_path / "c.tsv", rows)
    with pytest.raises(DatasetFormatError, match=names(path, r"line \d \(index (2|1000000)\): field 'image' refers "
                                                              "to index .*not a row with a base64 image")):
        MMBenchDataset(path)


def test_mmbench_not_utf8(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "u.tsv", _rows())
    path.write_bytes(path.read_bytes().replace(b"How many?", b"Wie gro\xdf?"))
    with pytest.raises(DatasetFormatError, match=names(path, "not UTF-8 text")):
        MMBenchDataset(path)


def test_mmbench_bad_base64(tmp_path: Path) -> None:
    data = MMBenchDataset(_tsv(tmp_path / "b.tsv", _with(3, "image", "iVBORw0KGgo%%%")))
    assert data[0].image is not None  # the other rows still load
    with pytest.raises(ImageDecodeError, match=names(data.path, r"line 3 \(index 1\) field 'image': invalid base64")):
        data[1]


def test_mmbench_truncated_base64_padding(tmp_path: Path) -> None:
    encoded = _rows()[1][COLUMN["image"]]
    cut = encoded[: (len(encoded) // 2) // 4 * 4 + 1]  # one character past a 4-character boundary
    data = MMBenchDataset(_tsv(tmp_path / "t.tsv", _with(3, "image", cut)))
    with pytest.raises(ImageDecodeError, match=names(data.path, r"line 3 \(index 1\) field 'image': invalid base64")):
        data[1]


def test_mmbench_truncated_image_data(tmp_path: Path) -> None:
    encoded = base64.b64encode(noise_png()[:600]).decode()  # valid base64 of a cut-off PNG
    data = MMBenchDataset(_tsv(tmp_path / "t.tsv", _with(4, "image", encoded)))
    with pytest.raises(ImageDecodeError, match=names(data.path, r"line 4 \(index 2\) field 'image'",
                                                      "cannot decode image")):
        data[2]


def test_mmbench_base64_of_non_image(tmp_path: Path) -> None:
    encoded = base64.b64encode(b"just some text, not a picture").decode()
    data = MMBenchDataset(_tsv(tmp_path / "x.tsv", _with(2, "image", encoded)))
    with pytest.raises(ImageDecodeError, match=names(data.path, r"line 2 \(index 0\) field 'image'",
                                                      "cannot decode image")):
        data[0]


def test_mmbench_reference_to_a_bad_image_names_both_lines(tmp_path: Path) -> None:
    data = MMBenchDataset(_tsv(tmp_path / "y.tsv", _with(2, "image", "AAAA")))
    with pytest.raises(ImageDecodeError, match=names(data.path, r"line 5 \(index 1000000\) field 'image' \(a "
                                                      r"reference to the image of index 0 on line 2\)")):
        data[3]


def test_mmbench_oversized_image(tmp_path: Path) -> None:
    encoded = base64.b64encode(png_header_only(9_000, 8_000)).decode()
    data = MMBenchDataset(_tsv(tmp_path / "o.tsv", _with(4, "image", encoded)))
    with pytest.raises(UnsafeInputError, match=names(data.path, r"line 4 \(index 2\) field 'image'",
                                                      "9000x8000 pixels, over the limit of 64000000")):
        data[2]


def test_mmbench_rows_without_image_are_counted_not_hidden(tmp_path: Path) -> None:
    """An empty ``image`` field is allowed (the question is asked without an image) and counted in the record."""
    rows = _with(3, "image", "")
    rows[2][COLUMN["image"]] = "nan"
    data = MMBenchDataset(_tsv(tmp_path / "blind.tsv", rows))
    assert [item.image is None for item in data] == [False, True, True, False]
    assert data.describe()["rows_without_image"] == 2
