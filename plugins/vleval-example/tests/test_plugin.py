"""vleval-example against the plugin contract, with vleval's conformance kit (``pytest tests`` in this folder)."""

from pathlib import Path

import pytest

import vleval_example.plugin
from vleval.testing import check_dataset, check_metric, check_model, check_shift, plugin_registry
from vleval_example.swatches import write_swatches


@pytest.fixture(scope="module")
def registry():
    """Only this plugin's registrations; fails if the plugin is broken or a factory string does not import."""
    return plugin_registry(vleval_example.plugin)


@pytest.mark.parametrize("args", [{}, {"experts": 16, "top_k": 4}, {"experts": 1, "top_k": 1}])
def test_model_conforms(registry, args):
    # shapes, info(), routing traces, and scale_experts(top_k=..., keep_experts=...) taking effect and restoring
    # bitwise-identical outputs
    check_model(registry.create("model", "example-colour-moe", args), name="example-colour-moe")


def test_dataset_and_shift_conform(registry, tmp_path: Path):
    plain = write_swatches(tmp_path / "plain", "plain", test=6, val=3)
    striped = write_swatches(tmp_path / "striped", "striped", test=6, val=3)
    other = write_swatches(tmp_path / "other", "plain", test=6, val=3, seed=1)  # same layout, other pixels

    def folder(root: Path):
        return lambda: registry.create("dataset", "example-folder", {"root": str(root)})

    check_dataset(folder(plain)(), name="example-folder", fresh=folder(plain), modified=folder(other))
    shift = registry.create("shift", "example-folder-shift", {"source": str(plain), "target": str(striped)})
    check_shift(shift, name="example-folder-shift", registry=registry, create=True)


def test_metric_conforms(registry):
    check_metric(registry.create("metric", "median-rank"), name="median-rank")
