"""The ``hf`` model plugin on tiny random checkpoints of every supported MoE architecture, built offline.

Runs in a few seconds on CPU: every checkpoint has 2 layers, hidden size 32, 4-8 experts and a tiny vision tower.

Routing is checked against an independent recomputation from each router's own weights applied to the hidden states
seen at the router's input (bias correction and group limits included); top-k override and pruning are checked to
take effect and to restore the model bitwise.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vleval.api import IMAGE, TEXT, Capability, MCItem, Prompt  # noqa: E402
from vleval.latency import LatencyRecorder  # noqa: E402
from vleval_models.hf import tiny  # noqa: E402
from vleval_models.hf.model import HFModel, extract_choice  # noqa: E402
from vleval_models.hf.routing import UnsupportedMoEError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # transformers'

# --------------------------------------------------------------------------------------- independent reference


def _topk(scores: np.ndarray, k: int) -> np.ndarray:
    return np.sort(np.argsort(-scores, axis=-1, kind="stable")[:, :k], axis=-1)


def _masked(scores: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    return scores if keep is None else np.where(keep, scores, -np.inf)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy().astype(np.float64)


def ref_linear_topk(router, x, k, keep):
    """Softmax-then-top-k and top-k-of-logits routers select the same experts: the top-k logits."""
    logits = _np(x) @ _np(router.weight).T
    if getattr(router, "bias", None) is not None:
        logits = logits + _np(router.bias)
    return _topk(_masked(logits, keep), k)


def ref_grouped_bias(router, x, k, keep):
    """DeepSeek-V3 / GLM-4.5V: sigmoid scores + correction bias, best ``topk_group`` groups (by top-2 sum), top-k."""
    scores = 1 / (1 + np.exp(-(_np(x) @ _np(router.weight).T)))
    choice = _masked(scores + _np(router.e_score_correction_bias), keep)
    groups = choice.reshape(len(choice), router.num_group, -1)
    group_score = np.sort(groups, axis=-1)[..., -2:].sum(-1)
    best = np.argsort(-group_score, axis=-1, kind="stable")[:, : router.topk_group]
    allowed = np.zeros_like(group_score, dtype=bool)
    np.put_along_axis(allowed, best, True, axis=-1)
    choice = np.where(np.repeat(allowed, groups.shape[-1], axis=-1), choice, -np.inf)
    return _topk(choice, k)


def ref_group_max(router, x, k, keep):
    """DeepSeek-V2 group-limited greedy: softmax, best ``topk_group`` groups by their best expert, top-k."""
    if router.topk_method == "greedy":
        return ref_linear_topk(router, x, k, keep)
    logits = _masked(_np(x) @ _np(router.weight).T, keep)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    groups = probs.reshape(len(probs), router.num_group, -1)
    best = np.argsort(-groups.max(-1), axis=-1, kind="stable")[:, : router.topk_group]
    allowed = np.zeros(groups.shape[:2], dtype=bool)
    np.put_along_axis(allowed, best, True, axis=-1)
    return _topk(_masked(np.where(np.repeat(allowed, groups.shape[-1], axis=-1), probs, 0.0), keep), k)


def ref_ernie(router, x, k, keep):
    logits = _np(x) @ _np(router.weight).T
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return _topk(_masked(probs + _np(router.moe_statics.e_score_correction_bias).reshape(-1), keep), k)


def ref_gemma4(router, x, k, keep):
    h = _np(x)
    h = h / np.sqrt((h**2).mean(-1, keepdims=True) + router.eps) * _np(router.scale) * router.hidden_size**-0.5
    return _topk(_masked(h @ _np(router.proj.weight).T, keep), k)


REFERENCE = {
    "Qwen3MoeTopKRouter": ref_linear_topk, "Qwen3VLMoeTextTopKRouter": ref_linear_topk,
    "Qwen3_5MoeTopKRouter": ref_linear_topk, "Qwen2MoeTopKRouter": ref_linear_topk,
    "MixtralTopKRouter": ref_linear_topk, "OlmoeTopKRouter": ref_linear_topk, "GptOssTopKRouter": ref_linear_topk,
    "GraniteMoeTopKRouter": ref_linear_topk, "AriaTextTopKRouter": ref_linear_topk, "Llama4Router": ref_linear_topk,
    "PhimoeTopKRouter": ref_linear_topk,  # sparsemixer at eval: the best expert, then the best of the rest
    "DeepseekV3TopkRouter": ref_grouped_bias, "Glm4vMoeTextTopkRouter": ref_grouped_bias,
    "Ernie4_5_VLMoeMoeTopKRouter": ref_ernie, "Gemma4TextRouter": ref_gemma4,
    "Glm4MoeTopkRouter": ref_grouped_bias, "Dots1TopkRouter": ref_grouped_bias, "DeepseekV2TopkRouter": ref_group_max,
    "Ernie4_5_MoeTopKRouter": ref_ernie, "Qwen3NextTopKRouter": ref_linear_topk, "MiniMaxTopKRouter": ref_linear_topk,
}

# ------------------------------------------------------------------------------------------------ fixtures

_MODELS: dict[str, HFModel] = {}


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    return tmp_path_factory.mktemp("hf-checkpoints")


def load(arch: str, checkpoints: Path) -> HFModel:
    if arch not in _MODELS:
        path = tiny.build(arch, checkpoints / arch)
        _MODELS[arch] = HFModel(path=str(path))
    return _MODELS[arch]


def image(seed: int = 0, size: int = 32):
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))


def batch_for(model: HFModel) -> dict:
    """Two prompts of different lengths (so one is padded), each with an image for a VLM."""
    texts = ["what color is the cat ?", "describe this picture with one letter A B C or D , please"]
    if model.is_vlm and model.processor is None:
        return tiny.manual_image_batch(model.model, model.tokenizer, texts)
    if model.processor is not None:
        chats = [model.processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": t}]}],
            add_generation_prompt=True, tokenize=False) for t in texts]
        model.tokenizer.padding_side = "left"
        return dict(model.processor(text=chats, images=[[image(0)], [image(1)]], padding=True, return_tensors="pt",
                                    add_special_tokens=False))
    model.tokenizer.padding_side = "left"
    return dict(model.tokenizer(texts, padding=True, return_tensors="pt"))


class RouterInputs:
    """Independent record of every router call's input, found by class name (not through the plugin's table)."""

    def __init__(self, model: HFModel):
        self.calls: list[tuple[torch.nn.Module, torch.Tensor]] = []
        self.handles = [
            m.register_forward_hook(lambda mod, args, out: self.calls.append((mod, args[0].detach().clone())))
            for m in model.model.modules() if type(m).__name__ in REFERENCE
        ]

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def expected(calls, k: int | None = None, keep: dict[int, np.ndarray] | None = None, model: HFModel | None = None):
    layer_of = {id(s.module): s for s in model.sites}
    out = []
    for module, x in calls:
        site = layer_of[id(module)]
        kk = k or (2 if type(module).__name__ == "PhimoeTopKRouter" else _router_k(module))
        mask = None
        if keep is not None and site.layer in keep:
            mask = keep[site.layer][site.offset:site.offset + site.num_experts]
        out.append((site, REFERENCE[type(module).__name__](module, x.reshape(-1, x.shape[-1]), kk, mask)))
    return out


def _router_k(module) -> int:
    return int(module.config.top_k_experts) if hasattr(module, "proj") else int(module.top_k)


def logits_of(model: HFModel, batch: dict) -> torch.Tensor:
    with torch.no_grad():
        return model.model(**batch, use_cache=False).logits


def image_tokens(model: HFModel, batch: dict) -> np.ndarray:
    """Which tokens are image tokens, from the processor's own type ids or the configured image token ids."""
    for key in ("moe_mm_token_type_ids", "mm_token_type_ids"):
        if key in batch:
            return batch[key].reshape(-1).numpy() != 0
    ids = batch["input_ids"].reshape(-1).numpy()
    return np.isin(ids, [model.config.image_token_id if hasattr(model.config, "image_token_id") else -1,
                         getattr(model.config, "image_token_index", -1)])


