"""RefMoE: routing telemetry, expert scaling with exact restore, safetensors I/O, param counts, determinism; the
training tool (tools/train_refmoe.py) and its use of the project's metrics."""

from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import TESTS, imported_modules
from PIL import Image as PIL_Image

from vleval.api import IMAGE, TEXT, Capability, MCItem, Model
from vleval_models.refmoe import model as M
from vleval_models.refmoe.adapter import TOKENIZER_FILE, WEIGHTS_DIR, RefMoE, describe_weights, weights_file
from vleval_models.refmoe.tokenizer import WordTokenizer

ROOT = TESTS.parent
sys.path.insert(0, str(ROOT / "tools"))  # the training tool is a development script, not an installed module
training = importlib.import_module("refmoe_training")
train_tool = importlib.import_module("train_refmoe")

WORDS = ["a red green blue circle square triangle cross in the top bottom left right center of image"]
TINY = {"num_layers": 2, "d_model": 32, "num_heads": 2, "ffn_hidden": 64, "embed_dim": 32, "max_text_len": 16}


def _tiny_weights(folder: Path, experts: int) -> Path:
    """A randomly initialised tiny variant written like the real ones (safetensors + tokenizer JSON)."""
    tok = WordTokenizer.build(WORDS, max_len=16)
    tok.save(folder / TOKENIZER_FILE)
    torch.manual_seed(experts)
    net = M.RefMoEModel(M.variant_config(experts, len(tok), **TINY))
    M.save_model(net, weights_file(folder, experts), metadata={"tokenizer": TOKENIZER_FILE})
    return folder


@pytest.fixture(scope="module")
def weights_dir() -> Path:
    """The committed weights: they ship with the package, so their absence is a failure, never a fallback."""
    files = (weights_file(WEIGHTS_DIR, 1), weights_file(WEIGHTS_DIR, 8), WEIGHTS_DIR / TOKENIZER_FILE)
    missing = [f.name for f in files if not f.is_file()]
    assert not missing, f"packaged RefMoE weights missing from {WEIGHTS_DIR}: {missing}"
    return WEIGHTS_DIR


@pytest.fixture(scope="module")
def moe(weights_dir: Path) -> RefMoE:
    return RefMoE(experts=8, weights_dir=str(weights_dir))


def _images(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    sizes = [32, 32, 48, 20]
    return [PIL_Image.fromarray(rng.integers(0, 255, (sizes[i % 4], sizes[i % 4], 3), dtype=np.uint8))
            for i in range(n)]


TEXTS = ["a red circle in the top left", "blue square", "zebra unicorn", "green cross in the bottom right of image"]


def _n_words(text: str, tok: WordTokenizer) -> int:
    return len(tok.encode(text))


def test_factory_and_capabilities(moe: RefMoE) -> None:
    assert {Capability.EMBED, Capability.SCORE_OPTIONS} <= moe.capabilities
    img, txt = moe.embed_images(_images(5)), moe.embed_texts(TEXTS)
    assert img.shape[0] == 5 and txt.shape[0] == 4 and img.shape[1] == txt.shape[1]
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1, rtol=1e-5)
    items = [MCItem(i, im, "What colour is the object?", {"A": "red", "B": "blue", "C": "green"}, "A")
             for i, im in enumerate(_images(3))]
    scores = moe.score_options(items)
    assert [len(s) for s in scores] == [3, 3, 3]


def test_routing_trace_shapes_and_modalities(moe: RefMoE) -> None:
    info = moe.info()
    with moe.trace_routing() as trace:
        moe.embed_images(_images(6))
    assert [e.layer for e in trace.events] == info.moe_layers
    patches = moe.net.cfg.num_patches
    for event in trace.events:
        assert event.experts.shape == (6 * patches, 2) and event.num_experts == 8
        assert event.experts.min() >= 0 and event.experts.max() < 8
        assert (event.modality == IMAGE).all() and event.phase == "prefill"
        assert all(len(set(row)) == 2 for row in event.experts.tolist())
    with moe.trace_routing() as trace:
        moe.embed_texts(TEXTS)
    tokens = sum(_n_words(t, moe.tokenizer) for t in TEXTS)  # padding excluded: batch is padded to the longest
    assert len(trace.events) == len(info.moe_layers)
    for event in trace.events:
        assert event.experts.shape == (tokens, 2) and (event.modality == TEXT).all()
    assert moe._trace is None


