"""The offline corpus plugin: deterministic, atomic, cached safely, readable by the real-format loaders; its shifts."""

from __future__ import annotations

import colorsys
import hashlib
import importlib.util
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from conftest import imported_modules
from PIL import Image

from vleval.api import DatasetSpec, Shift
from vleval.testing import plugin_registry
from vleval_corpus import captions, generate, questions, scenes
from vleval_corpus.assets import Assets
from vleval_corpus.cache import CorpusError, CorpusPaths, default_corpus_dir, ensure_corpus
from vleval_corpus.captions import caption_vocabulary
from vleval_corpus.shifts import MiniFlickrToMiniCOCO, MiniNaturalToSynthetic
from vleval_datasets.karpathy import KarpathyDataset
from vleval_datasets.mmbench import MMBenchDataset

PACKAGE = Path(importlib.util.find_spec("vleval_corpus").origin).parent


@pytest.fixture(autouse=True)
def _no_user_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may write to ``~/.cache/vleval``: the default cache is a temporary directory."""
    monkeypatch.setenv("VLEVAL_CACHE", str(tmp_path_factory.mktemp("vleval-cache")))


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> CorpusPaths:
    """The default-size corpus for seed 0 (generated once for this module)."""
    return ensure_corpus(tmp_path_factory.mktemp("corpus") / "seed0", seed=0)


def _shrink(monkeypatch: pytest.MonkeyPatch, flickr: dict, coco: dict, questions: int, val_questions: int) -> None:
    monkeypatch.setattr(generate, "FLICKR_SPLITS", flickr)
    monkeypatch.setattr(generate, "COCO_SPLITS", coco)
    monkeypatch.setattr(generate, "MMBENCH_QUESTIONS", questions)
    monkeypatch.setattr(generate, "MMBENCH_VAL_QUESTIONS", val_questions)


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the corpus so that tests that generate several stay fast."""
    _shrink(monkeypatch, {"train": 30, "val": 6, "test": 6}, {"train": 8, "val": 4, "test": 6}, 8, 4)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path, small: None) -> None:
    a = _digest(ensure_corpus(tmp_path / "a", seed=3).root)
    b = _digest(ensure_corpus(tmp_path / "b", seed=3).root)
    c = _digest(ensure_corpus(tmp_path / "c", seed=4).root)
    assert a == b
    assert len(a) == 42 + 18 + 2 + 3 + 1  # images, annotation files, TSVs, manifest
    for name in ("corpus.json", "mini-flickr30k/dataset_flickr30k.json", "mini-mscoco/dataset_coco.json",
                 "mini-mmbench-natural.tsv", "mini-mmbench-synthetic.tsv", "mini-mmbench-natural-val.tsv"):
        assert a[name] != c[name], name
    shared = set(a) & set(c)
    assert sum(a[name] == c[name] for name in shared) <= 1  # the images differ
    assert json.loads((tmp_path / "c" / "corpus.json").read_text())["seed"] == 4


def test_reuse_and_refusals(tmp_path: Path, small: None) -> None:
    stale = tmp_path / ".c.tmp-999999999-0a1b2c3d"  # left by a killed run (no such pid)
    (stale / "mini-flickr30k").mkdir(parents=True)
    os.utime(stale, (1, 1))
    paths = ensure_corpus(tmp_path / "c", seed=0)
    assert not stale.exists()
    stamp = paths.mmbench_natural.stat().st_mtime_ns
    assert ensure_corpus(tmp_path / "c", seed=0) == paths  # reused, not regenerated
    assert paths.mmbench_natural.stat().st_mtime_ns == stamp
    with pytest.raises(CorpusError, match="seed 0, not seed 1"):
        ensure_corpus(tmp_path / "c", seed=1)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(CorpusError, match="not a complete vleval corpus"):
        ensure_corpus(other)
    assert (other / "notes.txt").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ensure_corpus(empty).mmbench_synthetic.is_file()