def check_trace(model: HFModel, batch: dict, events, want) -> None:
    """One prefill event per MoE layer holding, for the valid (non-padding) tokens, exactly the reference experts
    of every router of that layer in call order (text then vision experts for a modality-split layer)."""
    valid = batch["attention_mask"].reshape(-1).bool().numpy()
    image = image_tokens(model, batch)
    by_layer: dict[int, tuple[list, list]] = {}
    for site, ref in want:
        if site.rows == "all":
            rows = np.arange(len(valid))
        elif site.rows == "vision":
            rows = np.flatnonzero(image)
        else:
            rows = np.flatnonzero(~image) if image.any() else np.arange(len(valid))
        assert len(rows) == len(ref)
        experts, modality = by_layer.setdefault(site.layer, ([], []))
        experts.append(ref[valid[rows]] + site.offset)
        modality.append(np.where(image[rows][valid[rows]], IMAGE, TEXT))
    assert [e.layer for e in events] == list(by_layer) and all(e.phase == "prefill" for e in events)
    for event in events:
        experts, modality = by_layer[event.layer]
        np.testing.assert_array_equal(np.sort(event.experts, axis=-1), np.concatenate(experts))
        np.testing.assert_array_equal(event.modality, np.concatenate(modality))


ARCHS = list(tiny.ARCHS)


