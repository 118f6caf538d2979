"""docs/datasets-and-metrics.md documents every built-in dataset's and metric's arguments and output keys."""

from __future__ import annotations

import inspect
import re

import pytest
from conftest import TESTS

import vleval_datasets.plugin
import vleval_metrics.plugin
from vleval.testing import plugin_registry, sample_outputs

DOC = (TESTS.parent / "docs" / "datasets-and-metrics.md").read_text()
REGISTRY = plugin_registry(vleval_datasets.plugin, vleval_metrics.plugin)


def _section(name: str) -> str:
    """The text under the ``###`` heading that starts with ``name``, up to the next heading of that level."""
    match = re.search(rf"^### {re.escape(name)}\b.*?$(.*?)(?=^##+ |\Z)", DOC, flags=re.M | re.S)
    assert match, f"no section for {name!r}"
    return match.group(1)


def _arguments(kind: str, name: str) -> list[str]:
    return list(inspect.signature(REGISTRY.get(kind, name).load()).parameters)


@pytest.mark.parametrize(("kind", "name"), [("dataset", "karpathy"), ("dataset", "mmbench"),
                                            ("metric", "mc-accuracy"), ("metric", "circular-accuracy"),
                                            ("metric", "coco-caption")])
def test_every_factory_argument_is_documented(kind: str, name: str) -> None:
    section = _section(name)
    arguments = _arguments(kind, name)
    assert arguments
    for argument in arguments:
        assert f"`{argument}`" in section or f"`{argument} =" in section, (name, argument)


@pytest.mark.parametrize("name", ["retrieval-recall", "mc-accuracy", "circular-accuracy", "coco-caption",
                                  "caption-bleu"])
def test_every_output_key_is_documented(name: str) -> None:
    section = _section(name)
    metric = REGISTRY.create("metric", name, {"tokenizer": "python", "meteor": False} if name == "coco-caption"
                             else {})
    keys = set(metric.compute(sample_outputs(metric.task)))
    assert f"`{metric.primary}`" in section
    for key in keys:
        if "/l2/" in key:
            assert f"`{key.split('/')[0]}/l2/<l2-category>`" in section, key
        elif "/" in key:
            assert f"`{key.split('/')[0]}/<category>`" in section, key
        else:
            assert f"`{key}`" in section, key
