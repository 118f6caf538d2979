"""A cell's identity (``cell_key``): what ``--resume`` matches and each record and sidecar is named by.

It hashes the cell's config, the versions of its plugins (and the model factory's fingerprint of its weights) and
the content hashes of its data, so a changed dataset, plugin release or retrained weights make a new cell.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vleval.engine.instances import Instances
from vleval.plan.cells import Cell


def cell_key(cell: Cell, instances: Instances) -> str:
    """Identity of a cell's result: its config, the versions of its plugins and its data's content hashes. A cell
    whose plugins cannot be resolved gets :func:`unresolved_key` (it fails with the reason when it runs)."""
    registry = instances.registry
    try:
        data = {d: [s.name, registry.get("dataset", s.name).version, instances.content_hash(s)]
                for d, s in instances.domains(cell.evaluation).items()}
        model = registry.get("model", cell.model)
        versions = [model.version, model.fingerprint(cell.model_args)]
        if cell.evaluation.kind == "shift":
            versions.append(registry.get("shift", cell.evaluation.name).version)
    except Exception as exc:  # resolved again, and recorded as a failure, when the cell runs
        return unresolved_key(cell, f"{type(exc).__name__}: {exc}")
    return _digest(cell, versions, data)


def unresolved_key(cell: Cell, reason: str) -> str:
    """The identity of a cell whose plugins could not be resolved (``reason``): never that of a complete cell, so
    ``--resume`` runs it again."""
    return _digest(cell, [], {"unresolved": reason})


def _digest(cell: Cell, versions: list[Any], data: dict[str, Any]) -> str:
    blob = json.dumps([cell.config_hash(), versions, data], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