# ------------------------------------------------------------------------------------------------- routing


@pytest.mark.parametrize("arch", ARCHS)
def test_routing_matches_recomputation_from_router_weights(arch, checkpoints):
    model = load(arch, checkpoints)
    batch = batch_for(model)
    assert batch["attention_mask"].min() == 0, "the batch must contain padding"
    probe = RouterInputs(model)
    try:
        with model.trace_routing() as trace, torch.no_grad():
            model.model(**batch, use_cache=False)
    finally:
        probe.close()
    check_trace(model, batch, trace.events, expected(probe.calls, model=model))
    if model.is_vlm:
        assert sum(int((e.modality == IMAGE).sum()) for e in trace.events) > 0
    info = model.info()
    assert info.moe_layers and info.experts_per_layer and info.active_params_per_token < info.total_params
    for site in model.sites:  # the table documents where each router sits
        pattern = site.spec.path.replace(".", r"\.").replace("{", "(").replace("}", ")").replace(",", "|")
        assert re.search(r"layers\.\d+\." + pattern + "$", site.name), (site.name, site.spec.path)


@pytest.mark.parametrize("arch", ARCHS)
def test_top_k_override_takes_effect_and_restores_bitwise(arch, checkpoints):
    model = load(arch, checkpoints)
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
def test_pruning_selects_only_kept_experts_and_restores_bitwise(arch, checkpoints):
    model = load(arch, checkpoints)
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
def test_public_calls_run_and_are_traced_on_every_architecture(arch, checkpoints):
    """generate / score_options / embed through the plugin's own preprocessing (images where it can take them)."""
    model = load(arch, checkpoints)
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
def test_latency_split_without_an_image_processor(arch, checkpoints):
    """Their image processors need torchvision: inputs are built by hand, the vision phase is still separated."""
    model = load(arch, checkpoints)
    batch = batch_for(model)
    recorder = LatencyRecorder()
    with recorder.measure(batch_size=2), torch.no_grad():
        model.model.generate(**batch, max_new_tokens=3, do_sample=False, pad_token_id=model.tokenizer.pad_token_id)
    assert set(recorder.phase_ns) == {"vision", "prefill", "decode"}
    assert len(recorder.phase_ns["vision"]) == len(recorder.phase_ns["prefill"]) == 1


