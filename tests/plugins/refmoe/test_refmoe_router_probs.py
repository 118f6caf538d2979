"""Router probabilities in routing traces: the RefMoE encoder and decoder record them, per-token routing entropy from
a traced pass equals an independent computation from the router logits, malformed ``probs`` are refused, and a
small end-to-end run reports ``token_entropy`` per layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PIL_Image

from vleval.api import CAPTION_PROMPT, Model, Prompt, RoutingTrace
from vleval.engine import routing
from vleval.results.store import validation_errors
from vleval_models.refmoe.adapter import RefMoE
from vleval_models.refmoe.caption_adapter import RefMoECap

TEXTS = ["a red circle in the top left of the image", "blue square", "a green cross", "triangle at the bottom"]


def _images(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [PIL_Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(n)]


class RouterLogits:
    """Independent record of every router's output logits, by layer, from forward hooks on the router linears."""

    def __init__(self, moes: list) -> None:
        self.logits: dict[int, list[np.ndarray]] = {m.layer: [] for m in moes}
        self.handles = [m.router.register_forward_hook(self._hook(m.layer)) for m in moes]

    def _hook(self, layer: int):
        def hook(module, args, out):
            self.logits[layer].append(out.detach().double().numpy())
        return hook

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def _reference(logits: np.ndarray, keep: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Softmax over the (kept) experts and the mean normalised entropy, by hand in float64."""
    z = logits if keep is None else np.where(keep, logits, -np.inf)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    terms = np.zeros_like(p)
    np.multiply(p, np.log(p, where=p > 0, out=np.zeros_like(p)), out=terms, where=p > 0)
    return p, float((-terms.sum(axis=1) / np.log(logits.shape[1])).mean())


def _check(trace: RoutingTrace, probe: RouterLogits, keep: dict[int, np.ndarray] | None = None) -> None:
    summary = {entry["layer"]: entry for entry in routing.summarize(trace)["layers"]}
    assert set(summary) == set(probe.logits) and len(summary) == 2
    for layer, calls in probe.logits.items():
        events = [e for e in trace.events if e.layer == layer]
        assert len(events) == len(calls) > 0
        mask = None if keep is None else keep[layer]
        for event, logits in zip(events, calls, strict=True):
            assert event.probs is not None and event.probs.dtype == np.float32
            assert event.probs.shape == (len(event.experts), event.num_experts)
            np.testing.assert_allclose(event.probs, _reference(logits, mask)[0], rtol=0, atol=2e-6)
            if mask is not None:
                assert not event.probs[:, ~mask].any()  # pruned experts: probability exactly 0
        want = _reference(np.concatenate(calls), mask)[1]
        assert routing.token_entropy(events) == pytest.approx(want, abs=1e-6)
        assert summary[layer]["token_entropy"] == pytest.approx(want, abs=2e-6)
        assert 0 < want < 1


def test_encoder_token_entropy_equals_the_entropy_of_the_router_softmax() -> None:
    model = RefMoE(experts=16)
    probe = RouterLogits(model.net.moe_modules())
    try:
        with model.trace_routing() as trace:
            model.embed_images(_images(3))
            model.embed_texts(TEXTS)  # padded batch: padding never reaches the router, nor the trace
    finally:
        probe.close()
    _check(trace, probe)


def test_pruned_experts_get_zero_probability_and_entropy_follows_the_kept_ones() -> None:
    model = RefMoE(experts=16)
    keep_ids = {m.layer: [0, 3, 5, 9, 12] for m in model.net.moe_modules()}
    keep = {layer: np.isin(np.arange(16), ids) for layer, ids in keep_ids.items()}
    probe = RouterLogits(model.net.moe_modules())
    try:
        with model.scale_experts(keep_experts=keep_ids), model.trace_routing() as trace:
            model.embed_images(_images(2, seed=1))
    finally:
        probe.close()
    _check(trace, probe, keep)


def test_decoder_records_probs_for_prefill_and_every_decode_step() -> None:
    model = RefMoECap(experts=8)
    probe = RouterLogits(model.net.moe_modules())
    prompts = [Prompt(CAPTION_PROMPT, image, max_new_tokens=6) for image in _images(3, seed=2)]
    try:
        with model.trace_routing() as trace:
            model.generate(prompts)
    finally:
        probe.close()
    assert {e.phase for e in trace.events} == {"prefill", "decode"}
    _check(trace, probe)


def test_dense_variant_records_nothing_and_a_model_without_probs_has_no_token_entropy() -> None:
    dense = RefMoE(experts=1)
    with dense.trace_routing() as trace:
        dense.embed_texts(TEXTS[:2])
    assert not trace.events

    class IdsOnly(Model):  # a model that passes no probs (as before this field existed)
        pass

    model = IdsOnly()
    with model.trace_routing() as trace:
        model.record_routing(1, 4, np.array([[0, 1], [2, 3]]), [0, 1])
    assert trace.events[0].probs is None and routing.token_entropy(trace.events) is None
    assert "token_entropy" not in routing.summarize(trace)["layers"][0]


@pytest.mark.parametrize("shape", [(3, 4), (2, 5), (2,), (2, 4, 1)])
def test_probs_of_the_wrong_shape_are_refused_naming_the_layer(shape: tuple[int, ...]) -> None:
    model = Model()
    with model.trace_routing(), pytest.raises(ValueError, match=r"routing of layer 7: probs must be \[tokens, "
                                                             r"num_experts\] = \[2, 4\]"):
        model.record_routing(7, 4, torch.tensor([[0, 1], [2, 3]]), 0, probs=torch.full(shape, 0.25))
    model.record_routing(7, 4, [[0, 1]], 0, probs=np.ones((5, 5)))  # not tracing: a no-op, nothing validated


def test_probs_are_stored_as_float32_from_any_float_tensor() -> None:
    model = Model()
    probs = torch.tensor([[0.5, 0.25, 0.125, 0.125]], dtype=torch.bfloat16)
    with model.trace_routing() as trace:
        model.record_routing(0, 4, torch.tensor([[0, 1]]), 1, probs=probs)
    stored = trace.events[0].probs
    assert stored.dtype == np.float32 and stored.tolist() == [[0.5, 0.25, 0.125, 0.125]]
    want = -(0.5 * np.log(0.5) + 0.25 * np.log(0.25) + 2 * 0.125 * np.log(0.125)) / np.log(4)
    assert routing.token_entropy(trace.events) == pytest.approx(want)


# ------------------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def record(tmp_path_factory) -> dict:
    import vleval_corpus.plugin
    import vleval_datasets.plugin
    import vleval_metrics.plugin
    import vleval_models.refmoe.plugin
    from vleval.executors.runner import run_benchmark
    from vleval.registry.discovery import Registry

    registry = Registry.discover(extra_plugins=[vleval_models.refmoe.plugin, vleval_metrics.plugin,
                                                vleval_datasets.plugin, vleval_corpus.plugin], entry_points=False)
    bench = {"models": [{"name": "refmoe", "sweep": {"experts": [4]}}],
             "shifts": [{"name": "mini-natural->synthetic"}], "metrics": ["mc-accuracy"],
             "limit": 16, "batch_sizes": [16], "threads": 1, "latency": {"warmup": 0, "repetitions": 1}}
    result = run_benchmark("probs", bench, Path(tmp_path_factory.mktemp("probs")), registry=registry)
    assert not validation_errors([result.path])
    (out,) = result.records
    return out


def test_end_to_end_record_has_token_entropy_per_layer(record: dict) -> None:
    assert record["status"] == "ok", record.get("error")
    for domain in ("source", "target"):
        layers = record["domains"][domain]["routing"]["layers"]
        assert [entry["layer"] for entry in layers] == record["model_info"]["moe_layers"]
        for entry in layers:
            assert 0 <= entry["token_entropy"] <= 1, entry
