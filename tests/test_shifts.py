"""Shift plugins resolve to the registered datasets with the right arguments."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pluggy
import pytest

import vleval.hookspecs
from vleval.api import DatasetSpec, Shift
from vleval_datasets import corpus
from vleval_datasets.karpathy import KarpathyDataset
from vleval_datasets.mmbench import MMBenchDataset
from vleval_shifts.shifts import (
    Flickr30kToMSCOCO,
    MiniFlickrToMiniCOCO,
    MiniNaturalToSynthetic,
    PairShift,
    ShiftConfigError,
)

DATASETS = {"karpathy": KarpathyDataset, "mmbench": MMBenchDataset}


def _build(spec: DatasetSpec) -> Any:
    return DATASETS[spec.name](**spec.args)


def _registered() -> dict[str, tuple[Any, dict[str, Any]]]:
    import vleval_shifts.plugin

    manager = pluggy.PluginManager(vleval.hookspecs.PROJECT)
    manager.add_hookspecs(vleval.hookspecs)
    manager.register(vleval_shifts.plugin)
    seen: dict[str, tuple[Any, dict[str, Any]]] = {}
    manager.hook.register_shifts(register=lambda factory, **kw: seen.setdefault(kw["name"], (factory, kw)))
    return seen


def _resolve(factory: str) -> Any:
    module, attribute = factory.split(":")
    return getattr(importlib.import_module(module), attribute)


def test_registration() -> None:
    seen = _registered()
    assert set(seen) == {"flickr30k->mscoco", "mini-flickr30k->mini-mscoco", "mini-natural->synthetic", "pair"}
    for name, (factory, kw) in seen.items():
        cls = _resolve(factory)
        assert issubclass(cls, Shift) and cls.name == name
        assert kw["version"] == "1.0.0" and kw["description"] == cls.description


def _karpathy_files(tmp_path: Path, name: str, filepath: str | None) -> tuple[Path, Path]:
    from PIL import Image

    images = tmp_path / f"{name}-images"
    records = []
    for imgid, split in enumerate(("train", "val", "test", "test")):
        filename = f"{name}{imgid}.jpg"
        folder = images / filepath if filepath else images
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (2, 2), (imgid, 0, 0)).save(folder / filename, format="PNG")
        record = {"filename": filename, "split": split, "imgid": imgid,
                  "sentences": [{"raw": f"{name} {imgid} {j}", "tokens": []} for j in range(5)]}
        if filepath:
            record.update(filepath=filepath, cocoid=imgid)
        records.append(record)
    annotations = tmp_path / f"dataset_{name}.json"
    annotations.write_text(json.dumps({"images": records, "dataset": name}))
    return annotations, images


def test_flickr30k_to_mscoco(tmp_path: Path) -> None:
    f_ann, f_img = _karpathy_files(tmp_path, "flickr30k", None)
    c_ann, c_img = _karpathy_files(tmp_path, "coco", "val2014")
    shift = Flickr30kToMSCOCO(flickr30k_annotations=str(f_ann), flickr30k_images=str(f_img),
                              mscoco_annotations=str(c_ann), mscoco_images=str(c_img))
    assert shift.source() == DatasetSpec("karpathy", {"annotations": str(f_ann), "images": str(f_img),
                                                      "split": "test", "captions_per_image": 5})
    assert shift.target().args["annotations"] == str(c_ann) and shift.target().args["split"] == "test"
    assert shift.calibration().args["split"] == "val" and shift.calibration().args["annotations"] == str(f_ann)
    source, target, calibration = (_build(s) for s in (shift.source(), shift.target(), shift.calibration()))
    assert (source.id, len(source)) == ("karpathy:flickr30k/test", 2)
    assert (target.id, len(target)) == ("karpathy:coco/test", 2)
    assert target[0].id == "val2014/coco2.jpg"
    assert (calibration.id, len(calibration)) == ("karpathy:flickr30k/val", 1)


def test_flickr30k_to_mscoco_errors(tmp_path: Path) -> None:
    f_ann, f_img = _karpathy_files(tmp_path, "flickr30k", None)
    with pytest.raises(ShiftConfigError, match="argument 'flickr30k_annotations' is required.*dataset_flickr30k.json"):
        Flickr30kToMSCOCO()
    with pytest.raises(ShiftConfigError, match="argument 'mscoco_annotations' is required.*dataset_coco.json"):
        Flickr30kToMSCOCO(flickr30k_annotations=f_ann, flickr30k_images=f_img)
    with pytest.raises(ShiftConfigError, match="'flickr30k_images' = '.*nowhere' is not an existing directory"):
        Flickr30kToMSCOCO(flickr30k_annotations=f_ann, flickr30k_images=tmp_path / "nowhere")
    with pytest.raises(ShiftConfigError, match="'flickr30k_annotations' = .* is not an existing file"):
        Flickr30kToMSCOCO(flickr30k_annotations=f_img, flickr30k_images=f_img)


@pytest.fixture
def small_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "FLICKR_SPLITS", {"train": 10, "val": 4, "test": 6})
    monkeypatch.setattr(corpus, "COCO_SPLITS", {"train": 4, "val": 3, "test": 5})
    monkeypatch.setattr(corpus, "MMBENCH_QUESTIONS", 5)
    monkeypatch.setattr(corpus, "MMBENCH_VAL_QUESTIONS", 3)


def test_corpus_shifts(tmp_path: Path, small_corpus: None) -> None:
    retrieval = MiniFlickrToMiniCOCO(seed=2, cache_dir=str(tmp_path))
    root = tmp_path / "corpus-v1-seed2"
    assert not root.exists()  # generated on first use, not at construction
    assert retrieval.source() == DatasetSpec("karpathy", {
        "annotations": str(root / "mini-flickr30k" / "dataset_flickr30k.json"),
        "images": str(root / "mini-flickr30k" / "images"), "split": "test"})
    source, target, calibration = (_build(s) for s in (retrieval.source(), retrieval.target(),
                                                       retrieval.calibration()))
    assert (source.id, len(source)) == ("karpathy:mini-flickr30k/test", 6)
    assert (target.id, len(target)) == ("karpathy:mini-mscoco/test", 5)
    assert (calibration.id, len(calibration)) == ("karpathy:mini-flickr30k/val", 4)

    mc = MiniNaturalToSynthetic(seed=2, cache_dir=tmp_path)
    assert mc.source() == DatasetSpec("mmbench", {"path": str(root / "mini-mmbench-natural.tsv")})
    source, target, calibration = (_build(s) for s in (mc.source(), mc.target(), mc.calibration()))
    assert (source.id, len(source)) == ("mmbench:mini-mmbench-natural", 20)
    assert (target.id, len(target)) == ("mmbench:mini-mmbench-synthetic", 20)
    assert (calibration.id, len(calibration)) == ("mmbench:mini-mmbench-natural-val", 12)


def test_pair_shift() -> None:
    shift = PairShift(source={"name": "mmbench", "args": {"path": "a.tsv"}}, target={"name": "mmbench"})
    assert shift.source() == DatasetSpec("mmbench", {"path": "a.tsv"})
    assert shift.target() == DatasetSpec("mmbench", {})
    assert shift.calibration() is None
    calibrated = PairShift(source=DatasetSpec("x"), target=DatasetSpec("y"), calibration={"name": "z"})
    assert calibrated.calibration() == DatasetSpec("z")
    with pytest.raises(ShiftConfigError, match="argument 'target' is required"):
        PairShift(source={"name": "x"})
    with pytest.raises(ShiftConfigError, match="argument 'source' must be a table"):
        PairShift(source="karpathy", target={"name": "x"})
    with pytest.raises(ShiftConfigError, match=r"unknown key\(s\) \['split'\]"):
        PairShift(source={"name": "x", "split": "val"}, target={"name": "x"})
    with pytest.raises(ShiftConfigError, match="target.args must be a table"):
        PairShift(source={"name": "x"}, target={"name": "x", "args": [1]})
