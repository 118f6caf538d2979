"""The open-ended VQA readers on fixture files written in each released layout (VQAv2, OK-VQA, TextVQA, DocVQA,
ChartQA, POPE, VLMEvalKit VQA TSVs), every malformed case ending in one error naming the file, record and field, and
the content hash.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from malformed_files import names, png, png_header_only
from PIL import Image

from vleval.api import UnsafeInputError
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError, ImageDecodeError
from vleval_datasets.vqa_chartqa import read_chartqa
from vleval_datasets.vqa_coco import read_okvqa, read_vqa_coco, read_vqav2
from vleval_datasets.vqa_docvqa import read_docvqa
from vleval_datasets.vqa_pope import read_pope
from vleval_datasets.vqa_records import UnsafeDatasetPathError, VQARecord, content_hash, load_image
from vleval_datasets.vqa_textvqa import read_textvqa
from vleval_datasets.vqa_tsv import read_vqa_tsv

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _jpeg(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (8, 6)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format="JPEG")
    return path


def _png(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (8, 6)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png(color, size))
    return path


def _json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- VQAv2 / OK-VQA ---------------------------------------------------------------------------------------------


def _ten(*answers: str) -> list[dict[str, Any]]:
    padded = [*answers, *[answers[-1]] * (10 - len(answers))]
    confidence = ["yes", "maybe", "no"]
    return [{"answer": a, "answer_confidence": confidence[k % 3], "answer_id": k + 1} for k, a in enumerate(padded)]


def _vqav2(root: Path, questions: list[dict] | None = None, annotations: list[dict] | None = None,
           **top: Any) -> tuple[Path, Path, Path]:
    """VQAv2 val in its released layout: Questions/, Annotations/ and val2014/ COCO images."""
    if questions is None:
        questions = [
            {"image_id": 262148, "question": "Where is he looking?", "question_id": 262148000},
            {"image_id": 262148, "question": "What are the people in the background doing?", "question_id": 262148001},
            {"image_id": 393225, "question": "Is the bowl full?", "question_id": 393225000},
        ]
    if annotations is None:
        annotations = [  # not in question order: records follow the questions file
            {"question_type": "is the", "multiple_choice_answer": "yes", "answers": _ten("yes", "yes", "no"),
             "image_id": 393225, "answer_type": "yes/no", "question_id": 393225000},
            {"question_type": "none of the above", "multiple_choice_answer": "down", "answers": _ten("down", "table",
             "at table", "skateboard", "down", "table", "down", "down", "down", "down"), "image_id": 262148,
             "answer_type": "other", "question_id": 262148000},
            {"question_type": "what are the", "multiple_choice_answer": "watching", "answers": _ten("spectating",
             "watching", "watching"), "image_id": 262148, "answer_type": "other", "question_id": 262148001},
        ]
    info = {"description": "This is v2.0 of the VQA dataset.", "version": "2.0"}
    q = _json(root / "Questions/v2_OpenEnded_mscoco_val2014_questions.json", {
        "info": info, "task_type": "Open-Ended", "data_type": "mscoco", "license": {}, "data_subtype": "val2014",
        "questions": questions, **top})
    a = _json(root / "Annotations/v2_mscoco_val2014_annotations.json", {
        "info": info, "license": {}, "data_subtype": "val2014", "annotations": annotations, "data_type": "mscoco"})
    images = root / "val2014"
    _jpeg(images / "COCO_val2014_000000262148.jpg", RED)
    _jpeg(images / "COCO_val2014_000000393225.jpg", BLUE, (5, 4))
    return q, a, images


def test_vqav2_reads_the_released_layout(tmp_path: Path) -> None:
    q, a, images = _vqav2(tmp_path)
    records = read_vqav2(q, a, images)
    assert [r.id for r in records] == ["262148000", "262148001", "393225000"]
    first = records[0]
    assert first.image == (images / "COCO_val2014_000000262148.jpg").resolve()
    assert first.question == "Where is he looking?"
    assert first.answers == ("down", "table", "at table", "skateboard", "down", "table", "down", "down", "down", "down")
    assert (first.answer_type, first.question_type) == ("other", "none of the above")
    assert first.extra["multiple_choice_answer"] == "down"
    assert first.extra["image_id"] == 262148
    assert first.extra["answer_confidence"] == ("yes", "maybe", "no", "yes", "maybe", "no", "yes", "maybe", "no", "yes")
    assert len(records[2].answers) == 10 and records[2].answers[:3] == ("yes", "yes", "no")
    assert load_image(records[2]).size == (5, 4)
    assert read_vqav2(q, a, images, limit=2) == records[:2]
    with pytest.raises(TypeError):
        records[0].extra["image_id"] = 1  # type: ignore[index]


def test_okvqa_keeps_raw_answers_and_confidence(tmp_path: Path) -> None:
    answers = [{"answer_id": k + 1, "raw_answer": raw, "answer_confidence": "yes", "answer": ans}
               for k, (raw, ans) in enumerate([("racing", "race"), ("racing", "race"), ("motocross", "motocross")])]
    q = _json(tmp_path / "OpenEnded_mscoco_val2014_questions.json", {"data_subtype": "val2014", "questions": [
        {"image_id": 297147, "question": "What sport can you use this for?", "question_id": 2971475}]})
    a = _json(tmp_path / "mscoco_val2014_annotations.json", {"annotations": [
        {"image_id": 297147, "answer_type": "other", "question_type": "four", "question_id": 2971475,
         "answers": answers, "confidence": 3}]})
    _jpeg(tmp_path / "coco/val2014/COCO_val2014_000000297147.jpg", GREEN)
    (record,) = read_okvqa(q, a, tmp_path / "coco/val2014")
    assert record.answers == ("race", "race", "motocross")
    assert record.extra["raw_answers"] == ("racing", "racing", "motocross")
    assert record.extra["confidence"] == 3 and "multiple_choice_answer" not in record.extra
    assert record.question_type == "four"


def test_vqa_coco_subtype_and_pattern_arguments(tmp_path: Path) -> None:
    q, a, images = _vqav2(tmp_path)
    _jpeg(tmp_path / "coco2017/000000262148.jpg", RED)
    _jpeg(tmp_path / "coco2017/000000393225.jpg", BLUE)
    records = read_vqa_coco(q, a, tmp_path / "coco2017", image_pattern="{image_id:012d}.jpg")
    assert records[0].image.name == "000000262148.jpg"
    with pytest.raises(DatasetFormatError, match="image_pattern '{name}.jpg' must use only"):
        read_vqa_coco(q, a, images, image_pattern="{name}.jpg")
    with pytest.raises(DatasetFileNotFoundError, match=names(q, r"questions\[0\]", "COCO_train2014_000000262148")):
        read_vqa_coco(q, a, images, subtype="train2014")


@pytest.mark.parametrize(
    ("edit", "error", "where", "message"),
    [
        (lambda q, a: q.pop(1), DatasetFormatError, "a", r"annotations\[2\] \(question_id 262148001\): no question"),
        (lambda q, a: a.pop(0), DatasetFormatError, "q", r"questions\[2\] \(question_id 393225000\): no annotation"),
        (lambda q, a: q.append(dict(q[0])), DatasetFormatError, "q",
         r"questions\[3\].*duplicate question_id 262148000, first used by questions\[0\]"),
        (lambda q, a: a.append(dict(a[0])), DatasetFormatError, "a",
         r"annotations\[3\] \(question_id 393225000\): duplicate question_id"),
        (lambda q, a: q[2].update(image_id=262148), DatasetFormatError, "q",
         r"questions\[2\].*image_id 262148 differs from .*annotations\[0\]'s image_id 393225"),
        (lambda q, a: q[0].pop("question"), DatasetFormatError, "q",
         r"questions\[0\] \(question_id 262148000\): field 'question' must be a string, got missing"),
        (lambda q, a: q[1].update(question_id="262148001"), DatasetFormatError, "q",
         r"questions\[1\]: field 'question_id' must be an integer, got '262148001'"),
        (lambda q, a: q[0].update(image_id=None), DatasetFormatError, "q", r"questions\[0\].*field 'image_id'"),
        (lambda q, a: a[1].update(answers="down"), DatasetFormatError, "a",
         r"annotations\[1\] \(question_id 262148000\): field 'answers' must be a non-empty list"),
        (lambda q, a: a[1]["answers"][4].update(answer=5), DatasetFormatError, "a",
         r"annotations\[1\].*answers\[4\]: field 'answer' must be a string, got int"),
        (lambda q, a: a[1]["answers"][4].pop("answer_confidence"), DatasetFormatError, "a",
         r"annotations\[1\].*'answer_confidence' given for 9 of 10 answers"),
        (lambda q, a: a[2].update(answer_type=["other"]), DatasetFormatError, "a",
         r"annotations\[2\].*field 'answer_type' must be a string, got list"),
        (lambda q, a: q.__setitem__(0, "What?"), DatasetFormatError, "q", r"questions\[0\]: must be a JSON object"),
        (lambda q, a: q[2].update(image_id=999), DatasetFormatError, "q", r"questions\[2\].*image_id 999 differs"),
    ],
)
def test_vqa_coco_malformed(tmp_path: Path, edit: Any, error: type[Exception], where: str, message: str) -> None:
    q, a, images = _vqav2(tmp_path)
    questions, annotations = json.loads(q.read_text())["questions"], json.loads(a.read_text())["annotations"]
    edit(questions, annotations)
    q, a, images = _vqav2(tmp_path, questions, annotations)
    with pytest.raises(error, match=names(q if where == "q" else a, message)):
        read_vqav2(q, a, images)


def test_vqa_coco_file_errors(tmp_path: Path) -> None:
    q, a, images = _vqav2(tmp_path)
    with pytest.raises(DatasetFileNotFoundError, match=names(tmp_path / "nope.json", "not found")):
        read_vqav2(tmp_path / "nope.json", a, images)
    with pytest.raises(DatasetFileNotFoundError, match=names(tmp_path / "val2015", "not found")):
        read_vqav2(q, a, tmp_path / "val2015")
    a.write_text('{"annotations": [', encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=names(a, "invalid JSON at line 1 column")):
        read_vqav2(q, a, images)
    _json(a, {"annotations": {}})
    with pytest.raises(DatasetFormatError, match=names(a, "top-level field 'annotations' missing or not a list")):
        read_vqav2(q, a, images)
    _json(a, [])
    with pytest.raises(DatasetFormatError, match=names(a, "expected a JSON object with a 'annotations' list")):
        read_vqav2(q, a, images)
    q, a, images = _vqav2(tmp_path, data_subtype="train2014")
    with pytest.raises(DatasetFormatError, match=names(q, "data_subtype 'train2014' differs from")):
        read_vqav2(q, a, images)
    q, a, images = _vqav2(tmp_path)
    (images / "COCO_val2014_000000393225.jpg").unlink()
    with pytest.raises(DatasetFileNotFoundError,
                       match=names(q, r"questions\[2\] \(question_id 393225000\): image file", "not found")):
        read_vqav2(q, a, images)
    assert len(read_vqav2(q, a, images, limit=2)) == 2  # only the kept records' images must exist
    for limit in (0, -1, 1.5, True):
        with pytest.raises(DatasetFormatError, match="limit must be an integer >= 1"):
            read_vqav2(q, a, images, limit=limit)  # type: ignore[arg-type]


# --- TextVQA ----------------------------------------------------------------------------------------------------


def _textvqa(root: Path, data: list[dict] | None = None) -> tuple[Path, Path]:
    if data is None:
        data = [
            {"question": "what is the brand of this camera?", "image_id": "003a8ae2ef43b901",
             "image_classes": ["Cassette deck", "Printer"], "flickr_original_url": "https://farm2/x_o.jpg",
             "flickr_300k_url": "https://farm2/x.jpg", "image_width": 1024, "image_height": 664,
             "answers": ["nous les gosses", "dakota", "clos culombu", "dakota digital", "dakota", "dakota",
                         "dakota digital", "dakota digital", "dakota", "dakota"],
             "question_tokens": ["what", "is", "the", "brand", "of", "this", "camera"], "question_id": 34602,
             "set_name": "val"},
            {"question": "what does the small white text spell?", "image_id": "00685bc495504d61",
             "answers": ["copenhagen"] * 10, "question_id": 34603, "set_name": "val"},
        ]
    path = _json(root / "TextVQA_0.5.1_val.json",
                 {"dataset_type": "val", "dataset_name": "textvqa", "dataset_version": "0.5.1", "data": data})
    images = root / "train_val_images/train_images"
    _jpeg(images / "003a8ae2ef43b901.jpg", RED)
    _jpeg(images / "00685bc495504d61.jpg", GREEN)
    return path, images


def test_textvqa_reads_the_released_layout(tmp_path: Path) -> None:
    path, images = _textvqa(tmp_path)
    records = read_textvqa(path, images)
    assert [r.id for r in records] == ["34602", "34603"]
    assert records[0].image.name == "003a8ae2ef43b901.jpg" and len(records[0].answers) == 10
    assert records[0].answers[:2] == ("nous les gosses", "dakota")
    assert dict(records[0].extra) == {"image_id": "003a8ae2ef43b901", "set_name": "val"}
    assert records[1].answer_type is None and load_image(records[1]).getpixel((0, 0))[1] > 200


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d[1].pop("answers"), r"data\[1\] \(question_id 34603\): field 'answers' missing.*test split"),
        (lambda d: d[0].update(answers=["a", None]), r"data\[0\].*field 'answers'\[1\] must be a string"),
        (lambda d: d[1].update(question_id=34602),
         r"data\[1\].*duplicate question_id '34602', first used by data\[0\]"),
        (lambda d: d[0].update(image_id=7), r"data\[0\] \(question_id 34602\): field 'image_id' must be a string"),
        (lambda d: d[0].update(question=""), r"data\[0\].*field 'question' is empty"),
        (lambda d: d[0].update(question_id=[1]), r"data\[0\]: field 'question_id' must be an integer or a non-empty"),
    ],
)
def test_textvqa_malformed(tmp_path: Path, edit: Any, message: str) -> None:
    path, images = _textvqa(tmp_path)
    data = json.loads(path.read_text())["data"]
    edit(data)
    path, images = _textvqa(tmp_path, data)
    with pytest.raises(DatasetFormatError, match=names(path, message)):
        read_textvqa(path, images)


def test_textvqa_unknown_image(tmp_path: Path) -> None:
    path, images = _textvqa(tmp_path)
    (images / "00685bc495504d61.jpg").unlink()
    with pytest.raises(DatasetFileNotFoundError, match=names(path, r"data\[1\] \(question_id 34603\)", "not found")):
        read_textvqa(path, images)


# --- DocVQA -----------------------------------------------------------------------------------------------------


def _docvqa(root: Path, data: list[dict] | None = None) -> Path:
    if data is None:
        data = [
            {"questionId": 49153, "question": "What is the ‘actual’ value per 1000, during the year 1975?",
             "question_types": ["figure/diagram"], "image": "documents/pybv0228_81.png", "docId": 14465,
             "ucsf_document_id": "pybv0228", "ucsf_document_page_no": "81", "answers": ["0.28"],
             "data_split": "val"},
            {"questionId": 24580, "question": "What is name of university?", "question_types": ["others"],
             "image": "documents/nkbl0226_1.png", "docId": 7027, "ucsf_document_id": "nkbl0226",
             "ucsf_document_page_no": "1", "answers": ["university of california", "University of California"],
             "data_split": "val"},
        ]
    path = _json(root / "val/val_v1.0.json",
                 {"dataset_name": "docvqa", "dataset_split": "val", "dataset_version": "1.0", "data": data})
    _png(root / "val/documents/pybv0228_81.png", RED)
    _png(root / "val/documents/nkbl0226_1.png", BLUE)
    return path


def test_docvqa_reads_the_released_layout(tmp_path: Path) -> None:
    path = _docvqa(tmp_path)
    records = read_docvqa(path)
    assert [r.id for r in records] == ["49153", "24580"]
    assert records[1].image == (tmp_path / "val/documents/nkbl0226_1.png").resolve()
    assert records[1].answers == ("university of california", "University of California")
    assert dict(records[0].extra) == {"question_types": ("figure/diagram",), "docId": 14465,
                                      "ucsf_document_id": "pybv0228", "ucsf_document_page_no": "81",
                                      "data_split": "val"}
    assert read_docvqa(path, tmp_path / "val", limit=1) == records[:1]


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        (lambda d: d[0].update(image="../../secret.png"), UnsafeDatasetPathError,
         r"data\[0\] \(questionId 49153\): image '../../secret.png'.*escapes the dataset root"),
        (lambda d: d[0].update(image="/etc/passwd"), UnsafeDatasetPathError, r"data\[0\].*absolute path"),
        (lambda d: d[1].update(image="documents/missing.png"), DatasetFileNotFoundError,
         r"data\[1\] \(questionId 24580\): image file .*missing.png not found"),
        (lambda d: d[1].pop("answers"), DatasetFormatError, r"data\[1\].*'answers' missing.*DocVQA test split"),
        (lambda d: d[0].update(docId={"id": 1}), DatasetFormatError,
         r"data\[0\].*field 'docId' must be a string or a number"),
        (lambda d: d[0].update(question_types="others"), DatasetFormatError,
         r"data\[0\].*field 'question_types' must be a non-empty list of strings"),
        (lambda d: d[1].update(questionId=49153), DatasetFormatError, r"data\[1\].*duplicate questionId '49153'"),
    ],
)
def test_docvqa_malformed(tmp_path: Path, edit: Any, error: type[Exception], message: str) -> None:
    path = _docvqa(tmp_path)
    data = json.loads(path.read_text())["data"]
    edit(data)
    path = _docvqa(tmp_path, data)
    with pytest.raises(error, match=names(path, message)):
        read_docvqa(path)


def test_docvqa_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    path = _docvqa(tmp_path)
    outside = _png(tmp_path / "outside.png", GREEN)
    (tmp_path / "val/documents/pybv0228_81.png").unlink()
    (tmp_path / "val/documents/pybv0228_81.png").symlink_to(outside)
    with pytest.raises(UnsafeInputError, match=names(path, r"data\[0\].*escapes the dataset root")):
        read_docvqa(path)


# --- ChartQA ----------------------------------------------------------------------------------------------------


def _chartqa(root: Path, data: Any = None, name: str = "test_human") -> Path:
    if data is None:
        data = [
            {"imgname": "41699051005347.png", "query": "How many food item is shown in the bar graph?", "label": "14"},
            {"imgname": "41699051005347.png", "query": "What is the difference in value between Lamb and Corn?",
             "label": "0.57"},
            {"imgname": "8127.png", "query": "What's the value of the lowest bar?", "label": "23"},
        ]
    split = root / "ChartQA Dataset/test"
    _png(split / "png/41699051005347.png", RED)
    _png(split / "png/8127.png", GREEN)
    return _json(split / f"{name}.json", data)


def test_chartqa_reads_the_released_layout(tmp_path: Path) -> None:
    path = _chartqa(tmp_path)
    records = read_chartqa(path)
    assert [r.id for r in records] == ["test_human/0", "test_human/1", "test_human/2"]
    assert records[1].question == "What is the difference in value between Lamb and Corn?"
    assert records[1].answers == ("0.57",) and records[0].image == records[1].image
    assert dict(records[2].extra) == {"imgname": "8127.png", "subset": "human"}
    augmented = read_chartqa(_chartqa(tmp_path, name="test_augmented"), limit=1)
    assert augmented[0].id == "test_augmented/0" and augmented[0].extra["subset"] == "augmented"


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({"data": []}, DatasetFormatError, "expected a JSON list of question records, got dict"),
        ([{"imgname": "8127.png", "query": "q?", "label": 23}], DatasetFormatError,
         r"\[0\] \(8127.png\): field 'label' must be a string, got int"),
        ([{"imgname": "8127.png", "label": "1"}], DatasetFormatError, r"\[0\] \(8127.png\): field 'query'"),
        ([{"query": "q?", "label": "1"}], DatasetFormatError, r"\[0\]: field 'imgname' must be a string, got missing"),
        ([{"imgname": "../../../x.png", "query": "q?", "label": "1"}], UnsafeDatasetPathError, r"\[0\].*escapes"),
        ([{"imgname": "404.png", "query": "q?", "label": "1"}], DatasetFileNotFoundError, r"\[0\] \(404.png\).*not"),
        ([], DatasetFormatError, "no records"),
    ],
)
def test_chartqa_malformed(tmp_path: Path, data: Any, error: type[Exception], message: str) -> None:
    path = _chartqa(tmp_path, data)
    with pytest.raises(error, match=names(path, message)):
        read_chartqa(path)


def test_chartqa_missing_png_directory(tmp_path: Path) -> None:
    path = _json(tmp_path / "test_human.json", [])
    with pytest.raises(DatasetFileNotFoundError, match=names(tmp_path / "png", "not found")):
        read_chartqa(path)


# --- POPE -------------------------------------------------------------------------------------------------------


def _pope(root: Path, lines: list[str] | None = None, name: str = "coco_pope_adversarial.json") -> tuple[Path, Path]:
    if lines is None:
        lines = [json.dumps({"question_id": k, "image": image, "image_id": int(image[-10:-4]), "text": text,
                             "label": label})
                 for k, (image, text, label) in enumerate([
                     ("COCO_val2014_000000310196.jpg", "Is there a snowboard in the image?", "yes"),
                     ("COCO_val2014_000000310196.jpg", "Is there a dining table in the image?", "no"),
                     ("COCO_val2014_000000210789.jpg", "Is there a person in the image?", "yes"),
                 ], start=1)]
    images = root / "val2014"
    _jpeg(images / "COCO_val2014_000000310196.jpg", RED)
    _jpeg(images / "COCO_val2014_000000210789.jpg", BLUE)
    path = root / "output/coco" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path, images


def test_pope_reads_the_released_layout(tmp_path: Path) -> None:
    path, images = _pope(tmp_path)
    records = read_pope(path, images)
    assert [(r.id, r.answers) for r in records] == [("1", ("yes",)), ("2", ("no",)), ("3", ("yes",))]
    assert records[0].question == "Is there a snowboard in the image?"
    assert dict(records[2].extra) == {"image_id": 210789, "category": "adversarial"}
    assert records[2].image.name == "COCO_val2014_000000210789.jpg"


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        ('{"question_id": 9, "image": "COCO_val2014_000000310196.jpg", "text": "Is', DatasetFormatError,
         "line 2: invalid JSON at column"),
        ('["not", "an", "object"]', DatasetFormatError, "line 2: must be a JSON object, got list"),
        ('{"question_id": 1, "image": "COCO_val2014_000000310196.jpg", "text": "?", "label": "no"}', DatasetFormatError,
         "line 2 \\(question_id 1\\): duplicate question_id '1', first used by line 1"),
        ('{"question_id": 9, "image": "COCO_val2014_000000310196.jpg", "text": "?", "label": "maybe"}',
         DatasetFormatError, "line 2 \\(question_id 9\\): field 'label' must be 'yes' or 'no', got 'maybe'"),
        ('{"question_id": 9, "image": "COCO_val2014_000000310196.jpg", "label": "no"}', DatasetFormatError,
         "line 2 \\(question_id 9\\): field 'text' must be a string, got missing"),
        ('{"question_id": 9, "image": "../x.jpg", "text": "?", "label": "no"}', UnsafeDatasetPathError,
         "line 2 \\(question_id 9\\): image '../x.jpg'.*escapes"),
        ('{"question_id": 9, "image": "COCO_val2014_000000000001.jpg", "text": "?", "label": "no"}',
         DatasetFileNotFoundError, "line 2 \\(question_id 9\\): image file .*000000000001.jpg not found"),
    ],
)
def test_pope_malformed(tmp_path: Path, line: str, error: type[Exception], message: str) -> None:
    first = json.dumps({"question_id": 1, "image": "COCO_val2014_000000310196.jpg", "text": "?", "label": "yes"})
    path, images = _pope(tmp_path, [first, line])
    with pytest.raises(error, match=names(path, message)):
        read_pope(path, images)


def test_pope_not_utf8_and_missing(tmp_path: Path) -> None:
    path, images = _pope(tmp_path)
    with pytest.raises(DatasetFileNotFoundError, match=names(tmp_path / "coco_pope_random.json", "not found")):
        read_pope(tmp_path / "coco_pope_random.json", images)
    path.write_bytes(b'{"text": "\xff"}\n')
    with pytest.raises(DatasetFormatError, match=names(path, "not UTF-8 text")):
        read_pope(path, images)


# --- VLMEvalKit VQA TSV -----------------------------------------------------------------------------------------

TSV_HEADER = ["index", "image", "question", "answer", "category", "split"]


def _b64(color: tuple[int, int, int]) -> str:
    return base64.b64encode(png(color)).decode()


def _tsv_rows() -> list[list[str]]:
    return [
        ["0", _b64(RED), "what is the brand?", "['dakota', 'dakota digital', 'nous les gosses']", "brand", "human"],
        ["1", "0", "what color is it?", "red", "color", "augmented"],
        ["2", _b64(BLUE), "how many?", "[3, '3.0']", "count", "human"],
    ]


def _tsv(path: Path, rows: list[list[str]], header: list[str] = TSV_HEADER) -> Path:
    path.write_text("\n".join("\t".join(row) for row in [header, *rows]) + "\n", encoding="utf-8")
    return path


def test_vqa_tsv_reads_vlmevalkit_rows(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "TextVQA_VAL.tsv", _tsv_rows())
    records = read_vqa_tsv(path)
    assert [r.id for r in records] == ["0", "1", "2"]
    assert records[0].answers == ("dakota", "dakota digital", "nous les gosses")
    assert records[1].answers == ("red",) and records[2].answers == ("3", "3.0")
    assert records[1].image == records[0].image == png(RED)  # the reference reuses row 0's image
    assert dict(records[1].extra) == {"category": "color", "split": "augmented"}
    assert load_image(records[2]).getpixel((0, 0)) == BLUE
    assert [r.id for r in read_vqa_tsv(path, split="augmented")] == ["1"]  # its image is on a row filtered out
    assert [r.id for r in read_vqa_tsv(path, limit=2)] == ["0", "1"]


def test_vqa_tsv_answer_that_is_no_list_literal_is_one_answer(tmp_path: Path) -> None:
    rows = _tsv_rows()
    rows[1][3] = "[citation needed]"
    assert read_vqa_tsv(_tsv(tmp_path / "t.tsv", rows))[1].answers == ("[citation needed]",)


def test_vqa_tsv_image_path_column(tmp_path: Path) -> None:
    _png(tmp_path / "images/a.png", GREEN)
    path = _tsv(tmp_path / "p.tsv", [["7", "a.png", "q?", "yes"]], ["index", "image_path", "question", "answer"])
    (record,) = read_vqa_tsv(path, images=tmp_path / "images")
    assert record.image == (tmp_path / "images/a.png").resolve() and record.extra["image_path"] == "a.png"
    with pytest.raises(DatasetFormatError, match=names(path, "no 'image' column, so images=")):
        read_vqa_tsv(path)
    path = _tsv(tmp_path / "p.tsv", [["7", "../a.png", "q?", "yes"]], ["index", "image_path", "question", "answer"])
    with pytest.raises(UnsafeDatasetPathError, match=names(path, r"line 2 \(index 7\): image '../a.png'.*escapes")):
        read_vqa_tsv(path, images=tmp_path / "images")


@pytest.mark.parametrize(
    ("line", "column", "value", "error", "message"),
    [
        (3, "image", "42", DatasetFormatError, r"line 3 \(index 1\): field 'image': '42' is no base64 image and refers "
         "to no row's index"),
        (3, "image", "1", DatasetFormatError,
         r"line 3 \(index 1\): field 'image': refers to index 1 \(line 3\), whose"),
        (4, "image", "not*base64" * 10, ImageDecodeError, r"line 4 \(index 2\): field 'image': invalid base64"),
        (2, "image", "", DatasetFormatError, r"line 2 \(index 0\): field 'image' is empty"),
        (4, "image", "['" + "A" * 70 + "', 'B']", DatasetFormatError, r"line 4.*multi-image rows are not supported"),
        (2, "answer", "", DatasetFormatError, r"line 2 \(index 0\): field 'answer' is empty"),
        (2, "answer", "[]", DatasetFormatError, r"line 2 \(index 0\): field 'answer' is an empty list"),
        (2, "answer", "[['a'], 'b']", DatasetFormatError, r"line 2.*'answer' item 0 must be a string or a number"),
        (3, "question", " ", DatasetFormatError, r"line 3 \(index 1\): field 'question' is empty"),
        (4, "index", "0", DatasetFormatError, r"line 4 \(index 0\): duplicate index, first used on line 2"),
        (4, "index", "", DatasetFormatError, r"line 4: field 'index' is empty"),
    ],
)
def test_vqa_tsv_malformed(tmp_path: Path, line: int, column: str, value: str, error: type[Exception],
                           message: str) -> None:
    rows = _tsv_rows()
    rows[line - 2][TSV_HEADER.index(column)] = value
    path = _tsv(tmp_path / "bad.tsv", rows)
    with pytest.raises(error, match=names(path, message)):
        read_vqa_tsv(path)


def test_vqa_tsv_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetFileNotFoundError, match=names(tmp_path / "DocVQA_VAL.tsv", "not found")):
        read_vqa_tsv(tmp_path / "DocVQA_VAL.tsv")
    path = tmp_path / "e.tsv"
    path.write_text("")
    with pytest.raises(DatasetFormatError, match=names(path, "empty file, expected a header row")):
        read_vqa_tsv(path)
    _tsv(path, [r[:3] + r[4:] for r in _tsv_rows()], [h for h in TSV_HEADER if h != "answer"])
    with pytest.raises(DatasetFormatError, match=names(path, r"line 1: header lacks column\(s\) \['answer'\]")):
        read_vqa_tsv(path)
    _tsv(path, [r[1:] for r in _tsv_rows()[:1]], TSV_HEADER[1:])
    with pytest.raises(DatasetFormatError, match=names(path, r"lacks column\(s\) \['index'\]")):
        read_vqa_tsv(path)
    _tsv(path, [r[:-1] for r in _tsv_rows()], TSV_HEADER[:-1])
    with pytest.raises(DatasetFormatError, match=names(path, "split='human' given but the header has no 'split'")):
        read_vqa_tsv(path, split="human")
    _tsv(path, _tsv_rows())
    with pytest.raises(DatasetFormatError, match=names(path, "no rows with split 'dev'")):
        read_vqa_tsv(path, split="dev")
    path.write_text("\t".join(TSV_HEADER) + "\n0\tx\tq\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=names(path, "line 2: expected 6 tab-separated fields, got 3")):
        read_vqa_tsv(path)


# --- images are decoded only when read --------------------------------------------------------------------------


def test_images_are_decoded_only_when_read(tmp_path: Path) -> None:
    path, images = _textvqa(tmp_path)
    (images / "003a8ae2ef43b901.jpg").write_bytes(b"not a jpeg")
    (images / "00685bc495504d61.jpg").write_bytes(png_header_only(20_000, 20_000))
    broken, bomb = read_textvqa(path, images)  # parsing opens no image
    with pytest.raises(ImageDecodeError, match="record '34602': image .*003a8ae2ef43b901.jpg: cannot decode"):
        load_image(broken)
    with pytest.raises(UnsafeInputError, match="record '34603'.*decompression bomb"):
        load_image(bomb)
    with pytest.raises(ImageDecodeError, match="my label"):
        load_image(VQARecord("x", b"\x89PNG garbage", "q?", ("a",)), label="my label")


# --- content hash -----------------------------------------------------------------------------------------------


def test_content_hash_is_stable_and_sensitive(tmp_path: Path) -> None:
    q, a, images = _vqav2(tmp_path)
    base = content_hash(read_vqav2(q, a, images))
    assert content_hash(read_vqav2(q, a, images)) == base  # stable across reads
    assert len(base) == 64
    assert content_hash(read_vqav2(q, a, images, limit=2)) != base
    assert content_hash(read_vqav2(q, a, images), protocol="other") != base

    data = json.loads(a.read_text())
    data["annotations"][1]["answers"][9]["answer"] = "up"  # one of ten answers
    _json(a, data)
    edited = content_hash(read_vqav2(q, a, images))
    assert edited != base
    data["annotations"][1]["answers"][9]["answer"] = "down"
    data["annotations"][1]["answers"][9]["answer_confidence"] = "no"  # an extra field
    _json(a, data)
    assert content_hash(read_vqav2(q, a, images)) not in (base, edited)
    data["annotations"][1]["answers"][9]["answer_confidence"] = "yes"
    _json(a, data)
    assert content_hash(read_vqav2(q, a, images)) == base

    _jpeg(images / "COCO_val2014_000000393225.jpg", GREEN, (5, 4))  # image bytes
    assert content_hash(read_vqav2(q, a, images)) != base


def test_content_hash_does_not_depend_on_the_location(tmp_path: Path) -> None:
    first = content_hash(read_chartqa(_chartqa(tmp_path / "a")))
    assert content_hash(read_chartqa(_chartqa(tmp_path / "b"))) == first


def test_content_hash_of_embedded_images(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "t.tsv", _tsv_rows())
    base = content_hash(read_vqa_tsv(path))
    assert content_hash(read_vqa_tsv(path)) == base
    rows = _tsv_rows()
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (254, 0, 0)).save(buffer, format="PNG")
    rows[0][1] = base64.b64encode(buffer.getvalue()).decode()
    assert content_hash(read_vqa_tsv(_tsv(path, rows))) != base
    rows = _tsv_rows()
    rows[2][3] = "[3, '3']"
    assert content_hash(read_vqa_tsv(_tsv(path, rows))) != base


def test_content_hash_names_an_image_gone_since_reading(tmp_path: Path) -> None:
    path, images = _pope(tmp_path)
    records = read_pope(path, images)
    (images / "COCO_val2014_000000210789.jpg").unlink()
    with pytest.raises(DatasetFileNotFoundError, match="record '3': cannot read image .*000000210789.jpg"):
        content_hash(records)
