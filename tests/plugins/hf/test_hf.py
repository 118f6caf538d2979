"""The ``hf`` model plugin on tiny random checkpoints of every supported MoE architecture, built offline.

Runs in a few seconds on CPU: every checkpoint has 2 layers, hidden size 32, 4-8 experts and a tiny vision tower.

Routing is checked against an independent recomputation from each router's own weights applied to the hidden states
seen at the router's input (bias correction and group limits included); top-k override and pruning are checked to
take effect and to restore the model bitwise.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from fixtures import tiny_hf
from fixtures.hf_models import batch_for, image, load, logits_of
from fixtures.hf_reference import RouterInputs, check_trace, expected, traced_forward

from vleval.api import IMAGE, TEXT, Capability, MCItem, Prompt
from vleval.engine.latency import LatencyRecorder
from vleval_models.hf.routers import UnsupportedMoEError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # transformers'

ARCHS = list(tiny_hf.ARCHS)


# ------------------------------------------------------------------------------------------------- routing


@pytest.mark.parametrize("arch", ARCHS)
def test_routing_matches_recomputation_from_router_weights(arch):
    model = load(arch)
    batch = batch_for(model)
    assert batch["attention_mask"].min() == 0, "the batch must contain padding"
    trace, probe = traced_forward(model, batch)
    check_trace(model, batch, trace.events, expected(probe.calls, model=model))
    if model.is_vlm:
        assert sum(int((e.modality == IMAGE).sum()) for e in trace.events) > 0
    info = model.info()
    assert info.moe_layers and info.experts_per_layer and info.active_params_per_token < info.total_params
    for site in model.sites:  # the table documents where each router sits
        pattern = site.spec.path.replace(".", r"\.").replace("{", "(").replace("}", ")").replace(",", "|")
        assert re.search(r"layers\.\d+\." + pattern + "$", site.name), (site.name, site.spec.path)


@pytest.mark.parametrize("arch", ARCHS)
def test_top_k_override_takes_effect_and_restores_bitwise(arch):
    model = load(arch)
    batch = batch_for(model)
    before = logits_of(model, batch)
    if arch == "phimoe":
        with pytest.raises(UnsupportedMoEError, match="always selects exactly 2"), model.scale_experts(top_k=1):
            pass
        return
    probe = RouterInputs(model)
    try:
        with model.scale_experts(top_k=1), model.trace_routing() as trace, torch.no_grad():
            changed = model.model(**batch, use_cache=False).logits
    finally:
        probe.close()
    assert {e.experts.shape[1] for e in trace.events} == {1}
    check_trace(model, batch, trace.events, expected(probe.calls, k=1, model=model))
    assert not torch.equal(changed, before)
    assert torch.equal(logits_of(model, batch), before)
    assert model.info().top_k == 2


@pytest.mark.parametrize("arch", ARCHS)
def test_pruning_selects_only_kept_experts_and_restores_bitwise(arch):
    model = load(arch)
    batch = batch_for(model)
    before = logits_of(model, batch)
    keep_ids: dict[int, list[int]] = {}
    for site in model.sites:  # the upper half of every router's experts (text and vision halves for ernie)
        half = site.num_experts // 2
        keep_ids.setdefault(site.layer, []).extend(range(site.offset + half, site.offset + site.num_experts))
    keep_mask = {layer: np.isin(np.arange(model.sites[0].layer_experts), ids) for layer, ids in keep_ids.items()}
    probe = RouterInputs(model)
    try:
        with model.scale_experts(keep_experts=keep_ids), model.trace_routing() as trace, torch.no_grad():
            pruned = model.model(**batch, use_cache=False).logits
    finally:
        probe.close()
    for event in trace.events:
        assert set(np.unique(event.experts)) <= set(keep_ids[event.layer])
    check_trace(model, batch, trace.events, expected(probe.calls, keep=keep_mask, model=model))
    assert not torch.equal(pruned, before)
    assert torch.equal(logits_of(model, batch), before)


@pytest.mark.parametrize("arch", ARCHS)
def test_public_calls_run_and_are_traced_on_every_architecture(arch):
    """generate / score_options / embed through the plugin's own preprocessing (images where it can take them)."""
    model = load(arch)
    img = [image(3), image(4)] if model.takes_images else [None, None]
    prompts = [Prompt("what is this ?", image=img[0], max_new_tokens=3), Prompt("a cat", image=img[1])]
    items = [MCItem(index=i, image=img[i], question="which color ?", options={"A": "red", "B": "blue"}, answer="A")
             for i in range(2)]
    recorder = LatencyRecorder()
    with model.trace_routing() as trace:
        with recorder.measure(batch_size=2):
            texts = model.generate(prompts)
        scores = model.score_options(items)
    phases = {"vision", "prefill", "decode"} if model.takes_images else {"prefill", "decode"}
    assert set(recorder.phase_ns) == phases and recorder.phase_tokens["decode"] >= 2
    assert sum(sum(v) for v in recorder.phase_ns.values()) <= recorder.batch_ns[0]
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    assert len(scores) == 2 and all(len(s) == 2 and all(np.isfinite(s)) for s in scores)
    assert {e.phase for e in trace.events} == {"prefill", "decode"}
    image_rows = sum(int((e.modality == IMAGE).sum()) for e in trace.events)
    assert (image_rows > 0) == model.takes_images
    if Capability.EMBED in model.capabilities:
        assert model.embed_images(img).shape[0] == 2 and model.embed_texts(["a cat"]).shape[0] == 1
    extra = model.info().extra
    assert extra["pruning_reduces_compute"] is False
    assert extra["top_k_reduces_compute"] is (arch != "llama4")


