"""The example plugin distribution (plugins/vleval-example), pip-installed into a temporary directory.

The venv is never modified: the distribution goes to a ``--target`` directory that is put on ``PYTHONPATH`` for the
CLI subprocesses (and on ``sys.path``, via monkeypatch, for the in-process tests).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TESTS, make_distribution

from vleval.api import RetrievalOutputs

EXAMPLE = TESTS.parent / "plugins" / "vleval-example"
GUIDE = TESTS.parent / "docs" / "writing-a-plugin.md"
DIST = "vleval-example 0.1.0"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``site``: the installed example distribution; ``toy``: a distribution exposing the test doubles."""
    root = tmp_path_factory.mktemp("example")
    source = root / "src"  # build from a copy so no build/ or *.egg-info lands in the repository
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    # Offline, with this environment's setuptools when it is new enough; else pip fetches one into an isolated build
    offline = ["--no-build-isolation", "--no-index"] if _setuptools_version() >= (77,) else []
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *offline, "--disable-pip-version-check",
         "--target", str(root / "site"), str(source)],
        capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    toy = make_distribution(root / "toy", "toy-dist", {"toy": "toy_plugins"}, {})
    return {"site": root / "site", "toy": toy}


def _setuptools_version() -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in importlib.metadata.version("setuptools").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return (0,)


def cli(installed: dict[str, Path], *args: str) -> subprocess.CompletedProcess:
    path = os.pathsep.join(str(p) for p in (installed["site"], installed["toy"], TESTS))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "vleval.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.mark.slow
def test_installed_distribution_is_listed(installed):
    proc = cli(installed, "plugins", "--json")
    listing = json.loads(proc.stdout)  # exit status may be 1 for other plugins' problems; ours must be clean
    ours = {(p["kind"], p["name"]): p for p in listing["plugins"] if p["distribution"] == DIST}
    assert set(ours) == {("model", "example-colour-moe"), ("dataset", "example-folder"),
                         ("shift", "example-folder-shift"), ("metric", "median-rank")}
    assert all(p["plugin"] == "example" and p["version"] == "0.1.0" and p["description"] for p in ours.values())
    assert not [b for b in listing["broken"] if b["distribution"] == DIST]
    assert not [c for c in listing["conflicts"] if any(DIST in r for r in c["registered_by"])]