@pytest.mark.parametrize("arch", ARCHS)
def test_decode_steps_are_recorded_per_token(arch, checkpoints):
    """Every decode step of a generate() call is recorded as decode, with one routed row per live sequence.

    The expected count comes from the generated ids alone: decode step j feeds each sequence its token j-1, and a
    sequence that has produced a stop token is fed padding from then on. Phase detection must not depend on the
    names of transformers' cache arguments, so a rename upstream makes this test fail instead of turning decode
    steps into prefills.
    """
    model = load(arch, checkpoints)
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
def test_decoding_that_feeds_several_tokens_per_step_is_refused(checkpoints, prompt_matches):
    """Assisted (prompt-lookup) decoding feeds candidate tokens with a step: refused, never mis-recorded."""
    from transformers import LogitsProcessorList

    model = load("qwen3_moe", checkpoints)
    ids = torch.tensor([[5, 6, 7, 8] * 4 if prompt_matches else list(range(9, 25))])
    with pytest.raises(RuntimeError, match="one new token per sequence") as err, torch.no_grad():
        model.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, min_new_tokens=8, do_sample=False,
            prompt_lookup_num_tokens=3, logits_processor=LogitsProcessorList([_Cycle()]),
            pad_token_id=model.tokenizer.pad_token_id,
        )
    assert ("forward 1 " in str(err.value)) == prompt_matches
    assert model._generation_forwards is None  # the loop state is reset after the error


def test_scaling_arguments_are_validated(checkpoints):
    model = load("qwen3_moe", checkpoints)
    with pytest.raises(ValueError, match="fewer than the 2"), model.scale_experts(keep_experts={0: [1]}):
        pass
    with pytest.raises(ValueError, match="no MoE block"), model.scale_experts(keep_experts={7: [0, 1]}):
        pass
    with pytest.raises(ValueError, match="top_k=9"), model.scale_experts(top_k=9):
        pass
    with pytest.raises(ValueError, match="group-limited"), load("deepseek_v3", checkpoints).scale_experts(top_k=5):
        pass


# ------------------------------------------------------------------------------------ capabilities and tasks


def test_text_moe_serves_generation_and_multiple_choice_but_not_image_embedding(checkpoints):
    model = load("qwen3_moe", checkpoints)
    assert model.capabilities == {Capability.SCORE_OPTIONS, Capability.GENERATE}
    item = MCItem(index=0, image=None, question="what color is the sky ?", options={"A": "red", "B": "blue"},
                  answer="B")
    scores = model.score_options([item, item])
    assert len(scores) == 2 and len(scores[0]) == 2 and scores[0] == pytest.approx(scores[1], abs=1e-4)
    assert all(s < 0 for s in scores[0])
    with pytest.raises(ValueError, match="cannot take images"):
        model.embed_images([image()])
    assert model.embed_texts(["a cat", "a dog ."]).shape == (2, 32)
    single = model.generate([Prompt("the red cat", max_new_tokens=5)])
    batched = model.generate([Prompt("the red cat", max_new_tokens=5), Prompt("what is the big blue car ?")])
    assert single[0] == batched[0] and isinstance(batched[1], str)


def test_vlm_embeds_images_and_texts_and_reports_latency_split(checkpoints):
    model = load("qwen3_vl_moe", checkpoints)
    assert Capability.EMBED in model.capabilities
    assert model.embed_images([image(0), image(1)]).shape == (2, 32)
    assert model.embed_texts(["a red cat"]).shape == (1, 32)
    recorder = LatencyRecorder()
    with recorder.measure(batch_size=2):
        model.generate([Prompt("describe this", image=image(0), max_new_tokens=4),
                        Prompt("what is it ?", image=image(1), max_new_tokens=4)])
    summary = recorder.summary()
    assert set(recorder.phase_ns) >= {"vision", "prefill", "decode"}
    assert len(recorder.phase_ns["vision"]) == len(recorder.phase_ns["prefill"]) == 1
    assert summary["time_to_first_token_ms"]["p50"] > 0 and summary["time_per_output_token_ms"] > 0
    total = sum(sum(v) for v in recorder.phase_ns.values())
    assert total <= recorder.batch_ns[0]


