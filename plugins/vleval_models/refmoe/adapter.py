"""The vleval model plugin for the RefMoE family: retrieval embeddings, similarity multiple choice, MoE telemetry."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vleval.api import Capability, MCItem, Model, ModelInfo
from vleval_models.refmoe.model import load_model, pad_batch
from vleval_models.refmoe.moe import MoEFFN, RoutingState
from vleval_models.refmoe.tokenizer import WordTokenizer

if TYPE_CHECKING:
    from PIL.Image import Image

#: The packaged weights: ``refmoe-e{E}.safetensors``, ``refmoe-tokenizer.json``, ``manifest.json``.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
TOKENIZER_FILE = "refmoe-tokenizer.json"
#: How the weights are made: a development tool of the source checkout (not installed with the package).
TRAIN_COMMAND = "python tools/train_refmoe.py"
IMAGE_MEAN, IMAGE_STD = 0.5, 0.5


def weights_file(weights_dir: str | Path, experts: int) -> Path:
    return Path(weights_dir) / f"refmoe-e{experts}.safetensors"


def seed_weights_dir(weights_dir: str | Path | None = None, training_seed: int = 0) -> Path:
    """The folder of a training seed's weights: ``weights_dir`` (default: the packaged ``weights/``) for seed 0,
    its subfolder ``seed{S}/`` (same file names, own ``manifest.json``) for seed ``S >= 1``."""
    if isinstance(training_seed, bool) or not isinstance(training_seed, int) or training_seed < 0:
        raise ValueError(f"training_seed must be an integer >= 0, got {training_seed!r}")
    base = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    return base if training_seed == 0 else base / f"seed{training_seed}"


def train_hint(command: str, folder: Path, training_seed: int, experts: int) -> str:
    """How to make missing weights: the training command for this folder, seed and variant."""
    seed = f" --seed {training_seed}" if training_seed else ""
    return (f"Train them from a source checkout with `{command}{seed} --out {folder}` (add `--experts {experts}` for "
            "this variant only), or pass weights_dir= a folder holding them.")


def preprocess_images(images: Sequence[Image], size: int = 32) -> torch.Tensor:
    """PIL images of any size/mode → ``[N, 3, size, size]`` float32, RGB, bilinear-resized, scaled to [-1, 1]."""
    from PIL import Image as PILImage

    arrays = []
    for image in images:
        image = image.convert("RGB")
        if image.size != (size, size):
            image = image.resize((size, size), PILImage.BILINEAR)
        arrays.append(np.asarray(image, dtype=np.uint8))
    if not arrays:
        return torch.zeros(0, 3, size, size)
    pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0
    return (pixels - IMAGE_MEAN) / IMAGE_STD


def option_text(item: MCItem, key: str) -> str:
    """The text an option is scored with: the option text alone, as the captions name colours/shapes/positions.

    The question is not prepended: its words ("what", "which"...) never occur in the training captions, so they
    would only add untrained or ``[UNK]`` tokens that are identical across options.
    """
    return item.options[key]


#: ``file_sha256``'s digests by file identity: (device, inode, size, mtime, ctime), the last two in ns
_DIGESTS: dict[tuple[int, int, int, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read once per process while the file keeps its identity (a rewritten or replaced
    file has a new inode, size, modification or change time, and is read again)."""
    info = os.stat(path)
    key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    digest = _DIGESTS.get(key)
    if digest is None:
        digest = _DIGESTS[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return digest


def variant_fingerprint(weights_name: Callable[[Path, int], Path], tokenizer_file: str, experts: int,
                        weights_dir: str | Path | None, training_seed: int) -> str:
    """sha256 of a variant's weights file (``weights_name(folder, experts)``) and tokenizer file in its training
    seed's folder, ``missing`` if either is absent or the seed is invalid."""
    try:
        folder = seed_weights_dir(weights_dir, training_seed)
    except ValueError:
        return "missing"
    files = [weights_name(folder, int(experts)), folder / tokenizer_file]
    if not all(f.is_file() for f in files):
        return "missing"
    return hashlib.sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()


class RefMoE(Model):
    """A trained RefMoE variant (``experts`` ∈ {1, 2, 4, 8, 16}) loaded from safetensors.

    ``EMBED``: L2-normalised joint embeddings. ``SCORE_OPTIONS``: cosine similarity between the image and each option
    text (see :func:`option_text`). Every MoE layer reports its routing (padding tokens excluded) to
    :meth:`record_routing`; :meth:`scale_experts` overrides top-k and prunes experts by masking their router logits.
    """

    # name, version and description: registered in vleval_models.refmoe.plugin (the only place they are written)
    capabilities = frozenset({Capability.EMBED, Capability.SCORE_OPTIONS})

    @staticmethod
    def fingerprint(experts: int = 16, weights_dir: str | None = None, training_seed: int = 0, **_: Any) -> str:
        """sha256 of the variant's weights and tokenizer files (``missing`` if absent)."""
        return variant_fingerprint(weights_file, TOKENIZER_FILE, experts, weights_dir, training_seed)

    def __init__(self, experts: int = 16, weights_dir: str | None = None, device: str = "cpu",
                 threads: int | None = None, batch_size: int = 256, training_seed: int = 0):
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.experts, self.device, self.batch_size = int(experts), str(device), int(batch_size)
        self.training_seed = training_seed
        self.weights_dir = seed_weights_dir(weights_dir, training_seed)
        path = weights_file(self.weights_dir, self.experts)
        if not path.is_file():
            found = sorted(p.name for p in self.weights_dir.glob("refmoe-e*.safetensors")) \
                if self.weights_dir.is_dir() else []
            raise FileNotFoundError(
                f"RefMoE weights for experts={self.experts}, training_seed={training_seed} not found: {path} "
                f"(present: {found or 'none'}). " + train_hint(TRAIN_COMMAND, self.weights_dir, training_seed,
                                                               self.experts))
        self.net, self.metadata = load_model(path, device=self.device)
        tok_path = self.weights_dir / self.metadata.get("tokenizer", TOKENIZER_FILE)
        if not tok_path.is_file():
            raise FileNotFoundError(f"RefMoE tokenizer {tok_path} missing; retrain with `{TRAIN_COMMAND}`")
        self.tokenizer = WordTokenizer.load(tok_path)
        if len(self.tokenizer) != self.net.cfg.vocab_size:
            raise ValueError(f"{tok_path} has {len(self.tokenizer)} words but {path} expects "
                             f"{self.net.cfg.vocab_size}; retrain with `{TRAIN_COMMAND}`")
        self.weights_path = path
        self.weights_sha256 = file_sha256(path)
        self.net.set_hook(self._hook)

    def _hook(self, layer: int, num_experts: int, experts: torch.Tensor, modality: int, probs: torch.Tensor) -> None:
        self.record_routing(layer, num_experts, experts, modality, phase="prefill", probs=probs)

    # Capability.EMBED
    @torch.inference_mode()
    def embed_images(self, images: Sequence[Image]) -> np.ndarray:
        out = [self.net.encode_images(preprocess_images(images[i:i + self.batch_size],
                                                        self.net.cfg.image_size).to(self.device)).float().cpu()
               for i in range(0, len(images), self.batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, self.net.cfg.embed_dim), np.float32)

    @torch.inference_mode()
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for i in range(0, len(texts), self.batch_size):
            ids, mask = pad_batch(*self.tokenizer.batch(texts[i:i + self.batch_size]))
            out.append(self.net.encode_texts(ids.to(self.device), mask.to(self.device)).float().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self.net.cfg.embed_dim), np.float32)

    # Capability.SCORE_OPTIONS
    def score_options(self, items: Sequence[MCItem]) -> list[list[float]]:
        if any(item.image is None for item in items):
            raise ValueError("RefMoE scores options against the image; an MCItem without an image cannot be scored")
        image_emb = self.embed_images([item.image for item in items])
        keys = [list(item.options) for item in items]
        text_emb = self.embed_texts([option_text(item, k) for item, ks in zip(items, keys, strict=True) for k in ks])
        scores, start = [], 0
        for i, ks in enumerate(keys):
            scores.append((text_emb[start:start + len(ks)] @ image_emb[i]).astype(float).tolist())
            start += len(ks)
        return scores

    # MoE
    def info(self) -> ModelInfo:
        """Facts under the current routing state (inside :meth:`scale_experts`, pruned experts are not counted)."""
        cfg, moes = self.net.cfg, self.net.moe_modules()
        counts = self.net.param_counts()
        ks = [m.state.top_k or m.top_k for m in moes]
        return ModelInfo(
            name=f"refmoe-e{self.experts}",
            architecture="refmoe-limoe-contrastive",
            total_params=counts["total"],
            active_params_per_token=counts["active_per_token"],
            num_layers=cfg.num_layers,
            moe_layers=[m.layer for m in moes],
            experts_per_layer=[m.num_experts if m.state.keep is None else int(m.state.keep.sum()) for m in moes],
            top_k=max(ks) if ks else None,
            dtype=str(next(self.net.parameters()).dtype).removeprefix("torch."),
            device=self.device,
            extra={
                "config": cfg.to_dict(),
                "trained_top_k": cfg.top_k if moes else None,
                "top_k_per_layer": ks,
                "expert_params_each": moes[0].expert_params() if moes else None,
                "weights_file": self.weights_path.name,
                "weights_sha256": self.weights_sha256,
                "seed": self.metadata.get("seed"),
                "training_seed": self.training_seed,
                "corpus_content_hash": self.metadata.get("corpus_content_hash"),
                "mc_scoring": "cosine(image, option text)",
            },
        )

    def scale_experts(self, *, top_k: int | None = None,
                      keep_experts: dict[int, list[int]] | None = None) -> contextlib.AbstractContextManager[None]:
        """Route with ``top_k`` experts and/or only ``keep_experts[layer]`` (others' router logits set to -inf).

        Without an explicit ``top_k``, k is capped at the number of kept experts of a layer. Only routing state is
        touched (no weight is changed), and it is restored on exit, so outputs afterwards are bitwise identical.
        """
        return scale_moe(self.net.moe_modules(), f"refmoe-e{self.experts}", top_k, keep_experts)


