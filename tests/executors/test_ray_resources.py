"""What a Ray cell asks of the cluster, checked without a cluster: task options from a model entry's resources,
requests no node can meet refused naming the entry, and a cluster that cannot be reached an ExecutorError."""

from __future__ import annotations

import pytest
from conftest import toy_benchmark

from vleval.config.load import ConfigError
from vleval.executors import ray_executor
from vleval.executors.errors import ExecutorError
from vleval.executors.ray_executor import RayExecutor, RayOptions
from vleval.executors.ray_resources import check_feasible, task_options
from vleval.plan.cells import plan


def node(address: str, **resources: float) -> dict:
    return {"NodeManagerAddress": address, "Alive": True, "Resources": {"node:" + address: 1.0, **resources}}


def test_task_options_of_a_resources_table():
    assert task_options({}) == {"num_cpus": 1, "num_gpus": 0, "max_retries": 0, "retry_exceptions": False}
    table = {"num_cpus": 4, "num_gpus": 0.5, "memory": 2**30, "a100": 1}
    assert task_options(table) == {"num_cpus": 4, "num_gpus": 0.5, "max_retries": 0, "retry_exceptions": False,
                                   "memory": 2**30, "resources": {"a100": 1}}
    assert table == {"num_cpus": 4, "num_gpus": 0.5, "memory": 2**30, "a100": 1}  # the cell's own table untouched


def test_a_request_no_node_meets_names_its_model_entry():
    bench = toy_benchmark(models=[{"name": "toy-moe", "resources": {"num_cpus": 2}},
                                  {"name": "toy-moe", "label": "big", "resources": {"num_gpus": 1}}], datasets=[])
    planned = plan("toy", bench)
    nodes = [node("10.0.0.1", CPU=2.0), node("10.0.0.2", CPU=8.0, memory=4.0)]
    with pytest.raises(ConfigError, match=r"^benchmarks\.toy\.models\[1\]\.resources: no node of the Ray cluster "
                                          r"has CPU=1, GPU=1 \(nodes: 10\.0\.0\.1: CPU=2; 10\.0\.0\.2: CPU=8, "
                                          r"memory=4\)$"):
        check_feasible("toy", planned.cells, nodes)
    check_feasible("toy", planned.cells, [*nodes, node("10.0.0.3", CPU=1.0, GPU=1.0)])  # now one can


class Unreachable:
    """A ``ray`` module whose cluster cannot be reached."""

    def __init__(self):
        self.shut = False

    def is_initialized(self) -> bool:
        return False

    def init(self, **kwargs):
        raise ConnectionError("no GCS at 127.0.0.1:1")

    def shutdown(self):
        self.shut = True


def test_an_unreachable_cluster_is_an_executor_error(monkeypatch, tmp_path, toy_registry):
    fake = Unreachable()
    monkeypatch.setattr(ray_executor, "import_ray", lambda: fake)
    executor = RayExecutor(RayOptions(address="127.0.0.1:1"), registry=toy_registry)
    with pytest.raises(ExecutorError, match=r"cannot connect to the Ray cluster at 127\.0\.0\.1:1: no GCS"):
        executor.prepare(plan("toy", toy_benchmark()))
    executor.close()
    assert not fake.shut  # never connected: nothing to disconnect
