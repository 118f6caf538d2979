"""Names are not paths; non-UTF-8 input files and non-finite config values are clear errors naming file and key."""

from __future__ import annotations

import pytest
from conftest import TESTS, cli_error, toy_benchmark

from vleval.cli import main
from vleval.config.load import load_file
from vleval.engine import tested
from vleval.executors.runner import run_benchmark
from vleval.results.store import ResultsFileError

REPO = TESTS.parent
PATTERN = "does not match '^[A-Za-z0-9][A-Za-z0-9._+>-]*$'"


def test_existing_names_stay_valid():
    data = load_file(REPO / "benchmarks.toml")  # shift names such as mini-flickr30k->mini-mscoco
    assert any("->" in s["name"] for b in data["benchmarks"].values() for s in b.get("shifts", []))


@pytest.mark.parametrize(("toml", "expected"), [
    ('[benchmarks."../escaped"]\nmodels = [{ name = "toy-moe" }]\nshifts = [{ name = "toy-noise" }]\n',
     f"benchmarks: '../escaped' {PATTERN}"),
    ('[benchmarks.a]\nmodels = [{ name = "../m" }]\nshifts = [{ name = "toy-noise" }]\n',
     f"benchmarks.a.models[0].name: '../m' {PATTERN}"),
    ('[benchmarks.a]\nmodels = [{ name = "toy-moe" }]\ndatasets = [{ name = "/etc/x" }]\n',
     f"benchmarks.a.datasets[0].name: '/etc/x' {PATTERN}"),
    ('[benchmarks.a]\nmodels = [{ name = "toy-moe" }]\nshifts = [{ name = "a/../b" }]\n',
     f"benchmarks.a.shifts[0].name: 'a/../b' {PATTERN}"),
    ('[benchmarks.a]\nmodels = [{ name = "toy-moe" }]\nshifts = [{ name = "s" }]\nmetrics = ["m/x"]\n',
     f"benchmarks.a.metrics[0]: 'm/x' {PATTERN}"),
    ('[benchmarks.a]\nmodels = [{ name = "toy-moe", args = { x = nan } }]\nshifts = [{ name = "s" }]\n',
     "benchmarks.a.models[0].args.x: nan is not a finite number"),
    ('[benchmarks.a]\nmodels = [{ name = "toy-moe" }]\nshifts = [{ name = "s", args = { t = [1, -inf] } }]\n',
     "benchmarks.a.shifts[0].args.t[1]: -inf is not a finite number"),
])
def test_bad_names_and_values_are_refused_naming_file_and_key(tmp_path, capsys, toml, expected):
    path = tmp_path / "b.toml"
    path.write_text(toml)
    out = tmp_path / "out"
    assert main(["run", "--in-process", "-c", str(path), "-o", str(out)]) == 2
    error = cli_error(capsys.readouterr().err)
    assert error == f"vleval: error: {path}: does not match benchmark.schema.json:\n  {expected}\n"
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["b.toml"]  # nothing written


def test_adhoc_non_finite_argument_is_refused(tmp_path, capsys):
    assert main(["run", "--in-process", "--model", "toy-moe", "--model-args", "x=inf", "--shift", "toy-noise",
                 "-o", str(tmp_path / "out")]) == 2
    error = cli_error(capsys.readouterr().err)
    assert error == ("vleval: error: benchmark: does not match benchmark.schema.json:\n"
                     "  benchmarks.adhoc.models[0].args.x: inf is not a finite number\n")


def test_results_path_stays_inside_the_output_directory(tmp_path, toy_registry):
    out = tmp_path / "out"
    for name in ("../escaped", "/tmp/abs", "a/b", ".hidden", "x."):
        with pytest.raises(ResultsFileError, match="is not a plain name"):
            run_benchmark(name, toy_benchmark(), out, registry=toy_registry, validated=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_non_utf8_benchmarks_file_names_the_file_and_byte(tmp_path, capsys):
    path = tmp_path / "b.toml"
    path.write_bytes(b'[benchmarks.a]\nmodels = [{ name = "caf\xe9" }]\n')
    assert main(["run", "--in-process", "-c", str(path)]) == 2
    assert cli_error(capsys.readouterr().err) == f"vleval: error: {path}: not UTF-8 text (byte 0xe9 at offset 38)\n"


def test_an_untested_release_warning_first_on_stderr_leaves_the_error_exact(tmp_path, capsys, monkeypatch):
    """As with the newest releases (transformers 5.25.0 when 5.24.0 is locked): the warning precedes the error."""
    monkeypatch.setattr(tested, "untested", lambda installed=None: ["transformers 5.25.0 (tested: 5.21.0, 5.24.0)"])
    path = tmp_path / "b.toml"
    path.write_bytes(b'[benchmarks.a]\nmodels = [{ name = "caf\xe9" }]\n')
    assert main(["run", "--in-process", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("warning: untested release(s): transformers 5.25.0 (tested: 5.21.0, 5.24.0)"), err
    assert cli_error(err) == f"vleval: error: {path}: not UTF-8 text (byte 0xe9 at offset 38)\n"