@contextlib.contextmanager
def scale_moe(moe_modules: Sequence[MoEFFN], name: str, top_k: int | None = None,
              keep_experts: dict[int, list[int]] | None = None) -> Iterator[None]:
    """Inference-time top-k / pruning of ``moe_modules`` (routing state only), restored exactly on exit."""
    if top_k is None and not keep_experts:
        yield
        return
    moes = {m.layer: m for m in moe_modules}
    if not moes:
        raise NotImplementedError(f"{name} is dense: it has no experts to scale")
    keep_experts = dict(keep_experts or {})
    unknown = set(keep_experts) - set(moes)
    if unknown:
        raise ValueError(f"keep_experts names layers {sorted(unknown)}; MoE layers are {sorted(moes)}")
    new: dict[int, RoutingState] = {}
    for layer, moe in moes.items():
        keep = moe.state.keep
        if layer in keep_experts:
            ids = sorted({int(e) for e in keep_experts[layer]})
            if not ids or ids[0] < 0 or ids[-1] >= moe.num_experts:
                raise ValueError(f"layer {layer}: keep_experts must be a non-empty subset of "
                                 f"0..{moe.num_experts - 1}, got {keep_experts[layer]}")
            mask = torch.zeros(moe.num_experts, dtype=torch.bool, device=moe.router.weight.device)
            mask[ids] = True
            keep = mask if keep is None else keep & mask
            if not bool(keep.any()):
                raise ValueError(f"layer {layer}: no expert left after pruning")
        kept = moe.num_experts if keep is None else int(keep.sum())
        if top_k is not None:
            if not 1 <= top_k <= kept:
                raise ValueError(f"layer {layer}: top_k={top_k} must be in 1..{kept} (experts available)")
            k = int(top_k)
        else:
            k = min(moe.state.top_k or moe.top_k, kept)
        new[layer] = RoutingState(top_k=k, keep=keep)
    saved = {layer: moe.state for layer, moe in moes.items()}
    try:
        for layer, moe in moes.items():
            moe.state = new[layer]
        yield
    finally:
        for layer, moe in moes.items():
            moe.state = saved[layer]


def describe_weights(weights_dir: str | Path | None = None) -> dict[str, Any]:
    """The manifest of a weights folder (empty dict when absent)."""
    path = Path(weights_dir or WEIGHTS_DIR) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}
