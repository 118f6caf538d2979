"""The plugin instances a process's cells share, each created once from the registry: the loaded model (one at a
time), shifts, datasets, their content hashes and their prepared (decoded) items.

:class:`Instances` is the one owner of these caches; metrics are cached by :mod:`vleval.engine.metric_selection`.
"""

from __future__ import annotations

import json
from typing import Any

from vleval.api import Dataset, DatasetSpec, Model, Shift
from vleval.api.shift import TransformedDataset
from vleval.engine.prepared import Budget, PreparedData
from vleval.plan.cells import Cell, Evaluation
from vleval.registry.discovery import Registry


def cache_key(*parts: Any) -> str:
    """One cache key of JSON-able parts (plugin names and arguments)."""
    return json.dumps(parts, sort_keys=True, default=str)


def _spec_key(spec: DatasetSpec, *more: Any) -> str:
    """Cache key of a domain: dataset name and arguments, and the transform's identity if any."""
    transform = spec.transform.identity() if spec.transform is not None else None
    return cache_key(spec.name, spec.args, transform, *more) if transform else cache_key(spec.name, spec.args, *more)


class Instances:
    """Models, shifts, datasets, content hashes and prepared data created from ``registry``, cached for the cells
    of a run (and, in a worker process, of every run it serves)."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._model_key: str | None = None
        self._model: Model | None = None
        self._shifts: dict[str, Shift] = {}
        self._datasets: dict[str, Dataset] = {}
        self._hashes: dict[str, str] = {}
        self._prepared: dict[str, PreparedData] = {}
        self._budget = Budget()

    def model(self, cell: Cell) -> Model:
        """The cell's model; consecutive cells of one variant share it, a new variant releases the previous one."""
        key = cache_key(cell.model, cell.model_args)
        if key != self._model_key:
            self.release_model()
            self._model = self.registry.create("model", cell.model, cell.model_args)
            self._model_key = key
        return self._model

    def release_model(self) -> None:
        self._model, self._model_key = None, None

    def shift(self, evaluation: Evaluation) -> Shift:
        key = cache_key(evaluation.name, evaluation.args)
        if key not in self._shifts:
            self._shifts[key] = self.registry.create("shift", evaluation.name, evaluation.args)
        return self._shifts[key]

    def domains(self, evaluation: Evaluation) -> dict[str, DatasetSpec]:
        """``{"data": spec}`` for a dataset, ``{"source": ..., "target": ...}`` for a shift."""
        if evaluation.kind == "dataset":
            return {"data": DatasetSpec(evaluation.name, evaluation.args)}
        shift = self.shift(evaluation)
        return {"source": shift.source(), "target": shift.target()}

    def dataset(self, spec: DatasetSpec) -> Dataset:
        """The registered dataset of ``spec``; with a transform, the same items through it (a transform shift's
        target)."""
        key = _spec_key(spec)
        if key not in self._datasets:
            if spec.transform is not None:
                self._datasets[key] = TransformedDataset(self.dataset(spec.untransformed()), spec.transform)
            else:
                self._datasets[key] = self.registry.create("dataset", spec.name, spec.args)
        return self._datasets[key]

    def prepared(self, spec: DatasetSpec, batch_size: int, limit: int | None) -> PreparedData:
        """The data's items in batches, decoded once for the whole run (within the memory budget)."""
        key = _spec_key(spec, batch_size, limit)
        if key not in self._prepared:
            self._prepared[key] = PreparedData(self.dataset(spec), batch_size, limit, self._budget)
        return self._prepared[key]

    def content_hash(self, spec: DatasetSpec) -> str:
        """The data's content hash; a transformed domain's is that of (source hash, shift, version, params)."""
        key = _spec_key(spec)
        if key not in self._hashes:
            self._hashes[key] = self.dataset(spec).content_hash()
        return self._hashes[key]
