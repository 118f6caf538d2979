"""Which plugin produced a record's parts: name, version, distribution, entry point, and the weights' fingerprint."""

from __future__ import annotations

from typing import Any

from vleval.registry.discovery import Registry
from vleval.results.record import PluginRef


def plugin_ref(registry: Registry, kind: str, name: str, fingerprint: dict[str, Any] | None = None) -> PluginRef:
    """The registration of plugin ``name`` of ``kind``; with ``fingerprint`` (the factory's arguments), also the
    factory's ``fingerprint(**arguments)``."""
    reg = registry.get(kind, name)
    return PluginRef(reg.name, reg.version, reg.distribution, reg.plugin,
                     reg.fingerprint(fingerprint) if fingerprint is not None else None)
