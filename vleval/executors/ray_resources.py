"""What a Ray cell asks of the cluster: its model entry's ``resources`` table (``num_cpus`` (default 1),
``num_gpus``, ``memory`` in bytes, any custom resource) as Ray task options, and whether any alive node can meet it."""

from __future__ import annotations

from typing import Any

from vleval.config.load import ConfigError
from vleval.plan.cells import Cell

NAMES = {"num_cpus": "CPU", "num_gpus": "GPU"}  # resources-table keys -> the names a node reports


def node_needs(resources: dict[str, float]) -> dict[str, float]:
    """A resources table in the names a node reports (``CPU``, ``GPU``, ``memory``, custom)."""
    needs = {NAMES.get(k, k): float(v) for k, v in resources.items()}
    needs.setdefault("CPU", 1.0)
    return {k: v for k, v in needs.items() if v > 0}


def fits(node: dict[str, Any], needs: dict[str, float]) -> bool:
    return all(node["Resources"].get(k, 0.0) >= v for k, v in needs.items())


def check_feasible(benchmark: str, cells: list[Cell], nodes: list[dict[str, Any]]) -> None:
    """Refuse, naming ``benchmarks.<name>.models[<i>].resources``, a request no alive node can meet (a
    :class:`~vleval.config.load.ConfigError`: the benchmark asks for more than the cluster has)."""
    for index, resources in {cell.model_index: cell.resources for cell in cells}.items():
        needs = node_needs(resources)
        if not any(fits(node, needs) for node in nodes):
            have = "; ".join(f"{n['NodeManagerAddress']}: {show(n['Resources'])}" for n in nodes)
            raise ConfigError(f"benchmarks.{benchmark}.models[{index}].resources: no node of the Ray cluster has "
                              f"{show(needs)} (nodes: {have or 'none alive'})")


def task_options(resources: dict[str, float]) -> dict[str, Any]:
    """The Ray task options of a cell's resources table (no retries by Ray: the executor retries itself)."""
    rest = dict(resources)
    opts: dict[str, Any] = {"num_cpus": rest.pop("num_cpus", 1), "num_gpus": rest.pop("num_gpus", 0),
                            "max_retries": 0, "retry_exceptions": False}
    if "memory" in rest:
        opts["memory"] = rest.pop("memory")
    if rest:
        opts["resources"] = rest
    return opts


def show(resources: dict[str, float]) -> str:
    shown = {k: v for k, v in resources.items() if not k.startswith("node:") and k != "object_store_memory"}
    return ", ".join(f"{k}={v:g}" for k, v in sorted(shown.items())) or "nothing"
