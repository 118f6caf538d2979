"""The ``hf`` model plugin's public calls, multiple choice, safety and runner integration, on tiny checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fixtures import tiny_hf
from fixtures.hf_models import image, load

from vleval.api import Capability, MCItem, Model, Prompt, TextLM, extract_choice, mc_prompt
from vleval.engine.latency import LatencyRecorder
from vleval_models.hf.model import HFModel
from vleval_models.hf.routers import ROUTERS, UnsupportedMoEError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # transformers'


# ------------------------------------------------------------------------------------ capabilities and tasks


def test_text_moe_serves_generation_and_multiple_choice_but_not_image_embedding():
    model = load("qwen3_moe")
    assert isinstance(model, Model) and isinstance(model, TextLM)  # the lm-eval bridge's protocol
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


def test_vlm_embeds_images_and_texts_and_reports_latency_split():
    model = load("qwen3_vl_moe")
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


def _greedy_answer(model: HFModel, prompt: str, n: int) -> str:
    """The answer computed directly with transformers: chat template, greedy decoding, special tokens dropped."""
    chat = model.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                               tokenize=False)
    ids = model.tokenizer(chat, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        out = model.model.generate(**ids, max_new_tokens=n, do_sample=False,
                                   pad_token_id=model.tokenizer.pad_token_id)
    return model.tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()


@pytest.mark.parametrize(("forced", "want"), [
    (None, None),  # the random model's own answer, recomputed independently
    ("B", [0.0, 1.0, 0.0]),  # "B B B": the letter itself
    ("cat", [0.0, 0.0, 1.0]),  # "cat cat cat": the only option whose text appears
    ("yes", [0.0, 0.0, 0.0]),  # names no option
])
def test_multiple_choice_by_generation_scores_the_extracted_letter(forced, want):
    """The forced answers (a logit bias of +100 on one word) make the expected letter known in advance."""
    model = HFModel(path=load("qwen3_moe").path, mc_mode="generate", max_new_tokens=3)
    if forced is not None:
        model.model.generation_config.sequence_bias = {(model.tokenizer.convert_tokens_to_ids(forced),): 100.0}
    item = MCItem(index=0, image=None, question="which ?", options={"A": "red", "B": "blue", "C": "cat"}, answer="A")
    answer = _greedy_answer(model, mc_prompt(item), 3)
    if forced is not None:
        assert answer == " ".join([forced] * 3)
    letter = extract_choice(answer, item.options)
    independent = [1.0 if k == letter else 0.0 for k in item.options]
    assert want is None or independent == want
    assert model.score_options([item, item]) == [independent, independent]


def test_extract_choice_reads_letters_and_option_texts():
    options = {"A": "red", "B": "blue", "C": "cat"}
    assert extract_choice("The answer is B.", options) == "B"
    assert extract_choice("(C) cat", options) == "C"
    assert extract_choice("blue, clearly", options) == "B"
    assert extract_choice("no idea", options) is None


def test_tiny_builders_cover_exactly_the_router_table():
    """One tiny builder per ROUTERS architecture; composites only over a backbone that is in the table."""
    assert tiny_hf.missing_builders() == {"no builder": [], "not in ROUTERS": []}
    table = {spec.arch for spec in ROUTERS}
    assert set(tiny_hf.ARCHS) == table | set(tiny_hf.COMPOSITES)
    assert set(tiny_hf.COMPOSITES.values()) <= table and not set(tiny_hf.COMPOSITES) & table


# ---------------------------------------------------------------------------------------- safety and errors


def test_unsupported_moe_architecture_names_what_to_implement(tmp_path):
    from transformers import DbrxConfig, DbrxForCausalLM

    tok = tiny_hf.tokenizer()
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


def test_remote_code_is_not_run_by_default(tmp_path):
    path = Path(load("qwen3_moe").path)
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


def test_only_safetensors_are_loaded(tmp_path):
    path = Path(load("qwen3_moe").path)
    for f in path.iterdir():
        if f.suffix != ".safetensors":
            (tmp_path / f.name).write_bytes(f.read_bytes())
    torch.save({}, tmp_path / "pytorch_model.bin")
    with pytest.raises(OSError):
        HFModel(path=str(tmp_path))


# --------------------------------------------------------------------------------------------------- runner


def test_runner_cell_with_the_hf_model(tmp_path):
    import toy_plugins

    from vleval.executors.runner import run_benchmark
    from vleval.registry.discovery import Registry

    path = load("qwen3_vl_moe").path
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


def test_text_only_checkpoint_on_image_questions_is_skipped_with_the_reason(tmp_path):
    import toy_plugins

    from vleval.executors.runner import run_benchmark
    from vleval.registry.discovery import Registry

    bench = {
        "models": [{"name": "hf", "args": {"path": load("qwen3_moe").path}}],
        "datasets": [{"name": "toy-questions", "args": {"n": 2}}],
        "batch_sizes": [4],
        "latency": {"warmup": 0, "repetitions": 1},
    }
    registry = Registry.discover(extra_plugins=[toy_plugins])
    (record,) = run_benchmark("hf", bench, tmp_path, registry=registry).records
    assert record["status"] == "skipped", record.get("error")
    assert "takes no images" in record["skip_reason"] and "toy" in record["skip_reason"]
