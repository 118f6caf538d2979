"""RefMoE-Cap, the generative reference decoder: routing trace of prefill and decode steps, exact restore after
expert scaling, greedy vs beam search, training determinism, MC by generated letter, the conformance kit, the
weights layout per training seed, and a reduced captioning run through the runner."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TESTS
from PIL import Image as PIL_Image

from vleval.api import CAPTION_PROMPT, IMAGE, TEXT, MCItem, Prompt, Task, extract_choice, mc_prompt
from vleval.testing import check_model
from vleval_models.refmoe import decoder as D
from vleval_models.refmoe import model as M
from vleval_models.refmoe.adapter import WEIGHTS_DIR
from vleval_models.refmoe.caption_adapter import (
    CAP_MANIFEST,
    CAP_TOKENIZER_FILE,
    PRIOR_FILE,
    RefMoEBlind,
    RefMoECap,
    cap_weights_file,
)
from vleval_models.refmoe.generation import beam_search, sequence_scores
from vleval_models.refmoe.tokenizer import CaptionTokenizer

ROOT = TESTS.parent
sys.path.insert(0, str(ROOT / "tools"))
cap_training = importlib.import_module("refmoe_caption_training")

WORDS = ["a red green blue circle square triangle cross in the top bottom left right of image",
         "Question: What colour is the shape?", "Answer with the option's letter from the given choices directly."]
TINY = {"num_layers": 2, "d_model": 32, "num_heads": 2, "ffn_hidden": 64, "max_text_len": 40}


def _images(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [PIL_Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(n)]


def _tiny_folder(folder: Path, experts: int, eos_bias: float = 0.9) -> Path:
    """A randomly initialised tiny decoder written like the real ones; ``eos_bias`` makes lengths vary."""
    tok = cap_training.build_tokenizer(WORDS, [CAPTION_PROMPT])
    tok.max_len = TINY["max_text_len"]
    tok.save(folder / CAP_TOKENIZER_FILE)
    torch.manual_seed(experts)
    net = D.CaptionDecoder(M.variant_config(experts, len(tok), **TINY))
    with torch.no_grad():
        net.head.bias[tok.eos_id] += eos_bias
    D.save_decoder(net, cap_weights_file(folder, experts), metadata={"tokenizer": CAP_TOKENIZER_FILE})
    (folder / PRIOR_FILE).write_text(json.dumps({"caption": "a red circle", "answer_letter": "B"}))
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> RefMoECap:
    return RefMoECap(experts=4, weights_dir=str(_tiny_folder(tmp_path_factory.mktemp("cap"), 4)))


def _prompts(n_images: int = 5, max_new: int = 7) -> list[Prompt]:
    return [*(Prompt(CAPTION_PROMPT, im, max_new_tokens=max_new) for im in _images(n_images)),
            Prompt("Name a colour.", None, max_new_tokens=max_new)]


def test_routing_trace_counts_prefill_and_every_decode_step(tiny: RefMoECap) -> None:
    prompts = _prompts()
    with tiny.trace_routing() as trace:
        generated = tiny.generate_ids(prompts)
    lengths = [len(g.ids) for g in generated]
    assert len(set(lengths)) > 1, "the fixture should give sequences of different lengths"
    n_img = sum(p.image is not None for p in prompts) * tiny.net.cfg.num_patches
    n_prompt = sum(len(tiny.tokenizer.encode_prompt(p.text)) for p in prompts)
    for layer in (1,):  # the tiny model's only MoE layer
        events = [e for e in trace.events if e.layer == layer]
        prefill = [e for e in events if e.phase == "prefill"]
        decode = [e for e in events if e.phase == "decode"]
        assert len(prefill) == 1
        assert int((prefill[0].modality == IMAGE).sum()) == n_img
        assert int((prefill[0].modality == TEXT).sum()) == n_prompt
        # step s feeds back the s-th generated word of every sequence that generated more than s words
        assert [len(e.experts) for e in decode] == [sum(n > s for n in lengths) for s in range(1, max(lengths))]
        assert sum(len(e.experts) for e in decode) == sum(n - 1 for n in lengths)
        assert all((e.modality == TEXT).all() and e.experts.shape[1] == 2 for e in decode)


def test_generated_ids_end_at_eos_or_the_prompt_budget(tiny: RefMoECap) -> None:
    for g in tiny.generate_ids(_prompts(max_new=5)):
        assert len(g.ids) <= 5 and (g.ids[-1] == tiny.tokenizer.eos_id or len(g.ids) == 5)
        assert tiny.tokenizer.eos_id not in g.ids[:-1]


def test_scale_experts_changes_decoding_and_restores_it_exactly(tiny: RefMoECap) -> None:
    prompts = _prompts()
    before = tiny.generate_ids(prompts)
    with tiny.scale_experts(top_k=1), tiny.trace_routing() as trace:
        top1 = tiny.generate_ids(prompts)
    assert all(e.experts.shape[1] == 1 for e in trace.events)
    with tiny.scale_experts(keep_experts={1: [0, 2]}), tiny.trace_routing() as trace:
        pruned = tiny.generate_ids(prompts)
    assert set(np.unique(np.concatenate([e.experts.ravel() for e in trace.events])).tolist()) <= {0, 2}
    assert [g.score for g in top1] != [g.score for g in before] != [g.score for g in pruned]
    after = tiny.generate_ids(prompts)
    assert [(g.ids, g.score) for g in after] == [(g.ids, g.score) for g in before]
    with pytest.raises(ValueError, match="layer 1"), tiny.scale_experts(keep_experts={1: [9]}):
        pass


def test_beam_of_one_is_greedy_and_scores_are_sequence_log_probabilities(tiny: RefMoECap) -> None:
    prompts = _prompts()
    beam1 = RefMoECap(experts=4, num_beams=1, weights_dir=str(tiny.weights_dir))
    greedy = beam1.generate_ids(prompts)

    image_tokens, has_image, ids = tiny.prepare(prompts)
    with torch.inference_mode():
        beam = beam_search(tiny.net, image_tokens, has_image, ids, 7, tiny.tokenizer.eos_id, 1)
    assert [(g.ids, g.score) for g in beam] == [(g.ids, g.score) for g in greedy]
    rescored = sequence_scores(tiny.net, image_tokens, has_image, ids, [g.ids for g in greedy])
    np.testing.assert_allclose(rescored, [g.score for g in greedy], rtol=1e-5, atol=1e-5)


def _beam_beats_greedy(folder: Path, experts: int, prompts: list[Prompt]) -> None:
    greedy = RefMoECap(experts=experts, weights_dir=str(folder))
    beam = RefMoECap(experts=experts, num_beams=4, weights_dir=str(folder))
    g, b = greedy.generate_ids(prompts), beam.generate_ids(prompts)
    image_tokens, has_image, ids = greedy.prepare(prompts)
    g_scores = sequence_scores(greedy.net, image_tokens, has_image, ids, [x.ids for x in g])
    b_scores = sequence_scores(greedy.net, image_tokens, has_image, ids, [x.ids for x in b])
    np.testing.assert_allclose(b_scores, [x.score for x in b], rtol=1e-5, atol=1e-5)
    assert all(bs >= gs - 1e-5 for bs, gs in zip(b_scores, g_scores, strict=True)), (b_scores, g_scores)
    assert any(x.ids != y.ids for x, y in zip(g, b, strict=True)) or b_scores == pytest.approx(g_scores)


def test_beam_search_scores_at_least_greedy_under_the_model(tiny: RefMoECap) -> None:
    _beam_beats_greedy(tiny.weights_dir, 4, _prompts(8))


def test_training_is_deterministic_for_a_seed() -> None:
    tok = cap_training.build_tokenizer(WORDS, [CAPTION_PROMPT])
    tok.max_len = TINY["max_text_len"]

    class Item:
        def __init__(self, image, captions):
            self.image, self.captions = image, captions

    caps = cap_training.caption_examples([Item(im, [f"a {c} circle", f"the {c} square"]) for im, c in
                                          zip(_images(6), ["red", "blue", "green"] * 2, strict=True)], tok)
    mc = cap_training.mc_examples([MCItem(i, im, "What colour is the shape?", {"A": "red", "B": "blue"}, "AB"[i % 2])
                                   for i, im in enumerate(_images(4, seed=1))], tok)
    cfg = M.variant_config(4, len(tok), **TINY)

    def run(seed: int) -> dict[str, torch.Tensor]:
        train = cap_training.CaptionTrainConfig(steps=3, batch_size=4, mc_batch_size=2, seed=seed, warmup_steps=1)
        net, figures = cap_training.train_decoder(cfg, caps, mc, train, log=lambda _: None)
        assert len(figures["history"]) == 1 and np.isfinite(figures["history"][0]["caption_loss"])
        return net.state_dict()

    a, b, c = run(0), run(0), run(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_tokenizer_reads_option_letters_back_as_capitals() -> None:
    tok = CaptionTokenizer.build(WORDS)
    item = MCItem(0, None, "What colour is the shape?", {"A": "red", "B": "blue"}, "B")
    ids = tok.encode_prompt(mc_prompt(item))
    assert [tok.vocab[i] for i in ids if tok.vocab[i].startswith("[")] == ["[A]", "[B]", "[BOS]"]
    assert tok.decode(tok.encode_target("B")) == "B" and extract_choice("B", item.options) == "B"
    assert extract_choice("b", item.options) is None  # why letters are tokens of their own
    assert tok.decode(tok.encode_target("A red circle.")) == "a red circle"


def test_blind_baseline_answers_without_looking(tmp_path) -> None:
    blind = RefMoEBlind(weights_dir=str(_tiny_folder(tmp_path, 2)))
    item = MCItem(0, None, "What colour is the shape?", {"A": "red", "B": "blue"}, "B")
    assert blind.generate([Prompt(CAPTION_PROMPT, im) for im in _images(2)] + [Prompt(mc_prompt(item))]) == \
        ["a red circle", "a red circle", "B"]
    check_model(blind)
    counts = cap_training.blind_prior(["A red circle.", "a red  circle", "A blue square."], ["B", "A", "B"])
    assert (counts["caption"], counts["caption_count"], counts["answer_letter"]) == ("a red circle", 2, "B")


def test_conformance_kit_on_tiny_variants(tiny: RefMoECap, tmp_path) -> None:
    check_model(tiny)
    check_model(RefMoECap(experts=1, weights_dir=str(_tiny_folder(tmp_path, 1))))
    check_model(RefMoECap(experts=4, num_beams=3, weights_dir=str(tiny.weights_dir)))


def test_training_seed_selects_a_subfolder_and_names_the_command(tmp_path) -> None:
    (tmp_path / "seed2").mkdir()
    _tiny_folder(tmp_path / "seed2", 4)
    model = RefMoECap(experts=4, weights_dir=str(tmp_path), training_seed=2)
    assert model.weights_dir == tmp_path / "seed2" and model.info().extra["training_seed"] == 2
    with pytest.raises(FileNotFoundError) as missing:
        RefMoECap(experts=4, weights_dir=str(tmp_path), training_seed=3)
    assert str(tmp_path / "seed3" / "refmoe-cap-e4.safetensors") in str(missing.value)
    assert "train_refmoe_caption.py --seed 3" in str(missing.value)
    from vleval_models.refmoe.adapter import RefMoE

    with pytest.raises(FileNotFoundError, match=r"seed1/refmoe-e16\.safetensors.*train_refmoe\.py --seed 1"):
        RefMoE(experts=16, weights_dir=str(tmp_path), training_seed=1)
    with pytest.raises(ValueError, match="training_seed"):
        RefMoECap(experts=4, weights_dir=str(tmp_path), training_seed=-1)


# --- the committed weights ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def packaged() -> Path:
    """The committed decoder weights: they ship with the package, so their absence is a failure."""
    files = [cap_weights_file(WEIGHTS_DIR, e) for e in (1, 2, 4, 8, 16)]
    files += [WEIGHTS_DIR / CAP_TOKENIZER_FILE, WEIGHTS_DIR / PRIOR_FILE, WEIGHTS_DIR / CAP_MANIFEST]
    missing = [f.name for f in files if not f.is_file()]
    assert not missing, f"packaged RefMoE-Cap files missing from {WEIGHTS_DIR}: {missing}"
    return WEIGHTS_DIR


def test_weights_dir_stays_small_and_manifest_matches_files(packaged: Path) -> None:
    import hashlib

    total = sum(f.stat().st_size for f in packaged.iterdir() if f.is_file())  # the family: encoders + decoders
    assert total <= 25 * 2**20, f"{packaged} holds {total / 2**20:.1f} MiB, over the 25 MB budget"
    for replicate in packaged.glob("seed*"):  # training-seed replicates: each at most one family's size
        size = sum(f.stat().st_size for f in replicate.iterdir())
        assert size <= 16 * 2**20, f"{replicate} holds {size / 2**20:.1f} MiB"
    manifest = json.loads((packaged / CAP_MANIFEST).read_text())
    for entry in manifest["variants"].values():
        assert hashlib.sha256((packaged / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]


def test_packaged_decoder_answers_multiple_choice_with_a_letter(packaged: Path) -> None:
    from vleval.engine.tasks import strategy
    from vleval_metrics.choice import CircularAccuracy

    model = RefMoECap(experts=4, weights_dir=str(packaged))
    options = {"A": "red", "B": "green", "C": "blue", "D": "yellow"}
    items = []
    for i, image in enumerate(_images(3)):  # each question in its 4 circular rotations
        values = list(options.values())
        for r in range(4):
            rotated = dict(zip("ABCD", values[r:] + values[:r], strict=True))
            answer = "ABCD"[(0 - r) % 4]
            items.append(MCItem(i + r * 1_000_000, image, "What is the color of the shape in the image?",
                                rotated, answer))
    runner = strategy(Task.MULTIPLE_CHOICE, model, mc_mode="generate")
    outputs = runner.outputs([runner.call(items)], items)
    assert all(raw in "ABCD" and len(raw) == 1 for raw in outputs.raw_answers), outputs.raw_answers
    assert outputs.predictions == [extract_choice(raw, it.options) for raw, it in zip(outputs.raw_answers, items,
                                                                                         strict=True)]
    assert outputs.predictions == outputs.raw_answers
    circular = CircularAccuracy().compute(outputs)
    assert circular["questions"].value == 3


@pytest.mark.parametrize("experts", [1, 16])
def test_conformance_kit_on_packaged_variants(packaged: Path, experts: int) -> None:
    check_model(RefMoECap(experts=experts, weights_dir=str(packaged)))


def test_beam_search_scores_at_least_greedy_on_packaged_weights(packaged: Path) -> None:
    _beam_beats_greedy(packaged, 8, _prompts(12))
