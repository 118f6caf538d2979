"""Per-item sidecars and item-by-item comparisons."""

from __future__ import annotations

import gzip
from types import SimpleNamespace

import numpy as np
import pytest

from vleval.api import CaptionOutputs, MCOutputs, RetrievalOutputs
from vleval.engine import item_rows
from vleval.results import sidecars
from vleval.stats.compare import compare_rows


def test_retrieval_rows_rank_each_image_and_caption():
    # 2 images, captions 0,1 -> image 0 and caption 2 -> image 1
    sim = np.array([[0.9, 0.1, 0.5], [0.2, 0.95, 0.1]])
    rows = item_rows.rows(RetrievalOutputs(sim, np.array([0, 0, 1])), [SimpleNamespace(id="a"),
                                                                          SimpleNamespace(id="b")])
    images = {r["id"]: r["i2t_rank"] for r in rows if r["kind"] == "image"}
    texts = {r["id"]: (r["t2i_rank"], r["cluster"]) for r in rows if r["kind"] == "text"}
    assert images == {"a": 0, "b": 2}  # image b: its caption (0.1) is behind 0.2 and 0.95
    assert texts == {"a#0": (0, "a"), "a#1": (1, "a"), "b#0": (1, "b")}


def test_mc_rows_are_clustered_by_circular_group():
    out = MCOutputs(predictions=["A", None], answers=["A", "B"], indices=[7, 1_000_007])
    rows = item_rows.rows(out, [None, None])
    assert [(r["id"], r["cluster"], r["correct"]) for r in rows] == [("7", "7", True), ("1000007", "7", False)]


def test_caption_rows_carry_per_image_scores():
    out = CaptionOutputs(predictions=["a dog", "a cat"], references=[["x"], ["y"]])
    rows = item_rows.rows(out, [SimpleNamespace(id=1), SimpleNamespace(id=2)], {"cider": [10.0, 20.0]})
    assert rows[1] == {"kind": "image", "id": "2", "cluster": "2", "prediction": "a cat", "cider": 20.0}


def test_sidecar_round_trip_and_tamper_detection(tmp_path):
    results = tmp_path / "bench.jsonl"
    rows = {"source": [{"kind": "question", "id": "1", "cluster": "1", "correct": True}]}
    ref = sidecars.write(results, "ab" * 32, rows)
    assert ref["path"] == f"bench.items/{'ab' * 32}.jsonl.gz" and ref["rows"] == 1
    assert sidecars.write(results, "ab" * 32, rows)["sha256"] == ref["sha256"]  # deterministic bytes
    assert sidecars.read(results, ref) == rows
    path = tmp_path / ref["path"]
    path.write_bytes(gzip.compress(b'{"domain": "source", "kind": "question", "id": "1", "correct": false}\n'))
    with pytest.raises(sidecars.SidecarError, match="do not match the sha256"):
        sidecars.read(results, ref)
    path.unlink()
    with pytest.raises(sidecars.SidecarError, match="not readable"):
        sidecars.read(results, ref)
    (tmp_path / "secret.txt").write_text("x")
    for crafted in ("../secret.txt", "secret.txt", "bench.items/../secret.txt", "/etc/passwd"):
        with pytest.raises(sidecars.SidecarError, match="outside bench.items/"):
            sidecars.read(results, {**ref, "path": crafted})


def _mc(correct: list[bool], start: int = 0) -> list[dict]:
    return [{"kind": "question", "id": str(i + start), "cluster": str((i + start) % 1_000_000), "correct": c}
            for i, c in enumerate(correct)]


def test_clustered_questions_use_the_cluster_bootstrap_not_mcnemar():
    a = _mc([True, False] * 50)
    rotations = [{**r, "id": str(int(r["id"]) + 1_000_000)} for r in a]
    b = [{**r, "correct": True} for r in a + rotations]
    (acc,) = compare_rows(a + rotations, b, resamples=300)
    assert acc.test == "paired cluster bootstrap" and acc.p_value == acc.difference.p_value


def test_compare_multiple_choice_with_mcnemar_and_only_shared_items():
    a = _mc([True] * 30 + [False] * 70)
    b = _mc([True] * 30 + [True] * 40 + [False] * 30) + _mc([True], start=500)  # one extra item, not shared
    (acc,) = compare_rows(a, b, resamples=500)
    assert acc.outcome == "accuracy" and acc.items == 100 and acc.test == "McNemar exact"
    assert (acc.a, acc.b) == (30.0, 70.0) and acc.difference.estimate == pytest.approx(40.0)
    assert acc.p_value < 1e-9 and acc.significant()
    (same,) = compare_rows(a, a, resamples=200)
    assert same.p_value == 1.0 and not same.significant()