def test_multiple_choice_by_generation_extracts_a_letter(checkpoints):
    path = checkpoints / "qwen3_moe"
    load("qwen3_moe", checkpoints)
    model = HFModel(path=str(path), mc_mode="generate", max_new_tokens=3)
    item = MCItem(index=0, image=None, question="which ?", options={"A": "red", "B": "blue", "C": "cat"}, answer="A")
    (scores,) = model.score_options([item])
    assert sorted(scores) in ([0.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    assert extract_choice("The answer is B.", item.options) == "B"
    assert extract_choice("(C) cat", item.options) == "C"
    assert extract_choice("blue, clearly", item.options) == "B"
    assert extract_choice("no idea", item.options) is None


# ---------------------------------------------------------------------------------------- safety and errors


def test_unsupported_moe_architecture_names_what_to_implement(tmp_path):
    from transformers import DbrxConfig, DbrxForCausalLM

    tok = tiny.tokenizer()
    cfg = DbrxConfig(d_model=32, n_heads=4, n_layers=2, max_seq_len=64, vocab_size=len(tok), pad_token_id=0,
                     eos_token_id=4, attn_config={"kv_n_heads": 2, "rope_theta": 10000.0},
                     ffn_config={"ffn_hidden_size": 16, "moe_num_experts": 4, "moe_top_k": 2})
    DbrxForCausalLM(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    with pytest.raises(UnsupportedMoEError) as err:
        HFModel(path=str(tmp_path))
    message = str(err.value)
    for needed in ("'dbrx'", "router_class", "read_indices", "top_k_attrs", "num_experts", "DbrxRouter",
                   "require_routing=False"):
        assert needed in message
    model = HFModel(path=str(tmp_path), require_routing=False)  # accuracy-only use still works
    assert "routing_unsupported" in model.info().extra
    with pytest.raises(UnsupportedMoEError):
        model.trace_routing().__enter__()


def test_remote_code_is_not_run_by_default(tmp_path, checkpoints):
    path = Path(load("qwen3_moe", checkpoints).path)
    target = tmp_path / "ckpt"
    target.mkdir()
    for f in path.iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    marker = tmp_path / "pwned"
    (target / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nfrom transformers import Qwen3MoeConfig as EvilConfig\n"
    )
    cfg = json.loads((target / "config.json").read_text())
    cfg["auto_map"] = {"AutoConfig": "evil.EvilConfig"}
    (target / "config.json").write_text(json.dumps(cfg))
    import inspect

    assert inspect.signature(HFModel).parameters["trust_remote_code"].default is False
    model = HFModel(path=str(target))
    assert not marker.exists() and model.trust_remote_code is False


def test_only_safetensors_are_loaded(tmp_path, checkpoints):
    path = Path(load("qwen3_moe", checkpoints).path)
    for f in path.iterdir():
        if f.suffix != ".safetensors":
            (tmp_path / f.name).write_bytes(f.read_bytes())
    torch.save({}, tmp_path / "pytorch_model.bin")
    with pytest.raises(OSError):
        HFModel(path=str(tmp_path))


def test_plugin_entry_point_imports_neither_torch_nor_transformers():
    code = ("import sys, vleval_models.hf.plugin as p; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------------------- runner


def test_runner_cell_with_the_hf_model(tmp_path, checkpoints):
    import toy_plugins

    from vleval.plugins import Registry
    from vleval.runner import run_benchmark

    path = load("qwen3_vl_moe", checkpoints).path
    bench = {
        "models": [{"name": "hf", "args": {"path": path}, "scaling": [{}, {"top_k": 1}, {"prune_to": 2}]}],
        "datasets": [{"name": "toy-questions", "args": {"n": 2}}],
        "batch_sizes": [4],
        "latency": {"warmup": 0, "repetitions": 1},
    }
    registry = Registry.discover(extra_plugins=[toy_plugins])
    full, top1, pruned = run_benchmark("hf", bench, tmp_path, registry=registry).records
    for record in (full, top1, pruned):
        assert record["status"] == "ok", record.get("error")
        domain = record["domains"]["data"]
        assert domain["routing"]["tokens"]["image"] > 0 and domain["routing"]["tokens"]["text"] > 0
        assert {"vision", "prefill"} <= set(domain["latency"]["phases_ms"])
    layers = {r["layer"]: r for r in full["domains"]["data"]["routing"]["layers"]}
    for layer in top1["domains"]["data"]["routing"]["layers"]:
        assert 2 * layer["assignments"] == layers[layer["layer"]]["assignments"]
    keep = pruned["scaling"]["keep_experts"]
    for layer in pruned["domains"]["data"]["routing"]["layers"]:
        used = {e for e, load in enumerate(layer["expert_load"]) if load > 0}
        assert used <= set(keep[str(layer["layer"])])
