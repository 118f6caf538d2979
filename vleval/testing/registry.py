"""``plugin_registry``: the things some hook modules register, in isolation, refusing broken or conflicting ones."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from vleval.registry.discovery import LoadPolicy, Registry


def plugin_registry(*plugins: ModuleType | object, entry_points: bool = False) -> Registry:
    """A :class:`~vleval.registry.discovery.Registry` of ``plugins`` only (plus installed entry points if
    ``entry_points``).

    Raises :class:`AssertionError` if a plugin is broken (import error, unknown hook, incompatible API version, a
    registration lacking name/version/description) or a name is registered twice.
    """
    registry = Registry.discover(extra_plugins=plugins, entry_points=entry_points, policy=LoadPolicy())
    problems = [f"plugin {b.plugin!r} ({b.distribution}) is broken: {b.error}" for b in registry.broken]
    problems += [f"{kind} {name!r} is registered by {len(regs)} plugins" for (kind, name), regs
                 in registry.conflicts.items()]
    if problems:
        raise AssertionError("; ".join(problems))
    for registration in registry.all():
        _load(registration)
    return registry


def _load(registration: Any) -> None:
    try:
        registration.load()
    except Exception as exc:
        raise AssertionError(f"{registration.kind} {registration.name!r} (plugin {registration.plugin!r}): factory: "
                             f"expected an importable factory; got {exc}") from None
