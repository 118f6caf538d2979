"""Schema validation (jsonschema alone): real records pass, and a bad record's errors name every key path."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import jsonschema
import numpy as np
import pytest

from vleval.config import schema

RECORDS: list[dict[str, Any]] = []


@pytest.fixture(scope="module", autouse=True)
def records(tmp_path_factory):
    """Real records of a toy run: a dataset and a shift cell (``ok``), and the same as failed and skipped."""
    from conftest import explicit_registry, toy_benchmark

    from vleval.executors.runner import run_benchmark

    bench = toy_benchmark(models=[{"name": "toy-moe"}], latency={"warmup": 0, "repetitions": 1})
    summary = run_benchmark("toy", bench, tmp_path_factory.mktemp("records"), registry=explicit_registry())
    ok = [json.loads(line) for line in summary.path.read_text().splitlines()]
    failed = {**copy.deepcopy(ok[0]), "status": "failed", "error": {"type": "E", "message": "m"}}
    skipped = {**copy.deepcopy(ok[0]), "status": "skipped", "skip_reason": "r"}
    RECORDS[:] = [*ok, failed, skipped]


def test_real_records_are_valid_also_with_numpy_floats():
    assert len(RECORDS) >= 4 and all(schema.errors("result", r) == [] for r in RECORDS)
    numpy_floats = copy.deepcopy(RECORDS[0])  # as a record is before it is written: numpy floats in places
    next(iter(numpy_floats["domains"].values()))["latency"]["batch_ms"]["p50"] = np.float64(2.5)
    assert schema.errors("result", numpy_floats) == []


def test_invalid_record_raises_naming_each_key_path():
    record = {**copy.deepcopy(RECORDS[0]), "seed": -1, "status": "failed"}
    with pytest.raises(schema.ValidationFailed) as err:
        schema.check("result", record, "record for cell 'x'")
    message = str(err.value)
    assert message.startswith("record for cell 'x': does not match result.schema.json:\n  ")
    assert "seed: -1 is less than the minimum of 0" in message
    assert "(top level): 'error' is a required property" in message


def test_non_finite_numbers_and_tuples_are_reported():
    record = copy.deepcopy(RECORDS[0])
    name = next(iter(record["domains"]))
    passes = record["domains"][name]["latency"]["passes"]
    passes["mean_sample_ms"] = (1.0,)  # a tuple is not a JSON array
    where = f"domains.{name}.latency.passes.mean_sample_ms" if name.isidentifier() else None
    found = schema.errors("result", record)
    assert found and (where is None or any(e.startswith(where) for e in found)), found
    passes["mean_sample_ms"] = [math.nan]
    assert any("nan is not a finite number" in e for e in schema.errors("result", record))


@pytest.mark.parametrize("name", ["result", "benchmark"])
def test_shipped_schemas_are_valid(name):
    raw = json.loads((schema.schema_dir() / f"{name}.schema.json").read_text())
    jsonschema.validators.validator_for(raw).check_schema(raw)