def test_top_k_override_and_exact_restore(moe: RefMoE) -> None:
    images, before_t = _images(8), moe.embed_texts(TEXTS)
    before = moe.embed_images(images)
    with moe.scale_experts(top_k=1), moe.trace_routing() as trace:
        changed = moe.embed_images(images)
        assert moe.info().top_k == 1
        assert moe.info().active_params_per_token < moe.info().total_params
    assert all(e.experts.shape[1] == 1 for e in trace.events)
    assert not np.array_equal(changed, before)
    assert np.array_equal(moe.embed_images(images), before)
    assert np.array_equal(moe.embed_texts(TEXTS), before_t)
    assert moe.info().top_k == 2
    with pytest.raises(ValueError), moe.scale_experts(top_k=9):
        pass


def test_pruning_uses_only_kept_experts_and_restores_bitwise(moe: RefMoE) -> None:
    images = _images(8)
    before, full = moe.embed_images(images), moe.info()
    keep = {layer: [0, 3, 5] for layer in full.moe_layers}
    with moe.scale_experts(keep_experts=keep), moe.trace_routing() as trace:
        pruned = moe.embed_images(images)
        moe.embed_texts(TEXTS)
        info = moe.info()
    assert info.experts_per_layer == [3] * len(full.moe_layers)
    assert info.total_params == full.total_params - len(full.moe_layers) * 5 * full.extra["expert_params_each"]
    assert info.active_params_per_token == full.active_params_per_token
    for event in trace.events:
        assert set(np.unique(event.experts)) <= {0, 3, 5}
    assert not np.array_equal(pruned, before)
    assert np.array_equal(moe.embed_images(images), before)
    with moe.scale_experts(keep_experts={full.moe_layers[0]: [2]}), moe.trace_routing() as trace:
        moe.embed_images(images)  # k capped at the single kept expert
    assert trace.events[0].experts.shape[1] == 1 and set(np.unique(trace.events[0].experts)) == {2}
    with pytest.raises(ValueError), moe.scale_experts(keep_experts={99: [0]}):
        pass


def test_info_param_counts(weights_dir: Path, moe: RefMoE) -> None:
    info = moe.info()
    assert info.total_params == sum(p.numel() for p in moe.net.parameters())
    per = info.extra["expert_params_each"]
    assert info.active_params_per_token == info.total_params - len(info.moe_layers) * (8 - 2) * per
    assert info.experts_per_layer == [8] * len(info.moe_layers) and info.top_k == 2
    dense = RefMoE(experts=1, weights_dir=str(weights_dir)).info()
    assert dense.moe_layers == [] and dense.top_k is None
    assert dense.active_params_per_token == dense.total_params
    # matched active parameters: per MoE layer the MoE variant adds only its router and a 2nd expert's output bias
    d = moe.net.cfg.d_model
    assert info.active_params_per_token - dense.active_params_per_token == sum(
        m.router.weight.numel() + d for m in moe.net.moe_modules())
    with pytest.raises(NotImplementedError), RefMoE(experts=1, weights_dir=str(weights_dir)).scale_experts(top_k=1):
        pass


