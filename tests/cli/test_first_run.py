"""First contact: --version, results files that respect the umask, the moved-aside file named, all-failed boards."""

from __future__ import annotations

import os
import stat

import pytest
from conftest import toy_benchmark
from rich.console import Console

from vleval import __version__
from vleval.cli import main
from vleval.cli.console import print_report
from vleval.executors.runner import run_benchmark

ONE_CELL = {"models": [{"name": "toy-moe"}], "datasets": [], "latency": {"warmup": 0, "repetitions": 1}}


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"vleval {__version__}"


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o077])
def test_results_files_respect_the_umask(tmp_path, toy_registry, umask):
    saved = os.umask(umask)
    try:
        summary = run_benchmark("toy", toy_benchmark(**ONE_CELL), tmp_path, registry=toy_registry)
    finally:
        os.umask(saved)
    for path in (summary.path, summary.path.with_name("toy.jsonl.lock")):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask, path


def test_a_second_run_names_the_earlier_file_it_moved_aside(tmp_path, toy_registry):
    first = run_benchmark("toy", toy_benchmark(**ONE_CELL), tmp_path, registry=toy_registry)
    earlier = first.path.read_bytes()
    second = run_benchmark("toy", toy_benchmark(**ONE_CELL), tmp_path, registry=toy_registry)
    assert second.moved_aside is not None and second.moved_aside.read_bytes() == earlier
    console = Console(record=True, width=400)
    print_report(console, second, 1.0)
    assert f"the earlier results file was moved aside to {second.moved_aside}" in console.export_text()
    assert first.moved_aside is None


def test_leaderboard_of_records_that_all_failed_says_so(tmp_path, toy_registry, capsys):
    bench = toy_benchmark(**{**ONE_CELL, "models": [{"name": "toy-moe", "args": {"fail": True}}],
                             "seeds": [0, 1]})
    summary = run_benchmark("toy", bench, tmp_path, registry=toy_registry)
    assert main(["leaderboard", str(summary.path)]) == 2  # nothing rankable: bad input, not a failed cell
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == ("vleval: 2 records, all failed: toy-moe(fail=True): RuntimeError: toy model "
                                    "asked to fail; toy-moe(fail=True): RuntimeError: toy model asked to fail")
