"""The typed record, the results read layer and the append-only store (torn lines quarantined, never dropped)."""

from __future__ import annotations

import json
import os

import pytest
from conftest import toy_benchmark

from vleval.executors.runner import run_benchmark
from vleval.results.record import Record
from vleval.results.store import ResultsFileError, ResultStore, load, read_records


@pytest.fixture
def results(tmp_path, toy_registry):
    bench = toy_benchmark(models=[{"name": "toy-moe", "sweep": {"experts": [2, 4, 8]}}], datasets=[])
    return run_benchmark("toy", bench, tmp_path / "run", registry=toy_registry)


def test_written_json_reads_back_into_the_same_record(results):
    raw = [r for _, r in read_records(results.path)]
    assert [Record.from_json(r).to_json() for r in raw] == raw
    typed = load([results.path])
    assert [r.cell_key for r in typed] == [r["cell_key"] for r in raw]
    first = typed[0]
    assert first.primary("target") == raw[0]["domains"]["target"]["metrics"]["retrieval-recall"]["rsum"]["value"]
    assert first.timed.p50_ms == raw[0]["domains"]["source"]["latency"]["sample_ms"]["p50"]


def test_append_never_rewrites_the_file(results, tmp_path):
    store = ResultStore(tmp_path / "copy.jsonl")
    records = load([results.path])
    store.append(records[0])
    before, inode = store.path.read_bytes(), os.stat(store.path).st_ino
    store.append(records[1])
    after = store.path.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == 2
    assert os.stat(store.path).st_ino == inode  # appended in place, not replaced by a rewritten copy


def test_torn_last_line_is_quarantined_and_resume_redoes_that_cell(results, tmp_path, toy_registry):
    lines = results.path.read_bytes().splitlines(keepends=True)
    torn = lines[2][: len(lines[2]) // 2]  # killed halfway through writing the third record
    results.path.write_bytes(lines[0] + lines[1] + torn)
    with pytest.raises(ResultsFileError, match=":3: not a JSON record"):
        list(read_records(results.path))

    bench = toy_benchmark(models=[{"name": "toy-moe", "sweep": {"experts": [2, 4, 8]}}], datasets=[])
    again = run_benchmark("toy", bench, tmp_path / "run", registry=toy_registry, resume=True)
    assert again.quarantined is not None and again.quarantined.read_bytes() == torn
    assert again.quarantined.parent == results.path.parent
    assert again.resumed == 2 and [r.label for r in again.results] == ["toy-moe(experts=8)"]
    keys = [r["cell_key"] for _, r in read_records(results.path)]
    assert len(keys) == len(set(keys)) == 3


def test_an_intact_file_is_left_alone(results):
    before = results.path.read_bytes()
    store = ResultStore(results.path).open()
    assert store.quarantined is None and results.path.read_bytes() == before
    assert len(list(results.path.parent.glob("*.torn-*"))) == 0


def test_load_refuses_invalid_records(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"status": "ok"}) + "\n")
    with pytest.raises(ResultsFileError, match="not valid results"):
        load([path])