@pytest.mark.parametrize("arch", ["kimi_k25", "llama4"])
def test_latency_split_without_an_image_processor(arch):
    """Their image processors need torchvision: inputs are built by hand, the vision phase is still separated."""
    model = load(arch)
    batch = batch_for(model)
    recorder = LatencyRecorder()
    with recorder.measure(batch_size=2), torch.no_grad():
        model.model.generate(**batch, max_new_tokens=3, do_sample=False, pad_token_id=model.tokenizer.pad_token_id)
    assert set(recorder.phase_ns) == {"vision", "prefill", "decode"}
    assert len(recorder.phase_ns["vision"]) == len(recorder.phase_ns["prefill"]) == 1


@pytest.mark.parametrize("arch", ARCHS)
def test_decode_steps_are_recorded_per_token(arch):
    """Every decode step of a generate() call is recorded as decode, with one routed row per live sequence.

    The expected count comes from the generated ids alone: decode step j feeds each sequence its token j-1, and a
    sequence that has produced a stop token is fed padding from then on. Phase detection must not depend on the
    names of transformers' cache arguments, so a rename upstream makes this test fail instead of turning decode
    steps into prefills.
    """
    model = load(arch)
    batch = batch_for(model)
    recorder = LatencyRecorder()
    with model.trace_routing() as trace, recorder.measure(batch_size=2), torch.no_grad():
        seqs = model.model.generate(
            **batch, max_new_tokens=5, min_new_tokens=5, do_sample=False, pad_token_id=model.tokenizer.pad_token_id
        )
    new = seqs[:, batch["input_ids"].shape[1]:].numpy()
    steps = new.shape[1] - 1
    assert steps == 4
    stop = np.array(model.stop_token_ids)
    live = [sum(1 for row in new if not np.isin(row[:j], stop).any()) for j in range(1, steps + 1)]
    layers = model.info().moe_layers
    decode = [e for e in trace.events if e.phase == "decode"]
    assert [e.layer for e in decode] == layers
    for event in decode:
        assert event.experts.shape[0] == sum(live) and (event.modality == TEXT).all()
    assert len(recorder.phase_ns["decode"]) == steps
    assert recorder.phase_tokens["decode"] == sum(live)
    prefill = [e for e in trace.events if e.phase == "prefill"]
    assert [e.layer for e in prefill] == layers
    valid = int(batch["attention_mask"].sum())  # every non-padding prompt token, image tokens included
    assert all(e.experts.shape[0] == valid for e in prefill)


class _Cycle:
    """A logits processor that forces the tokens 5 6 7 8 5 6 ... (by position), so prompt lookup finds matches."""

    def __call__(self, input_ids, scores):
        out = torch.full_like(scores, -1e9)
        out[:, [5, 6, 7, 8][input_ids.shape[1] % 4]] = 0
        return out


@pytest.mark.parametrize("prompt_matches", [True, False], ids=["candidates-at-first-step", "candidates-later"])
def test_decoding_that_feeds_several_tokens_per_step_is_refused(prompt_matches):
    """Assisted (prompt-lookup) decoding feeds candidate tokens with a step: refused, never mis-recorded."""
    from transformers import LogitsProcessorList

    model = load("qwen3_moe")
    ids = torch.tensor([[5, 6, 7, 8] * 4 if prompt_matches else list(range(9, 25))])
    with pytest.raises(RuntimeError, match="one new token per sequence") as err, torch.no_grad():
        model.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, min_new_tokens=8, do_sample=False,
            prompt_lookup_num_tokens=3, logits_processor=LogitsProcessorList([_Cycle()]),
            pad_token_id=model.tokenizer.pad_token_id,
        )
    assert ("forward 1 " in str(err.value)) == prompt_matches
    assert model.phases.generation_forwards is None  # the loop state is reset after the error


def test_scaling_arguments_are_validated():
    model = load("qwen3_moe")
    with pytest.raises(ValueError, match="fewer than the 2"), model.scale_experts(keep_experts={0: [1]}):
        pass
    with pytest.raises(ValueError, match="no MoE block"), model.scale_experts(keep_experts={7: [0, 1]}):
        pass
    with pytest.raises(ValueError, match="top_k=9"), model.scale_experts(top_k=9):
        pass
    with pytest.raises(ValueError, match="group-limited"), load("deepseek_v3").scale_experts(top_k=5):
        pass
