"""Captioning datasets: the ``karpathy`` loader's captioning view, the ``coco-captions`` loader (items, references,
content hash, every malformed case naming file and record) and the corpus shift's captioning specs.

Fixtures are written here in the real formats: a Karpathy JSON (``{"images": [{"filename", "split", "sentences"}]}``)
and a COCO caption JSON (``{"images": [{"id", "file_name"}], "annotations": [{"image_id", "id", "caption"}]}``), with
small PNGs of known colours; expected references are the captions the fixture wrote.
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import TESTS
from malformed_files import names, png

import vleval_datasets.plugin
from vleval.api import CaptionItem, DatasetSpec, RetrievalItem, ShiftArgumentError, Task, UnsafeInputError
from vleval.registry.discovery import PluginError
from vleval.testing import check_dataset, check_shift, plugin_registry
from vleval_datasets.coco import CocoCaptionsDataset
from vleval_datasets.errors import DatasetFileNotFoundError, DatasetFormatError, ImageDecodeError
from vleval_datasets.karpathy import KarpathyDataset

REGISTRY = plugin_registry(vleval_datasets.plugin)

# ------------------------------------------------------------------------------------------- karpathy captioning

#: (filename, split, number of captions): the test images have 5, 6 and 7 captions.
KARPATHY = [("a.png", "test", 5), ("b.png", "val", 5), ("c.png", "test", 6), ("d.png", "test", 7)]


def _raw(i: int, j: int) -> str:
    return f"image {i} caption {j}"


def _karpathy_files(root: Path) -> tuple[Path, Path]:
    images = root / "images"
    images.mkdir(parents=True)
    records = []
    for i, (filename, split, count) in enumerate(KARPATHY):
        (images / filename).write_bytes(png((30 * i, 100, 0)))
        records.append({"filename": filename, "split": split, "imgid": i,
                        "sentences": [{"raw": f" {_raw(i, j)} ", "tokens": []} for j in range(count)]})
    annotations = root / "dataset_toy.json"
    annotations.write_text(json.dumps({"images": records, "dataset": "toy"}))
    return annotations, images


@pytest.fixture
def karpathy(tmp_path: Path) -> tuple[Path, Path]:
    return _karpathy_files(tmp_path / "karpathy")


def test_karpathy_captioning_items_carry_every_caption(karpathy: tuple[Path, Path]) -> None:
    data = KarpathyDataset(*karpathy, task="captioning")
    assert data.task is Task.CAPTIONING and data.id == "karpathy:toy/test/captioning"
    test = [(i, name, count) for i, (name, split, count) in enumerate(KARPATHY) if split == "test"]
    assert len(data) == len(test)
    for item, (i, name, count) in zip(data, test, strict=True):
        assert isinstance(item, CaptionItem) and item.id == name
        assert item.references == [_raw(i, j) for j in range(count)]  # stripped, in file order
        assert item.image.mode == "RGB" and item.image.getpixel((0, 0)) == (30 * i, 100, 0)
    assert data.describe()["captions"] == 5 + 6 + 7 and data.describe()["captions_per_image"] == "all"
    assert data.describe()["task"] == "captioning"
    check_dataset(data, name="karpathy", fresh=lambda: KarpathyDataset(*karpathy, task="captioning"),
                  modified=lambda: KarpathyDataset(*karpathy, task="captioning", split="val"))


def test_karpathy_captioning_respects_captions_per_image(karpathy: tuple[Path, Path]) -> None:
    first2 = KarpathyDataset(*karpathy, task="captioning", captions_per_image=2)
    assert [item.references for item in first2] == [[_raw(i, 0), _raw(i, 1)] for i in (0, 2, 3)]
    assert KarpathyDataset(*karpathy, task="captioning", captions_per_image=0).describe()["captions"] == 18
    with pytest.raises(DatasetFormatError, match=names(karpathy[0], r"images\[0\] \(a\.png\): has 5 captions, "
                                                       "fewer than captions_per_image=6")):
        KarpathyDataset(*karpathy, task="captioning", captions_per_image=6)


def test_karpathy_retrieval_default_unchanged(karpathy: tuple[Path, Path]) -> None:
    retrieval = KarpathyDataset(*karpathy)
    assert retrieval.task is Task.RETRIEVAL and retrieval.id == "karpathy:toy/test"
    assert all(isinstance(item, RetrievalItem) and len(item.captions) == 5 for item in retrieval)
    assert "task" not in retrieval.describe()
    explicit = KarpathyDataset(*karpathy, task="retrieval", captions_per_image=5)
    assert explicit.content_hash() == retrieval.content_hash() and explicit.id == retrieval.id


def test_karpathy_task_is_part_of_the_content_hash(karpathy: tuple[Path, Path], tmp_path: Path) -> None:
    captioning = KarpathyDataset(*karpathy, task="captioning")
    same_captions = KarpathyDataset(*karpathy, captions_per_image="all")  # retrieval over the very same captions
    assert len({captioning.content_hash(), same_captions.content_hash()}) == 2
    assert KarpathyDataset(*karpathy, task=Task.CAPTIONING).content_hash() == captioning.content_hash()
    assert KarpathyDataset(*karpathy, task="captioning", captions_per_image=5).content_hash() != \
        captioning.content_hash()
    other = _karpathy_files(tmp_path / "copy")  # identical bytes elsewhere: the same hash
    assert KarpathyDataset(*other, task="captioning").content_hash() == captioning.content_hash()
    (other[1] / "d.png").write_bytes(png((1, 2, 3)))
    assert KarpathyDataset(*other, task="captioning").content_hash() != captioning.content_hash()


@pytest.mark.parametrize("task", ["generation", "Captioning", "", None, 1, Task.MULTIPLE_CHOICE])
def test_karpathy_unknown_task(karpathy: tuple[Path, Path], task: Any) -> None:
    with pytest.raises(DatasetFormatError, match=r"karpathy: task must be one of \['captioning', 'retrieval'\]"):
        KarpathyDataset(*karpathy, task=task)


def test_karpathy_captioning_image_without_captions(karpathy: tuple[Path, Path]) -> None:
    annotations, images = karpathy
    data = json.loads(annotations.read_text())
    data["images"][2]["sentences"] = []
    annotations.write_text(json.dumps(data))
    with pytest.raises(DatasetFormatError, match=names(annotations, r"images\[2\] \(c\.png\): has no captions")):
        KarpathyDataset(annotations, images, task="captioning")


def test_registry_creates_the_captioning_view(karpathy: tuple[Path, Path]) -> None:
    args = {"annotations": str(karpathy[0]), "images": str(karpathy[1]), "task": "captioning"}
    assert REGISTRY.create("dataset", "karpathy", args).task is Task.CAPTIONING


# ------------------------------------------------------------------------------------------------- coco-captions

#: Images (id, file_name, colour) and their captions; annotations are interleaved across images in the file.
COCO_IMAGES = [(391895, "COCO_val2014_000000391895.png", (200, 0, 0)), (522418, "sub/COCO_522418.png", (0, 200, 0)),
               (184613, "COCO_val2014_000000184613.png", (0, 0, 200))]
COCO_CAPTIONS = {391895: ["A man rides a bike.", "A cyclist on a dirt road."],
                 522418: ["A woman cuts a cake.", " Someone slicing cake \n", "A kitchen scene."],
                 184613: ["A boy and a cow."]}


def _coco_data() -> dict[str, Any]:
    order = [(391895, 0), (522418, 0), (184613, 0), (522418, 1), (391895, 1), (522418, 2)]
    return {"info": {"year": 2014}, "licenses": [],
            "images": [{"id": i, "file_name": f, "width": 8, "height": 8} for i, f, _ in COCO_IMAGES],
            "annotations": [{"image_id": i, "id": 1000 + n, "caption": COCO_CAPTIONS[i][k]}
                            for n, (i, k) in enumerate(order)]}


def _coco_files(root: Path, data: dict[str, Any] | None = None) -> tuple[Path, Path]:
    images = root / "val2014"
    for _, file_name, colour in COCO_IMAGES:
        (images / file_name).parent.mkdir(parents=True, exist_ok=True)
        (images / file_name).write_bytes(png(colour))
    annotations = root / "captions_val2014.json"
    annotations.write_text(json.dumps(_coco_data() if data is None else data))
    return annotations, images


@pytest.fixture
def coco(tmp_path: Path) -> tuple[Path, Path]:
    return _coco_files(tmp_path / "coco")


def test_coco_items_and_references(coco: tuple[Path, Path]) -> None:
    data = CocoCaptionsDataset(*coco)
    assert data.task is Task.CAPTIONING and data.id == "coco-captions:captions_val2014" and len(data) == 3
    for item, (image_id, _, colour) in zip(data, COCO_IMAGES, strict=True):
        assert isinstance(item, CaptionItem) and item.id == str(image_id)
        assert item.references == [c.strip() for c in COCO_CAPTIONS[image_id]]  # annotation order, stripped
        assert item.image.mode == "RGB" and item.image.getpixel((4, 4)) == colour
    assert data.describe() == {"annotations": str(coco[0]), "images": str(coco[1]), "dataset": "captions_val2014",
                               "size": 3, "images_in_file": 3, "limit": None, "captions": 6}
    check_dataset(data, name="coco-captions", fresh=lambda: CocoCaptionsDataset(*coco),
                  modified=lambda: CocoCaptionsDataset(*coco, limit=2))


def test_coco_limit_and_name(coco: tuple[Path, Path]) -> None:
    data = CocoCaptionsDataset(*coco, limit=2, name="coco-val")
    assert [item.id for item in data] == ["391895", "522418"] and data.id == "coco-captions:coco-val"
    assert data.describe()["captions"] == 5 and data.describe()["images_in_file"] == 3
    assert len(CocoCaptionsDataset(*coco, limit=10)) == 3


def test_coco_content_hash_stability_and_sensitivity(coco: tuple[Path, Path], tmp_path: Path) -> None:
    annotations, images = coco
    full, first2 = CocoCaptionsDataset(*coco).content_hash(), CocoCaptionsDataset(*coco, limit=2).content_hash()
    assert full != first2
    assert CocoCaptionsDataset(*_coco_files(tmp_path / "copy")).content_hash() == full  # same bytes, other place
    (images / COCO_IMAGES[2][1]).write_bytes(png((9, 9, 9)))  # an image beyond the limit: not hashed with limit=2
    assert CocoCaptionsDataset(*coco, limit=2).content_hash() == first2
    assert CocoCaptionsDataset(*coco).content_hash() != full
    changed = _coco_data()
    changed["annotations"][3]["caption"] = "A woman cuts a pie."
    annotations.write_text(json.dumps(changed))
    assert CocoCaptionsDataset(*coco, limit=2).content_hash() != first2


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit of the COCO data: ``"images.1.id"`` -> ``data["images"][1]["id"] = value`` (``...`` deletes)."""
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]

    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for key in parents:
            node = node[key]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return edit