def test_safetensors_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = M.RefMoEModel(M.variant_config(4, 20, **TINY)).eval()
    M.save_model(net, tmp_path / "m.safetensors", metadata={"seed": 0})
    loaded, meta = M.load_model(tmp_path / "m.safetensors")
    assert meta["seed"] == 0 and loaded.cfg == net.cfg
    M.save_model(loaded, tmp_path / "again.safetensors", metadata={"seed": 0})
    assert (tmp_path / "m.safetensors").read_bytes() == (tmp_path / "again.safetensors").read_bytes()
    for (k1, v1), (k2, v2) in zip(net.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k1 == k2 and torch.equal(v1, v2)
    pixels = torch.randn(3, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(net.encode_images(pixels), loaded.encode_images(pixels))


def test_missing_weights_error_is_actionable(tmp_path: Path) -> None:
    _tiny_weights(tmp_path, 2)
    with pytest.raises(FileNotFoundError) as error:
        RefMoE(experts=4, weights_dir=str(tmp_path))
    message = str(error.value)
    assert "python tools/train_refmoe.py" in message and "--experts 4" in message
    assert str(weights_file(tmp_path, 4)) in message and "refmoe-e2.safetensors" in message  # what is there


def test_explicit_weights_dir_is_used(tmp_path: Path) -> None:
    """``weights_dir=`` loads exactly the given files (here tiny random ones), not the packaged weights."""
    _tiny_weights(tmp_path, 4)
    model = RefMoE(experts=4, weights_dir=str(tmp_path))
    assert model.weights_path == weights_file(tmp_path, 4) and model.net.cfg.d_model == TINY["d_model"]
    assert model.info().extra["weights_sha256"] == hashlib.sha256(weights_file(tmp_path, 4).read_bytes()).hexdigest()


def test_tokenizer_unknown_words() -> None:
    tok = WordTokenizer.build(["A red circle."])
    assert tok.encode("red zebra") == [tok.index["red"], tok.unk_id]
    assert tok.vocab[:2] == ["[PAD]", "[UNK]"] and tok.vocab[2:] == sorted(tok.vocab[2:])


def test_training_is_deterministic() -> None:
    gen = torch.Generator().manual_seed(1)
    data = training.PairData(torch.randn(16, 3, 32, 32, generator=gen),
                    [[torch.randint(2, 20, (5,), generator=gen).tolist() for _ in range(2)] for _ in range(16)])
    cfg = training.TrainConfig(steps=3, batch_size=8, warmup_steps=1, seed=3, threads=1, log_every=100)
    runs = [training.train_variant(M.variant_config(4, 20, **TINY), data, cfg, log=lambda s: None)[0] for _ in range(2)]
    first, second = (r.state_dict() for r in runs)
    assert all(torch.equal(first[k], second[k]) for k in first)
    torch.manual_seed(3)
    init = M.RefMoEModel(M.variant_config(4, 20, **TINY)).state_dict()
    assert any(not torch.equal(first[k], init[k]) for k in first)  # it did train


@pytest.mark.parametrize("folder", [WEIGHTS_DIR, *sorted(WEIGHTS_DIR.glob("seed*"))], ids=lambda p: p.name)
def test_packaged_weights_match_manifest(folder: Path) -> None:
    manifest = describe_weights(folder)
    assert set(manifest["variants"]) == {"e1", "e2", "e4", "e8", "e16"}, f"{folder}/manifest.json missing or partial"
    for name, entry in manifest["variants"].items():
        path = folder / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], name
    tok = folder / manifest["tokenizer"]["file"]
    assert hashlib.sha256(tok.read_bytes()).hexdigest() == manifest["tokenizer"]["sha256"]
    seed0 = describe_weights()
    assert manifest["corpus"]["content_hash"] == seed0["corpus"]["content_hash"]  # replicates: same data
    assert manifest["tokenizer"]["sha256"] == seed0["tokenizer"]["sha256"]
    expected_seed = 0 if folder == WEIGHTS_DIR else int(folder.name.removeprefix("seed"))
    assert manifest["seed"] == expected_seed
    assert sum(p.stat().st_size for p in folder.glob("refmoe-e*.safetensors")) <= 10 * 2**20  # the encoders


def test_installed_package_has_no_dev_tool_and_no_dataset_imports() -> None:
    """Training moved to tools/; the model plugin imports no dataset or corpus plugin module."""
    package = Path(importlib.util.find_spec("vleval_models.refmoe").origin).parent
    assert not (package / "train.py").exists()
    imported = imported_modules(package)
    assert not {m for m in imported if m.startswith(("vleval_datasets", "vleval_corpus", "vleval_shifts"))}
    assert "vleval.api" in imported and not {m for m in imported if m.startswith("vleval.") and m != "vleval.api"}


@pytest.mark.slow
def test_training_tool_runs_as_documented() -> None:
    out = subprocess.run([sys.executable, "tools/train_refmoe.py", "--help"], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=120).stdout
    assert out.startswith("usage: python tools/train_refmoe.py") and "--experts" in out


def test_training_figures_use_the_project_retrieval_metric() -> None:
    """Ranks worked out by hand: 3 images x 6 captions (2 each); ties rank the lower caption index first."""
    sim = np.array([[0.9, 0.8, 0.1, 0.1, 0.2, 0.3],    # image 0: best own caption 0 at rank 0
                    [0.5, 0.1, 0.4, 0.4, 0.3, 0.2],    # image 1: best own caption 2 (0.4), caption 0 ahead: rank 1
                    [0.1, 0.2, 0.3, 0.6, 0.5, 0.7]])   # image 2: best own caption 5 at rank 0
    owner = np.array([0, 0, 1, 1, 2, 2])
    # text -> image: every caption's own image scores highest in its column except caption 3 (0.4 < 0.6): rank 1
    assert train_tool.retrieval_figures(sim, owner) == {
        "i2t_R@1": round(200 / 3, 2), "t2i_R@1": round(500 / 6, 2), "i2t_R@5": 100.0, "t2i_R@5": 100.0,
        "i2t_R@10": 100.0, "t2i_R@10": 100.0, "images": 3, "captions": 6}
    for row, r1 in (([0.4, 0.1, 0.4, 0.35, 0.3, 0.2], round(200 / 3, 2)),  # tie with caption 0 (lower): rank 1
                    ([0.39, 0.1, 0.4, 0.35, 0.3, 0.2], 100.0),             # no tie: rank 0
                    ([0.1, 0.1, 0.4, 0.35, 0.4, 0.2], 100.0)):             # tie with caption 4 (higher): rank 0
        tied = sim.copy()
        tied[1] = row
        assert train_tool.retrieval_figures(tied, owner)["i2t_R@1"] == r1, row


class _Scorer(Model):
    """Scores options from a table: {(item index, option key): score}."""

    name, version, description = "scorer", "0", "test double"
    capabilities = frozenset({Capability.SCORE_OPTIONS})

    def __init__(self, table: dict[tuple[int, str], float]) -> None:
        self.table = table

    def score_options(self, items: Any) -> list[list[float]]:
        return [[self.table.get((item.index, key), 0.0) for key in item.options] for item in items]


def test_training_figures_use_the_project_choice_metrics() -> None:
    """2 questions x 2 rotations; question 0 right in both, question 1 in one: 3/4 rows, 1/2 questions."""
    options = {"A": "red", "B": "blue"}
    rotated = {"A": "blue", "B": "red"}
    items = [MCItem(0, None, "q", options, "A"), MCItem(1_000_000, None, "q", rotated, "B"),
             MCItem(1, None, "q", options, "B"), MCItem(1_000_001, None, "q", rotated, "A")]
    scorer = _Scorer({(0, "A"): 1.0, (1_000_000, "B"): 1.0, (1, "B"): 1.0, (1_000_001, "B"): 1.0})
    assert train_tool.mc_metrics(scorer, items) == {"accuracy": 75.0, "circular_accuracy": 50.0, "chance": 50.0,
                                                   "items": 4, "questions": 2}
