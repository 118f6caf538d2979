"""The compiled fast path of schema validation (``schema.proven_valid``) against jsonschema itself.

The fast path may only prove a record valid: whatever it accepts, jsonschema must accept too (and report no
non-finite number); on plain JSON it must agree exactly (otherwise it would save nothing). Errors of invalid
records keep jsonschema's messages.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from typing import Any

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vleval.config import schema

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
RECORDS: list[dict[str, Any]] = []
EDGE_VALUES = [None, True, False, 0, -1, 1, 1.0, 1.5, -0.5, 2**70, "", "x", "ok", "failed", "skipped", "source",
               "data", "nope", "cuda_events", "1.0", "0" * 64, "0" * 63, "0" * 64 + "\n", "g" * 64,
               "2024-01-01T00:00:00Z", "not a date", [], [1], ["x"], [None], {}, {"name": "x"},
               {"value": 1.0}, {"p50": 1.0, "p90": 2.0, "p99": 3.0}, float("nan"), float("inf"), (1, 2), ("x",),
               np.float64(1.5), np.float64(2.0), np.float64(-1.0), np.float64("nan"), np.int64(3), np.str_("ok")]
#: one value of each kind for the brute force over every path (each costs about 1.5 s)
BRUTE_VALUES = [None, True, -1, 1.0, 1.5, "", "0" * 64, [], {}, {"value": 1.0}, float("nan"), (1, 2),
                np.float64(-1.5), np.int64(3)]


@functools.cache
def _reference_validator(name: str) -> Any:
    raw = json.loads((schema.schema_dir() / f"{name}.schema.json").read_text())
    cls = jsonschema.validators.validator_for(raw)
    return cls(raw, format_checker=cls.FORMAT_CHECKER)


def _reference_errors(name: str, instance: Any) -> list[str]:
    """The validation before the fast path: jsonschema's errors (closest sub-error of anyOf/oneOf), NaN/inf."""
    found = sorted(_reference_validator(name).iter_errors(instance),
                   key=lambda e: (-len(e.absolute_path), str(e.message)))
    pairs = schema.non_finite(instance)
    for err in found:
        detail = max(err.context, key=lambda e: len(e.absolute_path)) if err.context else err
        pairs.append((schema.key_path(detail.absolute_path), detail.message))
    return [f"{where}: {message}" for where, message in pairs]


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


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        out += [p for k, v in value.items() for p in _paths(v, (*path, k))]
    elif isinstance(value, list):
        out += [p for i, v in enumerate(value) for p in _paths(v, (*path, i))]
    return out


def _mutate(record: dict[str, Any], path: tuple, op: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    if not path:
        return out
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "delete" and isinstance(parent, dict):
        del parent[last]
    elif op == "add" and isinstance(parent, dict):
        parent[f"extra_{last}"] = value
    elif op == "add_to" and isinstance(parent[last], dict):
        parent[last]["zz_extra"] = value
    else:
        parent[last] = value
    return out


def _ends_in_newline(value: Any) -> bool:
    """A string with a trailing newline: ``pattern``'s ``$`` accepts it in jsonschema, not in the fast path."""
    if isinstance(value, str):
        return value.endswith("\n")
    if isinstance(value, dict):
        return any(_ends_in_newline(k) or _ends_in_newline(v) for k, v in value.items())
    return isinstance(value, list | tuple) and any(_ends_in_newline(v) for v in value)


json_values = st.recursive(
    st.sampled_from(EDGE_VALUES) | st.integers() | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8)


def _check(instance: Any) -> None:
    expected = _reference_errors("result", instance)
    fast = schema.proven_valid("result", instance)
    if fast:
        assert expected == [], "the fast path accepted a record that jsonschema rejects"
    if schema._plain(instance) and not _ends_in_newline(instance):
        assert fast == (not expected)
    assert schema.errors("result", instance) == expected  # same messages, in the same order


def test_the_fast_path_is_available_and_proves_real_records_valid():
    assert schema.fast_validator("result") is not None and schema.fast_validator("benchmark") is not None
    assert RECORDS and all(schema.proven_valid("result", r) for r in RECORDS)
    numpy_floats = copy.deepcopy(RECORDS[0])  # as a record is before it is written: numpy floats in places
    next(iter(numpy_floats["domains"].values()))["latency"]["batch_ms"]["p50"] = np.float64(2.5)
    assert schema.proven_valid("result", numpy_floats)
    assert all(_reference_errors("result", r) == [] for r in RECORDS)


@SETTINGS
@given(st.data())
def test_fast_path_agrees_with_jsonschema_on_mutated_records(data):
    record = data.draw(st.sampled_from(RECORDS))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(record)))
        op = data.draw(st.sampled_from(["replace", "delete", "add", "add_to"]))
        record = _mutate(record, path, op, data.draw(json_values))
    _check(record)


@pytest.mark.parametrize("value", BRUTE_VALUES, ids=repr)
def test_every_edge_value_at_every_path_of_a_record(value):
    """Brute force: each edge value put at each path of a record (the first element of each list stands for all
    of them), and each key dropped."""
    base = RECORDS[0]
    paths = [p for p in _paths(base)[1:] if not any(type(part) is int and part > 0 for part in p)]
    for path in paths:
        _check(_mutate(base, path, "replace", value))
        if value is None:
            _check(_mutate(base, path, "delete", value))


def test_non_plain_values_go_to_jsonschema():
    record = copy.deepcopy(RECORDS[0])
    domain = next(iter(record["domains"].values()))
    domain["latency"]["passes"]["mean_sample_ms"] = (1.0,)  # a tuple is not a JSON array for jsonschema
    assert not schema.proven_valid("result", record)
    assert schema.errors("result", record) == _reference_errors("result", record) != []
    domain["latency"]["passes"]["mean_sample_ms"] = [math.nan]
    assert any("nan is not a finite number" in e for e in schema.errors("result", record))


def test_invalid_record_raises_with_jsonschema_messages():
    record = {**copy.deepcopy(RECORDS[0]), "seed": -1, "status": "failed"}
    with pytest.raises(schema.ValidationFailed) as err:
        schema.check("result", record, "record for cell 'x'")
    assert str(err.value) == ("record for cell 'x': does not match result.schema.json:\n  "
                              + "\n  ".join(_reference_errors("result", record)))
    assert "seed: -1 is less than the minimum of 0" in str(err.value)
    assert "(top level): 'error' is a required property" in str(err.value)


@pytest.mark.parametrize("name", ["result", "benchmark"])
def test_shipped_schemas_are_valid_and_fast_compatible(name):
    raw = json.loads((schema.schema_dir() / f"{name}.schema.json").read_text())
    jsonschema.validators.validator_for(raw).check_schema(raw)
    assert schema._fast_compatible(raw)[0]


@pytest.mark.parametrize("node", [
    {"prefixItems": [{"type": "string"}]}, {"items": [{"type": "string"}]}, {"uniqueItems": True},
    {"$ref": "#/$defs/x", "type": "object"}, {"$ref": "https://example.com/s.json"},
    {"properties": {"a": {"contains": {"type": "integer"}}}}, {"dependentRequired": {"a": ["b"]}},
    {"minimum": "0"}])
def test_keywords_outside_the_shared_set_disable_the_fast_path(node):
    assert not schema._fast_compatible(node)[0]
