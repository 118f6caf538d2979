"""A reduced captioning run of the committed RefMoE-Cap decoders through the runner: mini-Flickr30K -> mini-MSCOCO
caption items (built here from the corpus' Karpathy files), coco-caption metrics, decode-aware latency, routing of
prefill and decode, the blind baseline far below the decoders on the source domain."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vleval.api import CaptionItem, DatasetSpec, Shift, Task, hookimpl
from vleval.results.store import validation_errors

VLEVAL_API_VERSION = "1"


class CorpusCaptions:
    """The corpus' Karpathy files as captioning items (every reference caption), until the corpus shift's
    captioning view is available."""

    task = Task.CAPTIONING

    def __init__(self, annotations: str, images: str, split: str = "test"):
        from vleval_datasets.karpathy import KarpathyDataset

        self.data = KarpathyDataset(annotations, images, split=split, captions_per_image="all")
        self.id = f"captions:{self.data.id}"

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> CaptionItem:
        item = self.data[index]
        return CaptionItem(item.id, item.image, list(item.captions))

    def content_hash(self) -> str:
        return self.data.content_hash()

    def describe(self) -> dict:
        return {"split": self.data.split}


class CorpusCaptionShift(Shift):
    name, version, description = "test-caption-shift", "0.1.0", "corpus captions: flickr-style -> coco-style"

    def __init__(self) -> None:
        from vleval_corpus.cache import ensure_corpus

        self.paths = ensure_corpus()

    def _spec(self, coco: bool, split: str) -> DatasetSpec:
        p = self.paths
        ann, img = (p.coco_annotations, p.coco_images) if coco else (p.flickr_annotations, p.flickr_images)
        return DatasetSpec("test-captions", {"annotations": str(ann), "images": str(img), "split": split})

    def source(self) -> DatasetSpec:
        return self._spec(False, "test")

    def target(self) -> DatasetSpec:
        return self._spec(True, "test")

    def calibration(self) -> DatasetSpec:
        return self._spec(False, "val")


@hookimpl
def register_datasets(register):
    register(CorpusCaptions, name="test-captions", version="0.1.0", description="corpus Karpathy files as captions")


@hookimpl
def register_shifts(register):
    register(CorpusCaptionShift, name="test-caption-shift", version="0.1.0", description="corpus captions shift")


METRIC = {"name": "coco-caption", "args": {"tokenizer": "python", "meteor": False}}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    import vleval_metrics.plugin
    import vleval_models.refmoe.plugin
    from vleval.executors.runner import run_benchmark
    from vleval.registry.discovery import Registry

    registry = Registry.discover(extra_plugins=[sys.modules[__name__], vleval_models.refmoe.plugin,
                                                vleval_metrics.plugin], entry_points=False)
    bench = {
        "models": [{"name": "refmoe-cap", "sweep": {"experts": [1, 8]}},
                   {"name": "refmoe-cap", "sweep": {"experts": [8]}, "scaling": [{"top_k": 1}, {"prune_to": 4}]},
                   {"name": "refmoe-blind"}],
        "shifts": [{"name": "test-caption-shift"}],
        "metrics": [METRIC], "limit": 48, "batch_sizes": [16], "threads": 1,
        "latency": {"warmup": 1, "repetitions": 1},
    }
    result = run_benchmark("captions", bench, Path(tmp_path_factory.mktemp("captions")), registry=registry)
    assert not validation_errors([result.path])
    return {r["cell"]["label"]: r for r in result.records}


def test_every_cell_ran_with_coco_caption(records):
    assert len(records) == 5
    for label, r in records.items():
        assert r["status"] == "ok", (label, r.get("error"))
        assert r["task"] == "captioning" and r["primary_metric"]["metric"] == "coco-caption"
        assert r["primary_metric"]["key"] == "cider"
        for domain in ("source", "target"):
            assert r["domains"][domain]["metrics"]["coco-caption"]["cider"]["value"] >= 0


def test_decoders_are_far_above_the_blind_baseline_on_the_source(records):
    blind = records["refmoe-blind"]["domains"]["source"]["metrics"]["coco-caption"]["cider"]["value"]
    for label, r in records.items():
        if label.startswith("refmoe-cap") and "top_k" not in label and "prune_to" not in label:
            cider = r["domains"]["source"]["metrics"]["coco-caption"]["cider"]["value"]
            assert cider > 2 * blind + 20, (label, cider, blind)


def test_latency_has_ttft_and_time_per_output_token(records):
    for label, r in records.items():
        if label == "refmoe-blind":
            continue
        latency = r["domains"]["source"]["latency"]
        assert latency["time_to_first_token_ms"]["p50"] > 0, label
        assert latency["time_per_output_token_ms"] > 0 and latency["decode_tokens_per_s"] > 0, label
        assert {"vision", "prefill", "decode"} <= set(latency["phases_ms"]), label


def test_routing_of_decoders_covers_image_and_text_tokens(records):
    for label in ("refmoe-cap(experts=8)", "refmoe-cap(experts=8, prune_to=4)"):
        r = records[label]
        routing = r["domains"]["target"]["routing"]
        assert routing["tokens"]["image"] > 0 and routing["tokens"]["text"] > 0, label
        assert [layer["layer"] for layer in routing["layers"]] == r["model_info"]["moe_layers"]
        keep = r["scaling"]["keep_experts"]
        for layer in routing["layers"]:
            if keep:
                used = {e for e, load in enumerate(layer["expert_load"]) if load > 0}
                assert used <= set(keep[str(layer["layer"])])
    assert (records["refmoe-cap(experts=8, top_k=1)"]["model_info"]["active_params_per_token"]
            < records["refmoe-cap(experts=8)"]["model_info"]["active_params_per_token"])