def _edit(*edits: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(_coco_data())
    for edit in edits:
        edit(data)
    return data


IMG1 = r"images\[1\] \(id 522418, sub/COCO_522418\.png\)"
MALFORMED = {
    "images not a list": (_edit(_set("images", {})), r"top-level field 'images' must be a list"),
    "images missing": (_edit(_set("images", ...)), r"top-level field 'images' must be a list"),
    "images empty": (_edit(_set("images", [])), r"'images' is empty"),
    "annotations missing": (_edit(_set("annotations", ...)), r"top-level field 'annotations' must be a list"),
    "image not an object": (_edit(_set("images.1", "x.png")), r"images\[1\] must be an object, got str"),
    "image id missing": (_edit(_set("images.1.id", ...)), r"images\[1\]: field 'id' missing or not an integer"),
    "image id a bool": (_edit(_set("images.1.id", True)), r"images\[1\]: field 'id' missing or not an integer"),
    "image id a float": (_edit(_set("images.1.id", 1.5)), r"images\[1\]: field 'id' missing or not an integer"),
    "file_name missing": (_edit(_set("images.1.file_name", ...)),
                          r"images\[1\] \(id 522418\): field 'file_name' missing or not a string"),
    "file_name a number": (_edit(_set("images.1.file_name", 7)),
                           r"images\[1\] \(id 522418\): field 'file_name' missing or not a string"),
    "duplicate image id": (_edit(_set("images.2.id", 522418)),
                           r"images\[2\] \(id 522418, .*\): duplicate image id, first used by images\[1\]"),
    "duplicate file_name": (_edit(_set("images.2.file_name", "sub/COCO_522418.png")),
                            r"images\[2\] .*: file 'sub/COCO_522418\.png' listed twice, first as images\[1\]"),
    "annotation not an object": (_edit(_set("annotations.4", [1])), r"annotations\[4\] must be an object, got list"),
    "annotation id missing": (_edit(_set("annotations.4.id", ...)), r"annotations\[4\]: field 'id' missing"),
    "duplicate annotation id": (_edit(_set("annotations.4.id", 1001)),
                                r"annotations\[4\] \(id 1001\): duplicate annotation id, first used by "
                                r"annotations\[1\]"),
    "image_id missing": (_edit(_set("annotations.4.image_id", ...)),
                         r"annotations\[4\] \(id 1004\): field 'image_id' missing"),
    "caption missing": (_edit(_set("annotations.4.caption", ...)),
                        r"annotations\[4\] \(id 1004\): field 'caption' missing, not a string or empty"),
    "caption not a string": (_edit(_set("annotations.4.caption", ["a"])),
                             r"annotations\[4\] \(id 1004\): field 'caption' missing, not a string or empty"),
    "caption blank": (_edit(_set("annotations.4.caption", "  \n")),
                      r"annotations\[4\] \(id 1004\): field 'caption' missing, not a string or empty"),
    "unknown image": (_edit(_set("annotations.4.image_id", 999)),
                      r"annotations\[4\] \(id 1004\): image_id 999 is not the id of any record in 'images'$"),
    "image_id of another type": (_edit(_set("annotations.4.image_id", "391895")),
                                 r"image_id '391895' is not the id .*1 and \"1\" differ"),
    "image without captions": (_edit(lambda d: d.update(annotations=[a for a in d["annotations"]
                                                                     if a["image_id"] != 522418])),
                               IMG1 + r": has no caption in 'annotations'"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_coco_malformed_file_names_file_and_record(tmp_path: Path, case: str) -> None:
    data, pattern = MALFORMED[case]
    annotations, images = _coco_files(tmp_path, data)
    with pytest.raises(DatasetFormatError, match=names(annotations, pattern)) as caught:
        CocoCaptionsDataset(annotations, images)
    assert type(caught.value) is DatasetFormatError


@pytest.mark.parametrize(("file_name", "why"), [("../outside.png", "escapes the dataset root"),
                                                ("/etc/passwd", "absolute path")])
def test_coco_path_traversal_refused(tmp_path: Path, file_name: str, why: str) -> None:
    annotations, images = _coco_files(tmp_path, _edit(_set("images.0.file_name", file_name)))
    (tmp_path / "outside.png").write_bytes(png((1, 1, 1)))
    with pytest.raises(UnsafeInputError, match=names(annotations, r"images\[0\] \(id 391895, ", why)):
        CocoCaptionsDataset(annotations, images)


def test_coco_missing_files(coco: tuple[Path, Path], tmp_path: Path) -> None:
    annotations, images = coco
    (images / COCO_IMAGES[1][1]).unlink()
    with pytest.raises(DatasetFileNotFoundError, match=names(annotations, r"1 image file\(s\) not found under", IMG1)):
        CocoCaptionsDataset(*coco)
    assert len(CocoCaptionsDataset(*coco, limit=1)) == 1  # the missing image is not among those kept
    with pytest.raises(DatasetFileNotFoundError, match=names(tmp_path / "none.json", "not found")):
        CocoCaptionsDataset(tmp_path / "none.json", images)
    with pytest.raises(DatasetFileNotFoundError, match=names(tmp_path / "nowhere", "not found")):
        CocoCaptionsDataset(annotations, tmp_path / "nowhere")


@pytest.mark.parametrize(("content", "pattern"), [("{\"images\": [", r"invalid JSON at line 1 column"),
                                                  ("[1, 2]", r"expected a JSON object"),
                                                  (b"\xff\xfe{}", r"not UTF-8 text")])
def test_coco_unreadable_json(coco: tuple[Path, Path], content: str | bytes, pattern: str) -> None:
    annotations, images = coco
    annotations.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DatasetFormatError, match=names(annotations, pattern)):
        CocoCaptionsDataset(annotations, images)


@pytest.mark.parametrize("limit", [0, -1, "2", True, 1.0])
def test_coco_invalid_limit(coco: tuple[Path, Path], limit: Any) -> None:
    with pytest.raises(DatasetFormatError, match=r"coco-captions: limit must be an integer >= 1 or None"):
        CocoCaptionsDataset(*coco, limit=limit)


def test_coco_corrupt_image_fails_when_read(coco: tuple[Path, Path]) -> None:
    annotations, images = coco
    (images / COCO_IMAGES[1][1]).write_bytes(b"not a png")
    data = CocoCaptionsDataset(annotations, images)
    assert data[0].id == "391895"
    with pytest.raises(ImageDecodeError, match=names(annotations, r"images\[1\] \(id 522418\)", "cannot decode")):
        data[1]


def test_coco_registered_and_arguments_checked(coco: tuple[Path, Path]) -> None:
    args = {"annotations": str(coco[0]), "images": str(coco[1]), "limit": 1}
    data = REGISTRY.create("dataset", "coco-captions", args)
    assert isinstance(data, CocoCaptionsDataset) and len(data) == 1
    with pytest.raises(PluginError, match=r"dataset 'coco-captions': arguments .*'split'.* do not fit"):
        REGISTRY.create("dataset", "coco-captions", {**args, "split": "val"})


# ---------------------------------------------------------------------------------------- corpus captioning view


def test_corpus_shift_captioning_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vleval_corpus.plugin
    from vleval_corpus import generate
    from vleval_corpus.shifts import MiniFlickrToMiniCOCO

    for name, value in (("FLICKR_SPLITS", {"train": 4, "val": 3, "test": 4}),
                        ("COCO_SPLITS", {"train": 2, "val": 2, "test": 3}),
                        ("MMBENCH_QUESTIONS", 2), ("MMBENCH_VAL_QUESTIONS", 2)):
        monkeypatch.setattr(generate, name, value)
    retrieval = MiniFlickrToMiniCOCO(seed=3, cache_dir=tmp_path)
    captioning = MiniFlickrToMiniCOCO(seed=3, cache_dir=tmp_path, task="captioning")
    for method in ("source", "target", "calibration"):
        plain, spec = getattr(retrieval, method)(), getattr(captioning, method)()
        assert set(plain.args) == {"annotations", "images", "split"}  # the default adds no argument
        assert spec == DatasetSpec("karpathy", {**plain.args, "task": "captioning"})
    assert MiniFlickrToMiniCOCO(seed=3, cache_dir=tmp_path, task="retrieval").source() == retrieval.source()
    registry = plugin_registry(vleval_datasets.plugin, vleval_corpus.plugin)
    check_shift(captioning, name="mini-flickr30k->mini-mscoco", registry=registry, create=True)
    source = registry.create("dataset", "karpathy", captioning.source().args)
    records = [r for r in json.loads(Path(captioning.source().args["annotations"]).read_text())["images"]
               if r["split"] == "test"]
    assert source.task is Task.CAPTIONING and len(source) == len(records) == 4
    for item, record in zip(source, records, strict=True):
        assert item.references == [s["raw"].strip() for s in record["sentences"]] and len(item.references) == 5
    shift = registry.create("shift", "mini-flickr30k->mini-mscoco", {"task": "captioning", "seed": 3,
                                                                     "cache_dir": str(tmp_path)})
    assert shift.target() == captioning.target()


@pytest.mark.parametrize("task", ["generation", "", None])
def test_corpus_shift_unknown_task(task: Any) -> None:
    from vleval_corpus.shifts import MiniFlickrToMiniCOCO

    with pytest.raises(ShiftArgumentError, match=r"shift 'mini-flickr30k->mini-mscoco': argument 'task' must be "
                                                 r"one of \['retrieval', 'captioning'\]"):
        MiniFlickrToMiniCOCO(task=task)


@pytest.mark.slow
def test_plugins_verbose_lists_the_task_arguments() -> None:
    env = {**os.environ, "VLEVAL_LOAD_PLUGINS": "datasets,corpus"}
    proc = subprocess.run([sys.executable, "-m", "vleval.cli", "plugins", "--verbose", "--json"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row["arguments"] for row in json.loads(proc.stdout)["plugins"]}
    assert {"name": "task", "default": "retrieval"} in rows["mini-flickr30k->mini-mscoco"]
    assert {"name": "task", "default": "retrieval"} in rows["karpathy"]
    assert [a["name"] for a in rows["coco-captions"]] == ["annotations", "images", "limit", "name", "max_pixels"]


def test_docs_cover_the_captioning_arguments() -> None:
    doc = (TESTS.parent / "docs" / "datasets-and-metrics.md").read_text()
    section = re.search(r"^### coco-captions\b(.*?)(?=^##+ |\Z)", doc, flags=re.M | re.S)
    assert section is not None
    for argument in inspect.signature(CocoCaptionsDataset).parameters:
        assert f"| `{argument}` |" in section.group(1), argument
    view = re.search(r"^#### The captioning view$(.*?)(?=^##+ |\Z)", doc, flags=re.M | re.S)
    assert view is not None and "`task = \"captioning\"`" in view.group(1) and "mini-flickr30k->mini-mscoco" in \
        view.group(1)
