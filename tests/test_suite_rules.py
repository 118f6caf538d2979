"""The suite's own rules (tests/conftest.py): the quick tier (``pytest -m "not slow"``) starts no process, a test
leaves torch's thread count as it found it, and a toy run shared across the session fails it when a test changes it."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

import pytest
import torch
from conftest import TORCH_THREADS, TOY_SWEEP, shared_run, torch_threads_kept

REFUSED = r"test_suite_rules\.py::test_a_quick_test_cannot_start_a_process starts a process .* @pytest\.mark\.slow"


def test_a_quick_test_cannot_start_a_process():
    with pytest.raises(pytest.fail.Exception, match=REFUSED):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    with pytest.raises(pytest.fail.Exception, match=REFUSED):
        multiprocessing.get_context("spawn").Process(target=print).start()


@pytest.mark.slow
def test_a_slow_test_may_start_one():
    assert subprocess.run([sys.executable, "-c", "pass"], check=False).returncode == 0


def test_torch_threads_are_put_back_after_a_test():
    with torch_threads_kept():
        torch.set_num_threads(TORCH_THREADS + 1)  # as an in-process cell with `threads` does
    assert torch.get_num_threads() == TORCH_THREADS


def test_an_unchanged_shared_run_passes_teardown(tmp_path_factory):
    teardown = shared_run(tmp_path_factory, "unchanged", TOY_SWEEP)
    summary = next(teardown)
    assert [r.status for r in summary.results] == ["ok", "ok"]
    with pytest.raises(StopIteration):
        next(teardown)


@pytest.mark.parametrize("change", ["record", "file", "new file"])
def test_a_changed_shared_run_fails_teardown(tmp_path_factory, change):
    teardown = shared_run(tmp_path_factory, "changed", TOY_SWEEP)
    summary = next(teardown)
    if change == "record":
        summary.results[0].status = "failed"
    elif change == "file":
        summary.path.write_text(summary.path.read_text()[:-1])
    else:
        (summary.path.parent / "report.html").write_text("")
    with pytest.raises(pytest.fail.Exception, match="a test changed the shared changed run"):
        next(teardown)