def test_compare_retrieval_outcomes_are_holm_adjusted_together():
    a = [{"kind": "text", "id": f"{i}#0", "cluster": str(i), "t2i_rank": i % 7} for i in range(60)]
    b = [{**r, "t2i_rank": 0} for r in a]
    results = compare_rows(a, b, resamples=300)
    assert [c.outcome for c in results] == ["t2i_r1", "t2i_r5", "t2i_r10"]
    r1 = results[0]
    assert r1.b == 100.0 and r1.a == pytest.approx(100 * 9 / 60)  # ranks 0 for i % 7 == 0: 9 of 60
    smallest = min(results, key=lambda c: c.p_value)
    assert smallest.p_adjusted == pytest.approx(min(1.0, 3 * smallest.p_value))  # Holm: x m for the smallest
    assert all(c.p_adjusted >= c.p_value for c in results)


def test_runs_write_sidecars_and_compare_reads_them(tmp_path, toy_registry, capsys):
    import hashlib

    from conftest import toy_benchmark

    from vleval.cli import main
    from vleval.executors.runner import run_benchmark

    bench = toy_benchmark(models=[{"name": "toy-moe", "sweep": {"experts": [2, 4]}}], shifts=[],
                          datasets=[{"name": "toy-questions", "args": {"n": 6}}])
    summary = run_benchmark("b", bench, tmp_path, registry=toy_registry)
    first, second = summary.records
    ref = first["items"]
    sidecar = tmp_path / ref["path"]
    size = first["domains"]["data"]["dataset"]["size"]
    assert hashlib.sha256(sidecar.read_bytes()).hexdigest() == ref["sha256"] and ref["rows"] == size
    rows = sidecars.read(summary.path, ref)["data"]
    accuracy = first["domains"]["data"]["metrics"]["mc-accuracy"]["accuracy"]["value"]
    assert sum(r["correct"] for r in rows) == round(accuracy * size / 100)
    code = main(["compare", str(summary.path), "-a", first["cell"]["label"], "-b", second["cell"]["label"],
                 "--resamples", "200"])
    out = capsys.readouterr().out
    assert code == 0 and "accuracy" in out and "paired cluster bootstrap" in out  # rotations are clustered
    code = main(["compare", str(summary.path), "-a", "no-such-variant", "-b", second["cell"]["label"]])
    assert code == 2 and "no record is labelled 'no-such-variant'" in capsys.readouterr().err


def test_sidecars_of_earlier_writers_still_load_and_a_reader_reads_each_once(tmp_path, monkeypatch):
    import hashlib
    import json

    results = tmp_path / "bench.jsonl"
    rows = {"source": [{"kind": "question", "id": "1", "cluster": "1", "correct": True, "routing": {"1": [3, 0]}}],
            "target": [{"kind": "question", "id": "1", "cluster": "1", "correct": False, "prediction": "a\nb"}]}
    lines = [json.dumps({"domain": d, **r}, sort_keys=True) for d, rs in rows.items() for r in rs]
    raw = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=6, mtime=0)  # as written before
    sidecars.sidecar_dir(results).mkdir()
    (tmp_path / "bench.items" / "old.jsonl.gz").write_bytes(raw)
    ref = {"path": "bench.items/old.jsonl.gz", "sha256": hashlib.sha256(raw).hexdigest(), "rows": 2}
    assert sidecars.read(results, ref) == rows
    assert sidecars.write(results, "new", rows)["rows"] == 2
    assert gzip.decompress((tmp_path / "bench.items" / "new.jsonl.gz").read_bytes()) == gzip.decompress(raw)

    reads = []
    real = sidecars.read
    monkeypatch.setattr(sidecars, "read", lambda home, r: reads.append(r["path"]) or real(home, r))
    record = SimpleNamespace(cell_key="k", items=ref)
    rows_of = sidecars.reader({"k": results})
    assert rows_of(record) == rows and rows_of(record) is rows_of(record) and reads == [ref["path"]]
    assert rows_of(SimpleNamespace(cell_key="other", items=ref)) is None  # no home: no rows
