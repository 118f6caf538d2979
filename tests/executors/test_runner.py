"""Runner: cells → validated records; failures recorded, incompatible pairs skipped, records independently valid."""

from __future__ import annotations

import json

import jsonschema
import pytest
import toy_plugins
from conftest import explicit_registry, toy_benchmark

from vleval import hookimpl
from vleval.api import MetricValue, Task
from vleval.config.schema import schema_dir
from vleval.executors.runner import run_benchmark
from vleval.plan.cells import expand
from vleval.results.record import PrimaryMetric
from vleval.results.store import read_records


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
    from vleval.config.load import ConfigError

    with pytest.raises(ConfigError, match=r"models\[0\]\.sweep\.experts"):
        run_benchmark("toy", toy_benchmark(models=[{"name": "toy-moe", "sweep": {"experts": 4}}]), tmp_path,
                      registry=toy_registry)


def test_unknown_plugin_name_fails_before_any_work(tmp_path, toy_registry):
    from vleval.config.load import ConfigError

    with pytest.raises(ConfigError, match=r"benchmarks\.toy\.metrics\[0\]: no metric named 'nope'"):
        run_benchmark("toy", toy_benchmark(metrics=["nope"]), tmp_path, registry=toy_registry)
    assert not (tmp_path / "toy.jsonl").exists()


def test_arguments_a_factory_does_not_take_fail_before_any_work(tmp_path, toy_registry):
    from vleval.config.load import ConfigError

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
    toy_registry = explicit_registry(NanMetricPlugin())
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


def test_primary_metric_does_not_follow_registration_order(tmp_path):
    registry = explicit_registry(toy_plugins.MeanRankPlugin())
    assert next(iter(registry.items["metric"])) == "aaa-mean-rank"  # discovered first
    bench = toy_benchmark(models=[{"name": "toy-moe"}], datasets=[])
    (record,) = run_benchmark("toy", bench, tmp_path, registry=registry).results
    assert (record.primary_metric.metric, record.primary_metric.key) == ("retrieval-recall", "rsum")
    assert [m.name for m in record.plugins.metrics] == ["retrieval-recall", "aaa-mean-rank"]  # defaults first
    assert "aaa-mean-rank" in record.domains["source"].metrics  # installed metrics still computed

    listed = toy_benchmark(models=[{"name": "toy-moe"}], datasets=[], metrics=["aaa-mean-rank", "retrieval-recall"])
    (record,) = run_benchmark("toy", listed, tmp_path / "listed", registry=registry).results
    assert record.primary_metric == PrimaryMetric("aaa-mean-rank", "mean_rank", higher_is_better=False)


def test_multiple_choice_defaults_come_from_the_task_strategy(tmp_path, toy_registry):
    bench = toy_benchmark(models=[{"name": "toy-moe"}], shifts=[])
    (record,) = run_benchmark("toy", bench, tmp_path, registry=toy_registry).results
    assert record.primary_metric.name == "mc-accuracy/accuracy"
    assert [m.name for m in record.plugins.metrics] == ["mc-accuracy", "circular-accuracy"]


class Counting:
    """Counts shift instantiations and dataset item loads of the toy plugins."""

    shifts = 0
    loads = 0

    class Shift(toy_plugins.NoiseShift):
        def __init__(self, **kwargs):
            Counting.shifts += 1
            super().__init__(**kwargs)

    class Colors(toy_plugins.ColorRetrieval):
        def __getitem__(self, i):
            Counting.loads += 1
            return super().__getitem__(i)

    @hookimpl
    def register_shifts(self, register):
        register(self.Shift, name="counted-shift", version="0.1.0", description="toy-noise, counted")

    @hookimpl
    def register_datasets(self, register):
        register(self.Colors, name="counted-colors", version="0.1.0", description="toy-colors, counted")


