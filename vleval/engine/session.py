"""What the cells run by one process share: the registry, and the plugin instances and metrics created from it."""

from __future__ import annotations

from vleval.engine.instances import Instances
from vleval.engine.metric_selection import Metrics
from vleval.registry.discovery import Registry


class Session:
    """One registry's :class:`~vleval.engine.instances.Instances` (models, shifts, datasets, hashes, prepared
    data) and :class:`~vleval.engine.metric_selection.Metrics`, kept across cells (and across the runs a worker
    process serves)."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.instances = Instances(registry)
        self.metrics = Metrics(registry)

    def release_model(self) -> None:
        """Drop the loaded model (the end of a run, or of a worker)."""
        self.instances.release_model()
