"""vleval.stats.corruptions: error per corruption and severity, mean, CE and mCE against a named baseline, checked
against hand computations; and on records of a real (toy) run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import explicit_registry

import vleval_shifts.plugin
from vleval.executors.runner import run_benchmark
from vleval.results.record import DatasetInfo, Domain, PrimaryMetric, Record
from vleval.stats.corruptions import CorruptionTableError, corruption_tables

DATASET = {"name": "toy-questions", "args": {"n": 6}}


def _domain(accuracy: float) -> Domain:
    info = DatasetInfo("toy-questions", {}, "toy", 10, "0" * 64, "1")
    return Domain(info, {"mc-accuracy": {"accuracy": {"value": accuracy}}}, {}, None)


def _record(label: str, corruption: str, severity: int, target: float, source: float, seed: int = 0,
            status: str = "ok", dataset: dict | None = None) -> Record:
    cell = {"label": label, "evaluation": {"kind": "shift", "name": "corruption", "args": {
        "dataset": dataset or DATASET, "corruption": corruption, "severity": severity}}}
    record = Record(run_id="r", cell_key=f"{label}{corruption}{severity}{seed}", benchmark="b", cell=cell, seed=seed,
                    started_at="now", status=status, domains={"source": _domain(source), "target": _domain(target)},
                    primary_metric=PrimaryMetric("mc-accuracy", "accuracy", True))
    return Record.from_json(record.to_json())  # as read from a results file


# accuracies (percent) on target; the source (clean) accuracy is 90 for the baseline, 95 for "better"
ACC = {
    "base": {"fog": {1: 80, 2: 70, 3: 60}, "contrast": {1: 85, 2: 75, 3: 50}},
    "better": {"fog": {1: 90, 2: 85, 3: 80}, "contrast": {1: 80, 2: 70, 3: 40}},
}
CLEAN = {"base": 90, "better": 95}


def _records() -> list[Record]:
    return [_record(label, c, s, acc, CLEAN[label]) for label, by_c in ACC.items() for c, by_s in by_c.items()
            for s, acc in by_s.items()]


def test_ce_and_mce_by_hand() -> None:
    (table,) = corruption_tables(_records(), "base")
    assert table.corruptions == ["contrast", "fog"] and table.severities == [1, 2, 3]
    assert [v.label for v in table.variants] == ["base", "better"]
    base, better = table.variants
    # errors = 100 - accuracy
    assert better.errors["fog"] == {1: 10, 2: 15, 3: 20} and base.errors["contrast"] == {1: 15, 2: 25, 3: 50}
    assert better.mean["fog"] == pytest.approx(15) and base.mean["contrast"] == pytest.approx(30)
    # CE(better, fog) = (10 + 15 + 20) / (20 + 30 + 40) = 45 / 90; CE(better, contrast) = (20 + 30 + 60) / 90
    assert better.ce["fog"] == pytest.approx(0.5) and better.ce["contrast"] == pytest.approx(110 / 90)
    assert better.mce == pytest.approx((0.5 + 110 / 90) / 2) and better.mce_corruptions == 2
    assert base.ce == {"fog": pytest.approx(1.0), "contrast": pytest.approx(1.0)} and base.mce == pytest.approx(1.0)
    # relative: clean errors 10 (base), 5 (better): fog (5 + 10 + 15) / (10 + 20 + 30) = 0.5,
    # contrast (15 + 25 + 55) / (5 + 15 + 40) = 95 / 60
    assert better.clean == pytest.approx(5) and base.clean == pytest.approx(10)
    assert better.relative_ce["fog"] == pytest.approx(0.5)
    assert better.relative_ce["contrast"] == pytest.approx(95 / 60)
    assert better.relative_mce == pytest.approx((0.5 + 95 / 60) / 2)


def test_seeds_are_averaged_and_failed_records_ignored() -> None:
    records = _records() + [_record("better", "fog", 1, 70, 95, seed=1),  # fog 1: errors 10 and 30 -> 20
                            _record("better", "fog", 2, 0, 95, seed=2, status="failed")]
    (table,) = corruption_tables(records, "base")
    better = table.variants[1]
    assert better.errors["fog"][1] == pytest.approx(20) and better.errors["fog"][2] == pytest.approx(15)
    assert better.ce["fog"] == pytest.approx((20 + 15 + 20) / 90)


def test_missing_severity_gives_no_ce_and_says_so() -> None:
    records = [r for r in _records() if not (r.label == "better" and r.evaluation["args"]["corruption"] == "contrast"
                                             and r.evaluation["args"]["severity"] == 3)]
    (table,) = corruption_tables(records, "base")
    better = table.variants[1]
    assert better.ce["contrast"] is None and better.mce == pytest.approx(0.5) and better.mce_corruptions == 1


def test_one_table_per_wrapped_dataset() -> None:
    other = {"name": "toy-questions", "args": {"n": 7}}
    records = _records() + [_record("base", "fog", 1, 50, 90, dataset=other)]
    tables = corruption_tables(records, "base")
    assert len(tables) == 2 and {len(t.variants) for t in tables} == {1, 2}


def test_clear_errors() -> None:
    with pytest.raises(CorruptionTableError, match="baseline variant 'nobody'.*variants: base, better"):
        corruption_tables(_records(), "nobody")
    with pytest.raises(CorruptionTableError, match="no successful records of shift 'corruption'"):
        corruption_tables([], "base")
    with pytest.raises(CorruptionTableError, match="full_scale"):
        corruption_tables([_record("base", "fog", 1, 450, 500)], "base")
    (table,) = corruption_tables([_record("base", "fog", 1, 450, 500)], "base", full_scale=600)
    assert table.variants[0].errors["fog"][1] == pytest.approx(150)


def test_on_a_real_run(tmp_path: Path) -> None:
    bench = {"models": [{"name": "toy-moe", "sweep": {"jitter": [0.05, 0.2]}}],
             "shifts": [{"name": "corruption", "args": {"dataset": {"name": "toy-colors", "args": {"n": 12}}},
                         "sweep": {"corruption": ["fog", "brightness"], "severity": [1, 3]}}],
             "batch_sizes": [12], "latency": {"warmup": 0, "repetitions": 1}}
    records = run_benchmark("c", bench, tmp_path, registry=explicit_registry(vleval_shifts.plugin)).results
    assert all(r.status == "ok" for r in records) and len(records) == 8
    (table,) = corruption_tables(records, "toy-moe(jitter=0.05)", full_scale=600)
    assert table.corruptions == ["brightness", "fog"] and table.severities == [1, 3]
    base, other = table.variants
    assert other.label == "toy-moe(jitter=0.2)"
    error = {(r.label, r.evaluation["args"]["corruption"], r.evaluation["args"]["severity"]): 600 - r.primary("target")
             for r in records}  # one record per cell: its error is 600 - its rsum on the corrupted target
    for (label, corruption, severity), value in error.items():
        assert next(v for v in table.variants if v.label == label).errors[corruption][severity] == pytest.approx(value)
    for corruption in ("fog", "brightness"):
        num = sum(error[(other.label, corruption, s)] for s in (1, 3))
        den = sum(error[(base.label, corruption, s)] for s in (1, 3))
        assert den > 0 and other.ce[corruption] == pytest.approx(num / den)
    assert base.mce == pytest.approx(1.0) and other.mce == pytest.approx((other.ce["fog"] + other.ce["brightness"]) / 2)


def test_corruptions_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vleval.cli import main

    bench = {"models": [{"name": "toy-moe", "sweep": {"jitter": [0.05, 0.2]}}],
             "shifts": [{"name": "corruption", "args": {"dataset": {"name": "toy-colors", "args": {"n": 8}}},
                         "sweep": {"corruption": ["fog"], "severity": [1, 2]}}],
             "batch_sizes": [8], "latency": {"warmup": 0, "repetitions": 1}}
    summary = run_benchmark("c", bench, tmp_path, registry=explicit_registry(vleval_shifts.plugin))
    capsys.readouterr()
    assert main(["corruptions", str(summary.path), "--baseline", "toy-moe(jitter=0.05)", "--full-scale", "600"]) == 0
    out = capsys.readouterr().out
    (table,) = corruption_tables(summary.results, "toy-moe(jitter=0.05)", full_scale=600)
    other = table.variants[1]
    assert "mCE" in out and f"{other.mce:.3f}" in out
    # bad input: an unknown baseline label
    assert main(["corruptions", str(summary.path), "--baseline", "nobody", "--full-scale", "600"]) == 2
    assert "baseline variant 'nobody'" in capsys.readouterr().err
