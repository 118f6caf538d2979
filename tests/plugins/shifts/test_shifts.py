"""Shift plugins resolve to the registered datasets with the right arguments (corpus shifts: test_corpus.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import imported_modules

from vleval.api import DatasetSpec, Shift, ShiftArgumentError
from vleval.testing import plugin_registry
from vleval_datasets.karpathy import KarpathyDataset
from vleval_datasets.mmbench import MMBenchDataset
from vleval_shifts.shifts import Flickr30kToMSCOCO, PairShift, ShiftConfigError

DATASETS = {"karpathy": KarpathyDataset, "mmbench": MMBenchDataset}


def _build(spec: DatasetSpec) -> Any:
    return DATASETS[spec.name](**spec.args)


def test_registration_reads_each_class_s_own_name_version_and_description() -> None:
    import vleval_shifts.plugin

    registered = plugin_registry(vleval_shifts.plugin).items["shift"]
    # the mini-* shifts are registered by vleval_corpus
    assert set(registered) == {"flickr30k->mscoco", "pair", "corruption", "restyle", "text-noise", "paraphrase"}
    for name, reg in registered.items():
        cls = reg.load()
        assert issubclass(cls, Shift) and (cls.name, cls.version, cls.description) == (name, "1.0.0", reg.description)
        assert reg.version == "1.0.0" and len(reg.description) > 20


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


def test_pair_shift() -> None:
    shift = PairShift(source={"name": "mmbench", "args": {"path": "a.tsv"}}, target={"name": "mmbench"})
    assert shift.source() == DatasetSpec("mmbench", {"path": "a.tsv"})
    assert shift.target() == DatasetSpec("mmbench", {})
    assert shift.calibration() is None
    calibrated = PairShift(source=DatasetSpec("x"), target=DatasetSpec("y"), calibration={"name": "z"})
    assert calibrated.calibration() == DatasetSpec("z")
    with pytest.raises(ShiftConfigError, match="argument 'target' is required"):
        PairShift(source={"name": "x"})
    with pytest.raises(ShiftArgumentError, match="argument 'source' must be a table"):
        PairShift(source="karpathy", target={"name": "x"})
    with pytest.raises(ShiftArgumentError, match=r"unknown key\(s\) \['split'\]"):
        PairShift(source={"name": "x", "split": "val"}, target={"name": "x"})
    with pytest.raises(ShiftArgumentError, match="target.args must be a table"):
        PairShift(source={"name": "x"}, target={"name": "x", "args": [1]})


def test_shifts_name_datasets_and_import_no_other_plugin() -> None:
    """Shifts refer to datasets by registered name only; from vleval they import just ``vleval.api``."""
    package = Path(importlib.util.find_spec("vleval_shifts").origin).parent
    imported = imported_modules(package)
    first_party = {m for m in imported if m.split(".")[0].startswith("vleval")}
    assert "vleval.api" in first_party
    assert all(m == "vleval.api" or m.startswith("vleval_shifts.") for m in first_party), first_party
