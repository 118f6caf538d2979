"""Property-based tests of the results reader: any bytes in → a clean read or named problems, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vleval.results.store import Problem, ResultsFileError, ResultStore, scan, split_lines

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


def good_record() -> bytes:
    """One valid record line, produced once by a real toy run (see the ``good_line`` fixture)."""
    return GOOD_LINE[0]


GOOD_LINE: list[bytes] = []


@pytest.fixture(scope="module", autouse=True)
def good_line(tmp_path_factory):
    from conftest import explicit_registry, toy_benchmark

    from vleval.executors.runner import run_benchmark

    bench = toy_benchmark(models=[{"name": "toy-moe"}], datasets=[], latency={"warmup": 0, "repetitions": 1})
    summary = run_benchmark("toy", bench, tmp_path_factory.mktemp("good"), registry=explicit_registry())
    GOOD_LINE[:] = [summary.path.read_bytes().splitlines()[0]]


def check_scan(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    found = scan(path)
    lines = split_lines(data)
    good = {n for n, _ in found.records}
    assert good.isdisjoint(found.bad_lines)
    assert good | found.bad_lines == {n for n, raw in enumerate(lines, 1) if raw.strip()}
    for problem in found.problems:
        assert isinstance(problem, Problem) and str(problem).startswith(f"{path}:{problem.line}: ")


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_read_cleanly(tmp_path, data):
    check_scan(tmp_path / "r.jsonl", data)


@SETTINGS
@given(st.lists(json_values, max_size=6))
def test_arbitrary_json_lines_are_named_problems(tmp_path, values):
    data = b"".join(json.dumps(v).encode() + b"\n" for v in values)
    check_scan(tmp_path / "r.jsonl", data)
    assert scan(tmp_path / "r.jsonl").records == []  # none of them is a valid record


@SETTINGS
@given(st.lists(st.one_of(st.just(None), st.binary(max_size=60), json_values.map(lambda v: json.dumps(v).encode())),
                max_size=8))
def test_good_records_survive_any_neighbours_and_repair_moves_only_bad_lines(tmp_path, mixed):
    lines = [good_record() if x is None else x.replace(b"\n", b" ") for x in mixed]
    path = tmp_path / "r.jsonl"
    for old in tmp_path.iterdir():
        os.remove(old)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    found = scan(path)
    expected_good = [n for n, line in enumerate(lines, 1) if line == good_record()]
    blank = sum(1 for line in lines if not line.strip())
    assert [n for n, _ in found.records] == expected_good
    store = ResultStore(path)
    if found.problems:
        before = path.read_bytes()
        with pytest.raises(ResultsFileError, match="nothing was changed"):
            store.check()
        assert path.read_bytes() == before
        ResultStore(path).check(repair=True)
        (quarantine,) = tmp_path.glob("r.bad-*.jsonl")
        assert quarantine.read_bytes().count(b"\n") == len(found.bad_lines)
    assert not scan(path).problems and path.read_bytes().count(b"\n") == len(expected_good) + blank
