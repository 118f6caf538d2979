"""`[benchmarks.flickr-coco]`: real Karpathy-layout files located through environment variables, retrieval and
captioning, with clear errors (before any work) when a variable or a file is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TESTS

from vleval.config.load import ConfigError, expand_env, load_file, select

ROOT = TESTS.parent


def test_variables_are_expanded_with_defaults_and_key_paths_in_errors():
    bench = {"shifts": [{"name": "s", "args": {"a": "${DATA}/x.json", "b": "${MISSING:-/opt}/y", "n": 3}}]}
    out = expand_env(bench, "f.toml: benchmarks.b", {"DATA": "/data"})
    assert out == {"shifts": [{"name": "s", "args": {"a": "/data/x.json", "b": "/opt/y", "n": 3}}]}
    with pytest.raises(ConfigError, match=r"benchmarks\.b\.shifts\[0\]\.args\.a uses \$\{DATA\}, which is not set"):
        expand_env(bench, "f.toml: benchmarks.b", {})


def test_only_the_selected_benchmark_needs_its_variables(monkeypatch):
    monkeypatch.delenv("FLICKR30K_DIR", raising=False)
    data = load_file(ROOT / "benchmarks.toml")
    name, _ = select(data, None)  # the default benchmark has no variables
    assert name == "default"
    with pytest.raises(ConfigError, match=r"FLICKR30K_DIR"):
        select(data, "flickr-coco")


def test_flickr_to_coco_captioning_specs_and_unchanged_retrieval_specs(tmp_path):
    from vleval_shifts.shifts import Flickr30kToMSCOCO, ShiftConfigError

    (tmp_path / "f.json").write_text("{}")
    (tmp_path / "img").mkdir()
    paths = dict(flickr30k_annotations=tmp_path / "f.json", flickr30k_images=tmp_path / "img",
                 mscoco_annotations=tmp_path / "f.json", mscoco_images=tmp_path / "img")
    retrieval = Flickr30kToMSCOCO(**paths).source()
    assert retrieval.args == {"annotations": str(tmp_path / "f.json"), "images": str(tmp_path / "img"),
                              "split": "test", "captions_per_image": 5}
    captioning = Flickr30kToMSCOCO(**paths, task="captioning")
    assert captioning.target().args["task"] == "captioning" and "captions_per_image" not in captioning.target().args
    with pytest.raises(ShiftConfigError, match="'task' must be one of"):
        Flickr30kToMSCOCO(**paths, task="vqa")


def _karpathy_layout(tmp_path: Path) -> dict[str, str]:
    """FLICKR30K_DIR and COCO_DIR laid out as the real downloads (test split only), from the generated corpus."""
    from vleval_corpus.cache import default_corpus_dir, ensure_corpus

    corpus = ensure_corpus(default_corpus_dir(0))
    dirs = {"FLICKR30K_DIR": tmp_path / "flickr30k", "COCO_DIR": tmp_path / "coco"}
    for annotation_file, images, root, name, image_dir in (
            (corpus.flickr_annotations, corpus.flickr_images, dirs["FLICKR30K_DIR"], "dataset_flickr30k.json",
             "flickr30k-images"),
            (corpus.coco_annotations, corpus.coco_images, dirs["COCO_DIR"], "dataset_coco.json", "")):
        data = json.loads(Path(annotation_file).read_text())
        data["images"] = [image for image in data["images"] if image["split"] == "test"]
        for image in data["images"]:  # copies, not links: links out of the dataset root are refused
            relative = Path(image.get("filepath", "")) / image["filename"]
            (root / image_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(images) / relative, root / image_dir / relative)
        (root / name).write_text(json.dumps(data))
    return {k: str(v) for k, v in dirs.items()}


def _run(env: dict[str, str], out: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "vleval.cli", "run", "flickr-coco", "-c", str(ROOT / "benchmarks.toml"),
            "-o", str(out), "--no-report", *extra]
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env}, timeout=600)


@pytest.mark.slow
def test_missing_files_are_reported_before_any_work(tmp_path):
    result = _run({"FLICKR30K_DIR": str(tmp_path / "nowhere"), "COCO_DIR": str(tmp_path)}, tmp_path / "out")
    assert result.returncode == 2
    assert "flickr30k_annotations" in result.stderr and "dataset_flickr30k.json" in result.stderr
    assert not (tmp_path / "out" / "flickr-coco.jsonl").exists()


@pytest.mark.slow
def test_flickr_coco_runs_retrieval_and_captioning_on_real_layout_files(tmp_path):
    result = _run(_karpathy_layout(tmp_path), tmp_path / "out", "--limit", "16")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = [json.loads(line) for line in (tmp_path / "out" / "flickr-coco.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == ["ok"] * 4
    assert sorted(r["task"] for r in records) == ["captioning", "captioning", "retrieval", "retrieval"]
    for r in records:
        assert r["domains"]["source"]["dataset"]["args"]["annotations"].endswith("flickr30k/dataset_flickr30k.json")
        if r["task"] == "captioning":
            assert r["primary_metric"]["metric"] == "coco-caption"
            assert r["domains"]["target"]["metrics"]["coco-caption"]["cider"]["value"] >= 0
