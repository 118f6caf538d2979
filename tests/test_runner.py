"""Runner: cells → validated records; failures recorded, incompatible pairs skipped, records independently valid."""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import toy_benchmark

from vleval import hookimpl
from vleval.api import MetricValue, Task
from vleval.config import expand
from vleval.plugins import Registry
from vleval.records import read_records
from vleval.runner import run_benchmark
from vleval.schema import schema_dir


def independent_validator():
    schema = json.loads((schema_dir() / "result.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_run_writes_one_valid_record_per_cell(tmp_path, toy_registry):
    bench = toy_benchmark()
    summary = run_benchmark("toy", bench, tmp_path, registry=toy_registry)
    records = [r for _, r in read_records(tmp_path / "toy.jsonl")]
    assert len(records) == len(expand("toy", bench)) == 12
    validator = independent_validator()
    for record in records:
        validator.validate(record)
    assert summary.failed == 0
    ok = records[0]
    assert ok["status"] == "ok" and set(ok["domains"]) == {"source", "target"}
    assert ok["domains"]["target"]["dataset"]["content_hash"] != ok["domains"]["source"]["dataset"]["content_hash"]
    latency = ok["domains"]["source"]["latency"]
    assert latency["timed_batches"] == 2 * 3  # 2 repetitions x ceil(24 / 8) batches
    assert 0 < latency["sample_ms"]["p50"] <= latency["sample_ms"]["p99"]
    assert ok["environment"]["torch_threads"] >= 1 and ok["environment"]["hardware_id"]
    assert "drop" in ok and "retrieval-recall" in ok["drop"]
    routing = ok["domains"]["source"]["routing"]
    assert [layer["layer"] for layer in routing["layers"]] == [0, 1]
    assert routing["tokens"] == {"text": 24 * 5, "image": 24}


def test_colour_questions_are_answered_by_the_model(tmp_path, toy_registry):
    summary = run_benchmark("toy", toy_benchmark(shifts=[], models=[{"name": "toy-moe"}]), tmp_path,
                            registry=toy_registry)
    (record,) = summary.records
    assert record["mode"] == "score"
    assert record["domains"]["data"]["metrics"]["circular-accuracy"]["circular_accuracy"]["value"] == 100.0


def test_pruning_keeps_the_most_loaded_experts_and_scaling_is_recorded(tmp_path, toy_registry):
    bench = toy_benchmark(models=[{"name": "toy-moe", "args": {"experts": 4},
                                   "scaling": [{"prune_to": 2}, {"top_k": 1}]}], datasets=[])
    pruned, topk = run_benchmark("toy", bench, tmp_path, registry=toy_registry).records
    keep = pruned["scaling"]["keep_experts"]
    assert set(keep) == {"0", "1"} and all(len(v) == 2 for v in keep.values())
    for layer in pruned["domains"]["source"]["routing"]["layers"]:
        used = {e for e, load in enumerate(layer["expert_load"]) if load > 0}
        assert used <= set(keep[str(layer["layer"])])
    assert topk["scaling"]["top_k"] == 1
    assert topk["domains"]["source"]["routing"]["layers"][0]["assignments"] == 24 * 6  # one expert per token


def test_failing_plugin_is_recorded_and_others_go_on(tmp_path, toy_registry):
    bench = toy_benchmark(models=[{"name": "toy-moe", "args": {"fail": True}}, {"name": "toy-moe"}], datasets=[])
    summary = run_benchmark("toy", bench, tmp_path, registry=toy_registry)
    assert [r["status"] for r in summary.records] == ["failed", "ok"]
    assert "toy model asked to fail" in summary.records[0]["error"]["message"]
    assert summary.failed == 1


def test_incompatible_pair_is_skipped_with_reason(tmp_path, toy_registry):
    bench = toy_benchmark(models=[{"name": "toy-text"}], datasets=[])
    (record,) = run_benchmark("toy", bench, tmp_path, registry=toy_registry).records
    assert record["status"] == "skipped"
    assert "needs embed" in record["skip_reason"]


def test_rerun_without_resume_keeps_earlier_results(tmp_path, toy_registry):
    bench = toy_benchmark(models=[{"name": "toy-moe"}], datasets=[])
    run_benchmark("toy", bench, tmp_path, registry=toy_registry)
    run_benchmark("toy", bench, tmp_path, registry=toy_registry)
    assert len(list(tmp_path.glob("toy*.jsonl"))) == 2


def test_resume_skips_completed_cells(tmp_path, toy_registry):
    bench = toy_benchmark(models=[{"name": "toy-moe"}])
    first = run_benchmark("toy", bench, tmp_path, registry=toy_registry)
    again = run_benchmark("toy", bench, tmp_path, registry=toy_registry, resume=True)
    assert again.resumed == len(first.records) == 2 and again.records == []
    changed = toy_benchmark(models=[{"name": "toy-moe"}], shifts=[{"name": "toy-noise", "args": {"noise": 30.0}}])
    third = run_benchmark("toy", changed, tmp_path, registry=toy_registry, resume=True)
    assert third.resumed == 1 and len(third.records) == 1  # changed data → a new cell


def test_malformed_benchmark_names_the_key(tmp_path, toy_registry):
    from vleval.config import ConfigError

    with pytest.raises(ConfigError, match=r"models\[0\]\.sweep\.experts"):
        run_benchmark("toy", toy_benchmark(models=[{"name": "toy-moe", "sweep": {"experts": 4}}]), tmp_path,
                      registry=toy_registry)


def test_unknown_plugin_name_fails_before_any_work(tmp_path, toy_registry):
    from vleval.config import ConfigError

    with pytest.raises(ConfigError, match=r"benchmarks\.toy\.metrics\[0\]: no metric named 'nope'"):
        run_benchmark("toy", toy_benchmark(metrics=["nope"]), tmp_path, registry=toy_registry)
    assert not (tmp_path / "toy.jsonl").exists()


def test_arguments_a_factory_does_not_take_fail_before_any_work(tmp_path, toy_registry):
    from vleval.config import ConfigError

    bench = toy_benchmark(models=[{"name": "toy-moe", "args": {"colour": "red"}}])
    with pytest.raises(ConfigError, match=r"benchmarks\.toy\.models\[0\]: model 'toy-moe'.*colour"):
        run_benchmark("toy", bench, tmp_path, registry=toy_registry)
    bench = toy_benchmark(shifts=[{"name": "toy-noise", "args": {"nosie": 3}}])
    with pytest.raises(ConfigError, match=r"benchmarks\.toy\.shifts\[0\]: shift 'toy-noise'.*nosie"):
        run_benchmark("toy", bench, tmp_path, registry=toy_registry)


def test_pruning_refuses_to_calibrate_on_the_evaluated_data(tmp_path, toy_registry):
    bench = toy_benchmark(shifts=[], models=[{"name": "toy-moe", "scaling": [
        {"prune_to": 1, "calibration": {"name": "toy-questions", "args": {"n": 6}}}]}])
    (record,) = run_benchmark("toy", bench, tmp_path, registry=toy_registry).records
    assert record["status"] == "failed" and "is the evaluated data" in record["error"]["message"]


class NanMetricPlugin:
    """A broken metric plugin: its metric returns NaN, which no record may hold."""

    class NanMetric:
        task = Task.RETRIEVAL
        primary = "nan"

        def compute(self, outputs):
            return {"nan": MetricValue(value=float("nan"))}

    @hookimpl
    def register_metrics(self, register):
        register(self.NanMetric, name="toy-nan", version="0.1.0", description="returns NaN")


def test_invalid_metric_value_fails_the_cell_not_the_run(tmp_path):
    import toy_plugins

    toy_registry = Registry.discover(extra_plugins=[toy_plugins, NanMetricPlugin()])
    bench = toy_benchmark(models=[{"name": "toy-moe", "sweep": {"experts": [2, 3]}}], datasets=[],
                          metrics=["toy-nan"])
    summary = run_benchmark("toy", bench, tmp_path, registry=toy_registry)
    assert [r["status"] for r in summary.records] == ["failed", "failed"]
    assert summary.records[0]["error"]["type"] == "InvalidRecord"
    assert len(list(read_records(tmp_path / "toy.jsonl"))) == 2


def test_metrics_that_do_not_apply_to_the_task_fail_the_cell(tmp_path, toy_registry):
    bench = toy_benchmark(models=[{"name": "toy-moe"}], datasets=[], metrics=["mc-accuracy"])
    (record,) = run_benchmark("toy", bench, tmp_path, registry=toy_registry).records
    assert record["status"] == "failed" and "applies to task 'retrieval'" in record["error"]["message"]
