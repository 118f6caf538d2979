"""A reduced end-to-end run of the embedded default benchmark: trained weights, generated corpus, both shifts."""

from __future__ import annotations

import pytest
from conftest import TESTS

from vleval.boards import summaries as summary
from vleval.config.load import load_file, select
from vleval.executors.runner import run_benchmark
from vleval.results.record import Record
from vleval.results.store import validation_errors

ROOT = TESTS.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    name, bench = select(load_file(ROOT / "benchmarks.toml"), None)
    assert name == "default"
    bench = {**bench, "limit": 64, "latency": {"warmup": 1, "repetitions": 1}}
    captioning = [next(m for m in bench["models"] if m["name"] == "refmoe-cap")["shifts"][0]]
    bench["models"] = [{"name": "refmoe", "sweep": {"experts": [1, 16]}},
                       {"name": "refmoe", "sweep": {"experts": [16]}, "scaling": [{"top_k": 1}, {"prune_to": 4}]},
                       {"name": "refmoe-cap", "sweep": {"experts": [16]}, "shifts": captioning},
                       {"name": "refmoe-blind", "shifts": captioning}]
    out = tmp_path_factory.mktemp("default")
    result = run_benchmark(name, bench, out)
    assert not validation_errors([result.path])
    return result.records  # as written (JSON)


def test_every_cell_ran(records):
    assert len(records) == 4 * 2 + 2  # 4 encoder variants x 2 shifts; decoder and blind baseline on captioning
    assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]


def test_accuracy_is_far_above_chance_on_the_source_domain(records):
    for r in records:
        metrics = r["domains"]["source"]["metrics"]
        if r["task"] == "retrieval":  # chance R@1 on 64 images is 1/64; RSUM of chance is ~ 6 x 8 %
            assert metrics["retrieval-recall"]["t2i_r1"]["value"] > 10 * 100 / 64, r["cell"]["label"]
        elif r["task"] == "captioning":
            continue  # against the blind baseline below
        else:  # four options
            assert metrics["mc-accuracy"]["accuracy"]["value"] > 40, r["cell"]["label"]


def test_routing_covers_both_modalities_per_moe_layer(records):
    moe = [r for r in records if r["model_info"]["experts_per_layer"] and max(r["model_info"]["experts_per_layer"]) > 1]
    assert moe
    for r in moe:
        routing = r["domains"]["target"]["routing"]
        assert routing["tokens"]["image"] > 0 and routing["tokens"]["text"] > 0
        assert len(routing["layers"]) == len(r["model_info"]["moe_layers"])
        pruned = r["scaling"]["keep_experts"]
        for layer in routing["layers"]:
            assert abs(sum(layer["expert_load"]) - 1) < 1e-4  # loads are rounded to 6 decimals
            if pruned:
                used = {e for e, load in enumerate(layer["expert_load"]) if load > 0}
                assert used <= set(pruned[str(layer["layer"])])


def test_top_k_changes_active_parameters(records):
    by_label = {r["cell"]["label"]: r for r in records}
    assert (by_label["refmoe(experts=16, top_k=1)"]["model_info"]["active_params_per_token"]
            < by_label["refmoe(experts=16)"]["model_info"]["active_params_per_token"])


def test_research_summaries_are_produced(records):
    typed = [Record.from_json(r) for r in records]
    q1 = summary.section_text(summary.expert_scaling(typed))
    q2 = summary.section_text(summary.specialization(typed))
    assert any("mini-flickr30k->mini-mscoco" in line for line in q1)
    assert any("mini-natural->synthetic" in line for line in q1)
    assert any("L1=" in line for line in q2)


def test_packaged_weights_were_trained_on_the_corpus_the_generator_makes_now():
    """Guards against a generator change without retraining (`python -m vleval_models.refmoe.train`)."""
    import json

    from safetensors import safe_open

    from vleval_corpus.cache import ensure_corpus
    from vleval_datasets.karpathy import KarpathyDataset

    weights = ROOT / "plugins" / "vleval_models" / "refmoe" / "weights"
    manifest = json.loads((weights / "manifest.json").read_text())
    paths = ensure_corpus()
    train = KarpathyDataset(paths.flickr_annotations, paths.flickr_images, split="train")
    assert train.content_hash() == manifest["corpus"]["datasets"]["flickr_train"]
    for variant in manifest["variants"].values():
        with safe_open(weights / variant["file"], framework="pt") as handle:
            header = json.loads(handle.metadata()["refmoe"])
        assert header["corpus_content_hash"] == manifest["corpus"]["content_hash"], variant["file"]


def test_captions_from_the_image_beat_the_blind_baseline_and_carry_decode_latency(records):
    cider = {r["cell"]["model"]: r["domains"]["source"]["metrics"]["coco-caption"]["cider"]["value"]
             for r in records if r["task"] == "captioning"}
    assert cider["refmoe-cap"] > 2 * cider["refmoe-blind"], cider
    decoder = next(r for r in records if r["cell"]["model"] == "refmoe-cap")
    for domain in decoder["domains"].values():
        latency = domain["latency"]
        assert latency["time_to_first_token_ms"]["p50"] > 0 and latency["time_per_output_token_ms"] > 0
        assert latency["decode_tokens_per_s"] > 0
