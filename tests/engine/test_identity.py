"""Cell identity: one formula for resolved and unresolved cells; an unresolved key never matches a resolved one."""

from __future__ import annotations

import pytest
from conftest import toy_benchmark

from vleval.engine.identity import cell_key, unresolved_key
from vleval.engine.instances import Instances
from vleval.plan.cells import plan
from vleval.registry.discovery import PluginError


def test_a_cell_whose_plugins_cannot_be_resolved_gets_the_unresolved_key(toy_registry):
    (cell,) = plan("toy", toy_benchmark(models=[{"name": "no-such-model"}], datasets=[])).cells
    with pytest.raises(PluginError) as missing:
        toy_registry.get("model", "no-such-model")
    reason = f"PluginError: {missing.value}"
    assert cell_key(cell, Instances(toy_registry)) == unresolved_key(cell, reason)
    assert unresolved_key(cell, reason) != unresolved_key(cell, "another reason")


def test_an_unresolved_key_never_matches_the_resolved_one(toy_registry):
    cells = plan("toy", toy_benchmark(datasets=[])).cells
    resolved = {cell_key(cell, Instances(toy_registry)) for cell in cells}
    assert len(resolved) == len(cells)
    assert not resolved & {unresolved_key(cell, "the worker died") for cell in cells}