@pytest.mark.slow
def test_cli_run_on_toy_colours_records_median_rank(installed, tmp_path):
    out = tmp_path / "out"
    proc = cli(installed, "run", "--model", "example-colour-moe", "--dataset", "toy-colors",
               "--metrics", "median-rank,retrieval-recall", "-o", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = out / "adhoc.jsonl"
    check = cli(installed, "validate", str(results))
    assert check.returncode == 0, check.stderr
    (record,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert record["status"] == "ok", record.get("error")
    assert record["plugins"]["model"]["distribution"] == DIST
    assert record["primary_metric"] == {"metric": "median-rank", "key": "mrr", "higher_is_better": True}
    info = record["model_info"]
    assert info["total_params"] == info["extra"]["shared_params"] + 2 * info["extra"]["expert_params_per_layer"]
    assert 0 < info["active_params_per_token"] < info["total_params"]
    domain = record["domains"]["data"]
    n_images = domain["dataset"]["size"]
    n_texts = 5 * n_images
    ranks = domain["metrics"]["median-rank"]
    for key, top in (("t2i_median_rank", n_images), ("i2t_median_rank", n_texts), ("t2i_mean_rank", n_images),
                     ("i2t_mean_rank", n_texts)):
        value = ranks[key]
        assert 1 <= value["ci_low"] <= value["value"] <= value["ci_high"] <= top, (key, value)
    for key in ("t2i_mrr", "i2t_mrr", "mrr"):
        assert 0 < ranks[key]["value"] <= 1
    # 24 images of 6 colours, 4 identical per colour: the right image ties with 3 twins -> expected rank 2.5
    assert ranks["t2i_median_rank"]["value"] == 2.5
    assert ranks["mrr"]["value"] == pytest.approx((ranks["t2i_mrr"]["value"] + ranks["i2t_mrr"]["value"]) / 2)
    assert "rsum" in domain["metrics"]["retrieval-recall"]
    assert domain["routing"]["tokens"] == {"image": 16 * n_images, "text": 13 * n_images}
    assert [layer["layer"] for layer in domain["routing"]["layers"]] == [0, 1]


@pytest.fixture
def example(installed, monkeypatch):
    monkeypatch.syspath_prepend(str(installed["site"]))
    import vleval_example.plugin

    return vleval_example.plugin


@pytest.mark.slow
def test_shift_with_expert_scaling_in_process(example, tmp_path):
    from vleval.executors.runner import run_benchmark
    from vleval.registry.discovery import Registry
    from vleval_example.swatches import write_swatches

    plain = write_swatches(tmp_path / "plain", "plain", test=10, val=5)
    striped = write_swatches(tmp_path / "striped", "striped", test=10, val=5)
    # entry_points=False: the installed entry point would register the same module a second time
    registry = Registry.discover(extra_plugins=[example], entry_points=False)
    bench = {
        "models": [{"name": "example-colour-moe", "scaling": [{}, {"top_k": 1}, {"prune_to": 3}]}],
        "shifts": [{"name": "example-folder-shift", "args": {"source": str(plain), "target": str(striped)}}],
        "latency": {"warmup": 0, "repetitions": 1},
    }
    summary = run_benchmark("example", bench, tmp_path / "out", registry=registry)
    assert summary.failed == 0 and [r["status"] for r in summary.records] == ["ok"] * 3
    base, top1, pruned = summary.records
    assert top1["scaling"]["top_k"] == 1
    assert base["domains"]["source"]["metrics"]["median-rank"]["t2i_median_rank"]["value"] <= 2.0
    assert "median-rank" in base["drop"]
    keep = pruned["scaling"]["keep_experts"]
    assert set(keep) == {"0", "1"} and all(len(v) == 3 for v in keep.values())
    for layer in pruned["domains"]["target"]["routing"]["layers"]:
        used = {e for e, load in enumerate(layer["expert_load"]) if load > 0}
        assert used <= set(keep[str(layer["layer"])])


@pytest.mark.slow
def test_scale_experts_changes_outputs_and_restores_them_exactly(example):
    from PIL import Image

    from vleval_example.model import ColourMoE

    model = ColourMoE(experts=8, top_k=2)
    images = [Image.new("RGB", (20, 12), rgb) for rgb in ((200, 30, 30), (30, 30, 200), (120, 120, 120))]
    texts = ["a red square", "blue stripes", "grey"]
    before = model.embed_images(images), model.embed_texts(texts)
    with model.scale_experts(top_k=1):
        assert not np.array_equal(model.embed_images(images), before[0])
    with model.scale_experts(keep_experts={0: [3], 1: [5, 6]}), model.trace_routing() as trace:
        model.embed_texts(texts)
        model.embed_images(images)
    allowed = {0: {3}, 1: {5, 6}}
    assert all(set(e.experts.ravel().tolist()) <= allowed[e.layer] for e in trace.events)
    assert [int(e.modality[0]) for e in trace.events] == [0, 0, 1, 1]  # TEXT then IMAGE, per layer
    after = model.embed_images(images), model.embed_texts(texts)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))  # bitwise identical
    with pytest.raises(ValueError, match="top_k"), model.scale_experts(top_k=9):
        pass
    assert model.top_k == 2