def test_shift_created_once_and_items_loaded_once_per_run(tmp_path):
    Counting.shifts = Counting.loads = 0
    registry = explicit_registry(Counting())
    n, calibration_n = 10, 6
    bench = toy_benchmark(
        models=[{"name": "toy-moe", "sweep": {"experts": [2, 4]}, "scaling": [{}, {"prune_to": 1}]}],
        shifts=[{"name": "counted-shift", "args": {"dataset": "counted-colors", "n": n}}], datasets=[],
        batch_sizes=[4], latency={"warmup": 2, "repetitions": 3},
    )
    bench["models"][0]["scaling"][1]["calibration"] = {"name": "counted-colors", "args": {"n": calibration_n}}
    summary = run_benchmark("toy", bench, tmp_path, registry=registry)
    assert [r.status for r in summary.results] == ["ok"] * 4
    assert Counting.shifts == 1  # one shift, four cells: cell keys, domains and calibration share it
    # every item of source, target and calibration data decoded once in the whole run, not once per pass or cell
    assert Counting.loads == 2 * n + calibration_n


def test_benchmark_schema_is_checked_once_per_cli_run(tmp_path, monkeypatch, toy_registry):
    from vleval import cli
    from vleval.config import schema
    from vleval.registry.discovery import Registry

    (tmp_path / "b.toml").write_text('[benchmarks.toy]\nmodels = [{ name = "toy-moe" }]\n'
                                     'shifts = [{ name = "toy-noise", args = { n = 6 } }]\n')
    checks = []
    real = schema.check
    monkeypatch.setattr(schema, "check", lambda name, *a: (checks.append(name), real(name, *a))[1])
    monkeypatch.setattr(Registry, "discover", classmethod(lambda cls, *a, **k: toy_registry))
    assert cli.main(["run", "-c", str(tmp_path / "b.toml"), "-o", str(tmp_path / "out"), "--in-process"]) == 0
    assert checks.count("benchmark") == 1 and checks.count("result") == 1


def test_cell_keys_depend_only_on_config_plugins_and_data(tmp_path, toy_registry):
    """Resume identity: the same benchmark gives the same keys in a fresh resolver; other data gives other keys."""
    from vleval.engine.identity import cell_key
    from vleval.engine.instances import Instances
    from vleval.plan.cells import plan

    cells = plan("toy", toy_benchmark(datasets=[])).cells
    first = [cell_key(c, Instances(toy_registry)) for c in cells]
    assert first == [cell_key(c, Instances(toy_registry)) for c in cells] and len(set(first)) == len(cells)
    other = plan("toy", toy_benchmark(datasets=[], shifts=[{"name": "toy-noise", "args": {"noise": 5.0}}])).cells
    assert not set(first) & {cell_key(c, Instances(toy_registry)) for c in other}


class PassOrder:
    """A toy model that logs, for each image call, whether it was traced, timed or neither (warmup)."""

    calls: list[str] = []

    class Model(toy_plugins.ToyMoE):
        def embed_images(self, images):
            from vleval.api import measuring

            PassOrder.calls.append("traced" if self._trace is not None else "timed" if measuring() else "warmup")
            return super().embed_images(images)

    @hookimpl
    def register_models(self, register):
        register(self.Model, name="order-moe", version="0.1.0", description="toy-moe, logging its passes")


def test_latency_protocol_is_traced_pass_then_warmup_then_timed_passes(tmp_path):
    """Warmup batches run after the traced pass, right before the clock starts; an untimed replicate (repetitions 0)
    runs the traced pass only."""
    PassOrder.calls = []
    registry = explicit_registry(PassOrder())
    bench = toy_benchmark(models=[{"name": "order-moe", "replicates": {"training_seed": [0, 1]}}],
                          shifts=[], datasets=[{"name": "toy-colors", "args": {"n": 12}}], batch_sizes=[4],
                          latency={"warmup": 2, "repetitions": 2})
    summary = run_benchmark("toy", bench, tmp_path, registry=registry)
    assert [r.status for r in summary.results] == ["ok", "ok"]
    batches = 3  # 12 images in batches of 4
    timed_cell = ["traced"] * batches + ["warmup"] * 2 + ["timed"] * (2 * batches)
    assert PassOrder.calls == timed_cell + ["traced"] * batches
    untimed = summary.results[1]
    assert all("machine_load" not in d.latency for d in untimed.domains.values())
    assert all("machine_load" in d.latency for d in summary.results[0].domains.values())
