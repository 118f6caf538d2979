"""The runner drives any :class:`~vleval.executors.base.Executor`: prepare before the results file is touched,
every identity, the cells not complete, and close whatever happens."""

from __future__ import annotations

import pytest
from conftest import toy_benchmark

from vleval.config.load import ConfigError
from vleval.engine.progress import Progress
from vleval.executors.base import Job, failed_record
from vleval.executors.in_process import InProcessExecutor
from vleval.executors.runner import run_benchmark
from vleval.plan.cells import Cell, Plan, plan


class Recording:
    """An executor that runs cells in this process (through :class:`InProcessExecutor`) and logs each call."""

    def __init__(self, registry, refuse: bool = False):
        self.inner, self.refuse, self.calls = InProcessExecutor(registry), refuse, []

    def prepare(self, planned: Plan) -> None:
        self.calls.append(("prepare", len(planned.cells)))
        if self.refuse:
            raise ConfigError("refused")
        self.inner.prepare(planned)

    def keys(self, cells: list[Cell]) -> list[str]:
        self.calls.append(("keys", len(cells)))
        return self.inner.keys(cells)

    def run_many(self, jobs: list[Job], run_id: str, progress: Progress, results):
        self.calls.append(("run_many", [job.cell.label for job in jobs]))
        yield from self.inner.run_many(jobs, run_id, progress, results)

    def close(self) -> None:
        self.calls.append(("close",))
        self.inner.close()


def test_the_runner_calls_prepare_keys_run_many_then_close(tmp_path, toy_registry):
    bench = toy_benchmark(models=[{"name": "toy-moe", "sweep": {"experts": [2, 3]}}], datasets=[])
    first = Recording(toy_registry)
    summary = run_benchmark("toy", bench, tmp_path, executor=first)
    assert [r.status for r in summary.results] == ["ok", "ok"]
    assert first.calls == [("prepare", 2), ("keys", 2), ("run_many", ["toy-moe(experts=2)", "toy-moe(experts=3)"]),
                           ("close",)]
    again = Recording(toy_registry)
    resumed = run_benchmark("toy", bench, tmp_path, executor=again, resume=True)
    assert resumed.resumed == 2 and again.calls[2] == ("run_many", [])  # complete cells are not sent


def test_a_refused_plan_closes_the_executor_before_the_results_file_exists(tmp_path, toy_registry):
    executor = Recording(toy_registry, refuse=True)
    with pytest.raises(ConfigError, match="refused"):
        run_benchmark("toy", toy_benchmark(), tmp_path, executor=executor)
    assert executor.calls == [("prepare", 12), ("close",)]
    assert not (tmp_path / "toy.jsonl").exists()


def test_a_bad_benchmark_closes_the_executor_too(tmp_path, toy_registry):
    executor = Recording(toy_registry)
    with pytest.raises(ConfigError):
        run_benchmark("toy", toy_benchmark(models=[{"name": "toy-moe", "sweep": {"experts": 4}}]), tmp_path,
                      executor=executor)
    assert executor.calls == [("close",)]


def test_the_failed_record_of_a_job_that_produced_none():
    (cell,) = plan("toy", toy_benchmark(models=[{"name": "toy-moe"}], datasets=[])).cells
    record = failed_record(Job(cell, "k" * 64), "run1", TimeoutError("no answer"), {"error": "no fingerprint"})
    assert (record.status, record.cell_key, record.run_id) == ("failed", "k" * 64, "run1")
    assert record.error["type"] == "TimeoutError" and record.error["message"] == "no answer"
    assert record.cell == cell.config() and record.environment == {"error": "no fingerprint"}
