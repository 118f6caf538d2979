"""The conformance kit (vleval.testing) on the first-party and toy plugins, created by registered name.

That each check can fail is shown in test_conformance_failures.py."""

from __future__ import annotations

import json

import pytest
import toy_plugins

from vleval.registry.discovery import LoadPolicy, Registry
from vleval.testing import check_dataset, check_metric, check_model, check_shift, sample_outputs

FIRST_PARTY_METRICS = sorted(r.name for r in Registry.discover(policy=LoadPolicy()).all()
                             if r.kind == "metric" and r.distribution.startswith("vleval "))


@pytest.fixture(scope="module")
def registry() -> Registry:
    """Installed entry points (first-party plugins) and the toy plugins, whatever VLEVAL_*_PLUGINS say."""
    return Registry.discover(extra_plugins=[toy_plugins], policy=LoadPolicy())


@pytest.fixture(scope="module")
def corpus_shifts(registry, tmp_path_factory):
    """The two offline corpus shifts, with the corpus generated into a temporary VLEVAL_CACHE."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VLEVAL_CACHE", str(tmp_path_factory.mktemp("cache")))
        shifts = {name: registry.create("shift", name) for name in ("mini-flickr30k->mini-mscoco",
                                                                      "mini-natural->synthetic")}
        for shift in shifts.values():
            shift.source()  # generates the corpus while VLEVAL_CACHE points at the temporary directory
        yield shifts


# -- first-party and toy plugins, created by registered name ---------------------------------------------------------

@pytest.mark.parametrize("experts", [1, 4, 16])
def test_refmoe_conforms(registry, experts):
    report = check_model(registry.create("model", "refmoe", {"experts": experts}), name="refmoe")
    if experts == 1:
        assert "routing" in report.skipped and "scale_experts()" in report.passed
    else:
        assert {"routing", "scale_experts(top_k)", "scale_experts(keep_experts)", "scale_experts rejects"} \
            <= set(report.passed)


@pytest.mark.parametrize("experts", [2, 4])
def test_toy_moe_conforms(registry, experts):
    report = check_model(registry.create("model", "toy-moe", {"experts": experts}), name="toy-moe")
    assert not report.skipped


def test_toy_text_double_is_caught_declaring_generate_without_implementing_it(registry):
    with pytest.raises(AssertionError, match="^toy-text: generate: expected an implementation"):
        check_model(registry.create("model", "toy-text"), name="toy-text")


def test_every_first_party_metric_is_checked():
    assert {"retrieval-recall", "mc-accuracy", "circular-accuracy"} <= set(FIRST_PARTY_METRICS)


#: Java scorers take ~20 s a call on 2 cores; they are exercised by the metric's own tests
METRIC_ARGS = {"coco-caption": {"tokenizer": "python", "meteor": False}}


@pytest.mark.parametrize("name", FIRST_PARTY_METRICS)
def test_first_party_metrics_conform(registry, name):
    metric = registry.create("metric", name, METRIC_ARGS.get(name))
    assert check_metric(metric, name=name).passed == ["values", "deterministic"]
    check_metric(metric, sample_outputs(metric.task, n=4, seed=1), name=name)


def test_toy_datasets_and_shift_conform(registry):
    colours = check_dataset(registry.create("dataset", "toy-colors"), name="toy-colors",
                            fresh=lambda: registry.create("dataset", "toy-colors"),
                            modified=lambda: registry.create("dataset", "toy-colors", {"noise": 5.0}))
    assert not colours.skipped
    check_dataset(registry.create("dataset", "toy-questions", {"n": 3}), name="toy-questions")
    check_shift(registry.create("shift", "toy-noise"), name="toy-noise", registry=registry, create=True)


def test_corpus_shifts_and_their_mini_datasets_conform(registry, corpus_shifts):
    for name, shift in corpus_shifts.items():
        check_shift(shift, name=name, registry=registry, create=True)
        for spec in (shift.source(), shift.target(), shift.calibration()):
            report = check_dataset(registry.create("dataset", spec.name, spec.args), name=spec.name,
                                   fresh=lambda spec=spec: registry.create("dataset", spec.name, spec.args))
            assert "content_hash stable across instances" in report.passed


def test_karpathy_hash_changes_when_one_caption_changes(registry, corpus_shifts, tmp_path):
    spec = corpus_shifts["mini-flickr30k->mini-mscoco"].source()
    with open(spec.args["annotations"]) as handle:
        annotations = json.load(handle)
    edited = tmp_path / "edited.json"
    first = next(image for image in annotations["images"] if image["split"] == spec.args.get("split", "test"))
    first["sentences"][0]["raw"] += " (edited)"
    edited.write_text(json.dumps(annotations))
    args = {**spec.args, "annotations": str(edited)}
    check_dataset(registry.create("dataset", "karpathy", spec.args), name="karpathy",
                  modified=lambda: registry.create("dataset", "karpathy", args))


@pytest.mark.parametrize(("arch", "text_only"), [("qwen3_moe", True), ("deepseek_v3", True), ("gpt_oss", True),
                                                 ("qwen3_vl_moe", False), ("internvl", False)])
def test_hf_tiny_checkpoints_conform(registry, tmp_path, arch, text_only):
    from fixtures import tiny_hf

    path = tiny_hf.build(arch, tmp_path / arch)
    report = check_model(registry.create("model", "hf", {"path": str(path)}), name=f"hf:{arch}", text_only=text_only)
    assert {"routing", "generate", "scale_experts(top_k)", "scale_experts(keep_experts)"} <= set(report.passed)
    assert ("embed" in report.passed) is not text_only
