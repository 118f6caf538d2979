"""Metric arguments in benchmarks: validated before any work, part of the cell identity, named in every record."""

from __future__ import annotations

import pytest
from conftest import toy_benchmark

from vleval.config.load import ConfigError
from vleval.executors.runner import run_benchmark


def _bench(metrics):
    return toy_benchmark(
        models=[{"name": "toy-moe", "args": {"experts": 2}}], shifts=[], metrics=metrics,
        datasets=[{"name": "toy-questions", "args": {"n": 6}}],
    )


def test_metric_arguments_reach_the_metric_and_the_record(tmp_path, toy_registry):
    metrics = [{"name": "circular-accuracy", "args": {"extraction": "strict"}}, "mc-accuracy"]
    summary = run_benchmark("b", _bench(metrics), tmp_path, registry=toy_registry)
    (record,) = summary.records
    assert record["status"] == "ok", record.get("error")
    refs = {m["name"]: m for m in record["plugins"]["metrics"]}
    assert refs["circular-accuracy"]["args"] == {"extraction": "strict"}
    assert refs["circular-accuracy"]["settings"] == {"extraction": "strict"}
    assert "args" not in refs["mc-accuracy"] and refs["mc-accuracy"]["settings"] == {"extraction": "vlmevalkit"}
    assert record["primary_metric"]["metric"] == "circular-accuracy"


def test_metric_arguments_are_part_of_the_cell_identity(tmp_path, toy_registry):
    strict = run_benchmark("b", _bench([{"name": "mc-accuracy", "args": {"extraction": "strict"}}]), tmp_path / "s",
                           registry=toy_registry)
    plain = run_benchmark("b", _bench(["mc-accuracy"]), tmp_path / "p", registry=toy_registry)
    assert strict.records[0]["cell_key"] != plain.records[0]["cell_key"]


@pytest.mark.parametrize("metrics, message", [
    ([{"name": "mc-accuracy", "args": {"colour": 1}}], r"benchmarks\.b\.metrics\[0\].*colour"),
    ([{"name": "mc-accuracy", "args": {"extraction": "fuzzy"}}],
     r"benchmarks\.b\.metrics\[0\] \(mc-accuracy\): extraction must be one of vlmevalkit, strict"),
])
def test_bad_metric_arguments_fail_before_any_work(tmp_path, toy_registry, metrics, message):
    with pytest.raises(ConfigError, match=message):
        run_benchmark("b", _bench(metrics), tmp_path, registry=toy_registry)
    assert not list(tmp_path.glob("*.jsonl"))