def test_interrupted_generation_leaves_nothing(tmp_path: Path, small: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(generate, "write_tsv", boom)
    with pytest.raises(KeyboardInterrupt):
        ensure_corpus(tmp_path / "c", seed=0)
    assert list(tmp_path.iterdir()) == []


def test_default_dir_and_progress(tmp_path: Path, small: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLEVAL_CACHE", str(tmp_path / "cache"))
    assert default_corpus_dir(7) == tmp_path / "cache" / "corpus-v1-seed7"
    assert default_corpus_dir(7, cache_dir=tmp_path) == tmp_path / "corpus-v1-seed7"
    calls: list[tuple[str, int, int]] = []
    paths = ensure_corpus(seed=7, progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert paths.root == tmp_path / "cache" / "corpus-v1-seed7"
    assert ("mini-flickr30k", 42, 42) in calls and ("mini-mscoco", 18, 18) in calls
    home = tmp_path / "home"
    monkeypatch.delenv("VLEVAL_CACHE")
    monkeypatch.setenv("HOME", str(home))  # the default location is computed, never created or written
    assert default_corpus_dir(0) == home / ".cache" / "vleval" / "corpus-v1-seed0"
    assert not home.exists()


def test_karpathy_files_read_by_loader(full: CorpusPaths) -> None:
    vocabulary = set(caption_vocabulary())
    for ann, images, sizes in ((full.flickr_annotations, full.flickr_images, generate.FLICKR_SPLITS),
                               (full.coco_annotations, full.coco_images, generate.COCO_SPLITS)):
        for split, size in sizes.items():
            data = KarpathyDataset(ann, images, split=split)
            assert len(data) == size
        item = data[0]
        assert item.image.size == (32, 32) and item.image.mode == "RGB"
        assert len(item.captions) == 5 and len(set(item.captions)) == 5
        raw = json.loads(ann.read_text())
        sentids = [s["sentid"] for record in raw["images"] for s in record["sentences"]]
        assert sentids == list(range(len(sentids)))
        for record in raw["images"][:200]:
            assert record["sentids"] == [s["sentid"] for s in record["sentences"]]
            for sentence in record["sentences"]:
                assert set(sentence["tokens"]) <= vocabulary
                assert sentence["imgid"] == record["imgid"]
    coco = json.loads(full.coco_annotations.read_text())["images"]
    assert {(r["split"], r["filepath"]) for r in coco} == {("train", "train2014"), ("val", "val2014"),
                                                           ("test", "val2014")}
    assert len({r["cocoid"] for r in coco}) == len(coco)
    assert KarpathyDataset(full.flickr_annotations, full.flickr_images).id == "karpathy:mini-flickr30k/test"


def test_captions_name_the_scene(full: CorpusPaths) -> None:
    """Every caption names the colour and the object; Flickr and COCO phrase positions differently."""
    for ann, phrases in ((full.flickr_annotations, captions.FLICKR_POSITION_PHRASES),
                         (full.coco_annotations, captions.COCO_POSITION_PHRASES)):
        all_phrases = {p for group in phrases.values() for p in group}
        for record in json.loads(ann.read_text())["images"][:300]:
            for sentence in record["sentences"]:
                text = sentence["raw"].lower()
                assert sum(color in sentence["tokens"] for color in scenes.COLORS) == 1, text
                assert any(s in sentence["tokens"] for s in scenes.SHAPES + scenes.DIGITS), text
                assert any(p in text for p in all_phrases), text


def _rows(path: Path) -> list[dict[str, str]]:
    import csv

    csv.field_size_limit(1 << 30)
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_mmbench_rotations(full: CorpusPaths) -> None:
    natural = MMBenchDataset(full.mmbench_natural)
    synthetic = MMBenchDataset(full.mmbench_synthetic)
    assert len(natural) == len(synthetic) == generate.MMBENCH_QUESTIONS * 4
    assert len(MMBenchDataset(full.mmbench_natural_val)) == generate.MMBENCH_VAL_QUESTIONS * 4
    groups: dict[int, list[int]] = defaultdict(list)
    for position, index in enumerate(row["index"] for row in _rows(full.mmbench_natural)):
        groups[int(index) % 1_000_000].append(position)
    assert len(groups) == generate.MMBENCH_QUESTIONS
    categories = set()
    for positions in groups.values():
        assert positions == list(range(positions[0], positions[0] + 4))  # contiguous
        items = [natural[p] for p in positions]
        base = items[0]
        assert [item.index for item in items] == [base.index + r * 1_000_000 for r in range(4)]
        truth = base.options[base.answer]
        for r, item in enumerate(items):
            letters = list(item.options)
            assert letters == ["A", "B", "C", "D"]
            assert item.options == {letters[i]: base.options[letters[(i + r) % 4]] for i in range(4)}
            assert item.options[item.answer] == truth
            assert item.question == base.question and item.category == base.category
        other = [synthetic[p] for p in positions]
        assert [(o.index, o.options, o.answer, o.question) for o in other] == \
               [(i.index, i.options, i.answer, i.question) for i in items]
        assert base.image.tobytes() != other[0].image.tobytes()
        categories.add((base.category, base.l2_category))
    assert categories == set(questions.CATEGORIES.items())
    assert [row["image"] for row in _rows(full.mmbench_natural)[1:4]] == ["0", "0", "0"]  # image references


def _dominant_color(image: Image.Image) -> str:
    """The palette colour nearest to the most saturated pixel."""
    pixels = [image.getpixel((x, y)) for x in range(image.width) for y in range(image.height)]
    best = max(pixels, key=lambda rgb: colorsys.rgb_to_hsv(*(v / 255 for v in rgb))[1])

    def distance(name: str) -> int:
        return sum((a - b) ** 2 for a, b in zip(best, scenes.COLORS[name], strict=True))

    return min(scenes.COLORS, key=distance)


def test_color_answers_match_synthetic_pixels(full: CorpusPaths) -> None:
    """The answer of each colour question is the object's colour in the clean render."""
    data = MMBenchDataset(full.mmbench_synthetic)
    checked = 0
    for item in data:
        if item.category == "color" and item.index < 1_000_000:
            assert _dominant_color(item.image) == item.options[item.answer], item
            checked += 1
    assert checked > 30


def test_digit_pools_are_disjoint() -> None:
    assets = Assets(0)
    pools = {split: {int(i) for members in assets.pools[split] for i in members} for split in assets.pools}
    assert not pools["train"] & pools["test"] and not pools["train"] & pools["val"] and not pools["val"] & pools["test"]
    assert sum(map(len, pools.values())) == 1797


def test_corpus_is_small(full: CorpusPaths) -> None:
    size = sum(os.path.getsize(p) for p in full.root.rglob("*") if p.is_file())
    assert size < 12_000_000


def test_corpus_is_the_one_the_packaged_refmoe_weights_were_trained_on(full: CorpusPaths) -> None:
    """Byte-level guard: the refactored generator must reproduce the datasets recorded in the weights manifest."""
    refmoe = importlib.util.find_spec("vleval_models.refmoe")
    manifest_path = Path(refmoe.submodule_search_locations[0]) / "weights" / "manifest.json"
    recorded = json.loads(manifest_path.read_text())["corpus"]["datasets"]
    got = {f"flickr_{s}": KarpathyDataset(full.flickr_annotations, full.flickr_images, split=s).content_hash()
           for s in ("train", "val", "test")}
    got["mmbench_natural"] = MMBenchDataset(full.mmbench_natural).content_hash()
    got["mmbench_natural_val"] = MMBenchDataset(full.mmbench_natural_val).content_hash()
    assert got == recorded


# ------------------------------------------------------------------------------------------------- plugin, shifts


def test_plugin_registers_the_corpus_shifts_with_each_class_s_own_metadata() -> None:
    import vleval_corpus.plugin

    registered = plugin_registry(vleval_corpus.plugin).items["shift"]
    assert set(registered) == {"mini-flickr30k->mini-mscoco", "mini-natural->synthetic"}  # as benchmarks.toml names
    for name, reg in registered.items():
        cls = reg.load()
        assert issubclass(cls, Shift) and (cls.name, cls.version, cls.description) == (name, "1.0.0", reg.description)
        assert reg.version == "1.0.0" and len(reg.description) > 20


def test_imports_only_vleval_api_and_itself() -> None:
    """No coupling to other plugins' modules: datasets are named by their registered names in ``DatasetSpec``s."""
    imported = imported_modules(PACKAGE)
    first_party = {m for m in imported if m.split(".")[0].startswith("vleval")}
    assert first_party and all(m == "vleval.api" or m.startswith("vleval_corpus.") for m in first_party), first_party


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    _shrink(monkeypatch, {"train": 10, "val": 4, "test": 6}, {"train": 4, "val": 3, "test": 5}, 5, 3)


def _build(spec: DatasetSpec) -> Any:
    return {"karpathy": KarpathyDataset, "mmbench": MMBenchDataset}[spec.name](**spec.args)


def test_corpus_shifts(tmp_path: Path, tiny: None) -> None:
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


def test_corpus_shift_default_cache_follows_vleval_cache(tmp_path: Path, tiny: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLEVAL_CACHE", str(tmp_path))
    spec = MiniNaturalToSynthetic(seed=1).target()
    assert spec.args["path"] == str(tmp_path / "corpus-v1-seed1" / "mini-mmbench-synthetic.tsv")
    assert Path(spec.args["path"]).is_file()
