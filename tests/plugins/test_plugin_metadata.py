"""Each first-party registration writes its name, version and description once: in the hook module when the
factory is a lazy ``"module:Attr"`` string (its class then declares none of them), else on the class itself."""

from __future__ import annotations

import importlib
import importlib.metadata as md

import pytest

from vleval.testing import plugin_registry

METADATA = ("name", "version", "description")
FIRST_PARTY = sorted((ep.name, ep.value) for ep in md.entry_points(group="vleval")
                     if ep.dist and ep.dist.name == "vleval")


def registrations(module_name: str) -> list[tuple[object, dict[str, str | None]]]:
    """``(factory, keyword arguments)`` exactly as the hook module passes them to ``register``."""
    module = importlib.import_module(module_name)
    seen: list[tuple[object, dict[str, str | None]]] = []

    def register(factory: object, **kwargs: str | None) -> None:
        seen.append((factory, kwargs))

    for hook in ("register_models", "register_datasets", "register_shifts", "register_metrics"):
        if hasattr(module, hook):
            getattr(module, hook)(register)
    return seen


def written_twice(factory: object, kwargs: dict[str, str | None]) -> list[str]:
    """The metadata both passed to ``register`` and declared by the factory (loaded if given as a string)."""
    if isinstance(factory, str):
        module, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
    return [f for f in METADATA if kwargs.get(f) is not None and f in vars(factory)]


def test_every_first_party_entry_point_is_checked():
    assert {name for name, _ in FIRST_PARTY} == {"refmoe", "hf", "datasets", "corpus", "shifts", "metrics", "openai"}


@pytest.mark.parametrize(("entry_point", "module_name"), FIRST_PARTY)
def test_metadata_is_written_once(entry_point, module_name):
    found = registrations(module_name)
    assert found, entry_point
    twice = {str(factory): both for factory, kwargs in found if (both := written_twice(factory, kwargs))}
    assert not twice, f"{entry_point}: written both in the hook module and on the factory: {twice}"
    for factory, kwargs in found:
        if isinstance(factory, str):  # nothing to read from a string: all three are passed
            assert all(kwargs.get(f) for f in METADATA), (entry_point, factory)


@pytest.mark.parametrize(("entry_point", "module_name"), FIRST_PARTY)
def test_the_registry_reads_what_was_written(entry_point, module_name):
    registry = plugin_registry(importlib.import_module(module_name))
    for factory, kwargs in registrations(module_name):
        expected = kwargs if isinstance(factory, str) else {f: vars(factory)[f] for f in METADATA}
        kind = next(k for k, regs in registry.items.items() if expected["name"] in regs)
        reg = registry.items[kind][expected["name"]]
        assert (reg.name, reg.version, reg.description) == tuple(expected[f] for f in METADATA), entry_point


def test_a_class_declaring_what_the_hook_module_passes_is_caught():
    class Drifted:
        name, version, description = "x", "0.2.0", "old words"

    assert written_twice(Drifted, {"name": "x", "version": "0.1.0", "description": "new words"}) == list(METADATA)
    assert written_twice(Drifted, {}) == []