@pytest.mark.slow
def test_median_rank_on_known_rankings(example):
    from vleval_example.metric import MedianRank

    # 3 images, 2 captions each; caption t belongs to image t // 2
    similarity = np.array([[0.9, 0.1, 0.8, 0.0, 0.0, 0.0],   # image 0: its captions rank 1 and 3
                           [0.5, 0.5, 0.1, 0.2, 0.3, 0.3],   # image 1: its best caption (3) ranks 5th
                           [0.2, 0.2, 0.2, 0.2, 0.2, 0.2]])  # image 2: everything tied
    owner = np.array([0, 0, 1, 1, 2, 2])
    values = MedianRank().compute(RetrievalOutputs(similarity=similarity, text_image=owner))
    # i2t: image 0 -> rank 1; image 1: best right caption is 0.2 (caption 3), wrong ones above: 0.5, 0.5, 0.3, 0.3
    # -> rank 5; image 2: 4 wrong and 2 right tied -> 1 + 4 / 3
    assert values["i2t_mean_rank"].value == pytest.approx((1 + 5 + 1 + 4 / 3) / 3)
    assert values["i2t_median_rank"].value == pytest.approx(1 + 4 / 3)
    # reciprocal rank with ties: P(J=1)=2/6, P(J=2)=8/30, P(J=3)=6/30, P(J=4)=4/30, P(J=5)=2/30
    tied = 2 / 6 + (8 / 30) / 2 + (6 / 30) / 3 + (4 / 30) / 4 + (2 / 30) / 5
    assert values["i2t_mrr"].value == pytest.approx((1 + 1 / 5 + tied) / 3)
    # t2i, per column: caption 1 scores its image 0.1 below 0.5 and 0.2 -> rank 3; caption 3 ties with image 2
    t2i = [1, 3, 3, 1 + 1 / 2, 2, 2]
    assert values["t2i_mean_rank"].value == pytest.approx(np.mean(t2i))
    assert values["t2i_median_rank"].value == pytest.approx(np.median(t2i))
    assert MedianRank.primary in values and 0 < values["mrr"].value <= 1


def guide_blocks() -> list[tuple[str, str]]:
    """``(path, body)`` of every python/toml block of the guide; each block's first line is ``# <path>``."""
    blocks = []
    for text in re.findall(r"^```(?:python|toml)\n(.*?)^```$", GUIDE.read_text(), flags=re.S | re.M):
        first, _, body = text.partition("\n")
        assert first.startswith("# "), f"guide block without a '# <path>' header: {text[:80]!r}"
        blocks.append((first[2:].strip(), body))
    return blocks


def test_guide_excerpts_are_verbatim_copies_of_the_example_plugin():
    blocks = guide_blocks()
    assert all(path in {"pyproject.toml", "benchmarks.toml"} or path.startswith(("vleval_example/", "tests/"))
               for path, _ in blocks), blocks
    excerpts = [(path, body) for path, body in blocks if path != "benchmarks.toml"]
    assert len(excerpts) >= 9 and any(path.startswith("tests/") for path, _ in excerpts)
    for path, body in excerpts:
        assert body in (EXAMPLE / path).read_text(), f"the guide's excerpt of {path} differs from the file"


@pytest.mark.slow
def test_guide_benchmarks_toml_is_valid(example, tmp_path):
    from vleval.config.load import load_file, select
    from vleval.plan.cells import expand
    from vleval.registry.discovery import LoadPolicy, Registry

    (body,) = [body for path, body in guide_blocks() if path == "benchmarks.toml"]
    config = tmp_path / "benchmarks.toml"
    config.write_text(body)
    name, bench = select(load_file(config), None, config)
    assert len(expand(name, bench)) == 3 * 3 * 2  # experts x scalings x (shift, dataset)
    # installed entry points (vleval's metrics by their registered names) and the example, each registered once
    registry = Registry.discover(extra_plugins=[example], policy=LoadPolicy())
    assert not registry.conflicts
    for kind, refs in (("model", bench["models"]), ("shift", bench["shifts"]), ("dataset", bench["datasets"])):
        for ref in refs:
            registry.get(kind, ref["name"])
    for metric in bench["metrics"]:
        registry.get("metric", metric)


@pytest.mark.slow
def test_the_example_plugins_own_tests_pass_with_the_conformance_kit(installed):
    """The distribution's tests/ (shown in the guide) run against the installed package, as its author would."""
    tests = installed["site"].parent / "src" / "tests"
    assert "from vleval.testing import" in (tests / "test_plugin.py").read_text()
    env = {**os.environ, "PYTHONPATH": str(installed["site"]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
                          cwd=tests.parent, capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b5 passed\b", proc.stdout), proc.stdout
