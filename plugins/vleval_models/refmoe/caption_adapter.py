"""vleval model plugins of the generative RefMoE members: ``refmoe-cap`` (the MoE caption decoder family) and
``refmoe-blind`` (the blind captioning baseline: the most frequent training caption, no image seen)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from vleval.api import MC_INSTRUCTION, Capability, Model, ModelInfo, Prompt, phase
from vleval_models.refmoe import decoder as D
from vleval_models.refmoe.adapter import (
    file_sha256,
    preprocess_images,
    scale_moe,
    seed_weights_dir,
    train_hint,
    variant_fingerprint,
)
from vleval_models.refmoe.generation import Generated, beam_search, greedy
from vleval_models.refmoe.tokenizer import CaptionTokenizer

CAP_TOKENIZER_FILE = "refmoe-cap-tokenizer.json"
CAP_MANIFEST = "manifest-cap.json"
PRIOR_FILE = "refmoe-cap-prior.json"  # the blind baseline: most frequent training caption and answer letter
CAP_TRAIN_COMMAND = "python tools/train_refmoe_caption.py"


def cap_weights_file(weights_dir: str | Path, experts: int) -> Path:
    return Path(weights_dir) / f"refmoe-cap-e{experts}.safetensors"


def _missing(what: str, path: Path, folder: Path, training_seed: int, experts: int) -> FileNotFoundError:
    return FileNotFoundError(f"{what} not found: {path}. "
                             + train_hint(CAP_TRAIN_COMMAND, folder, training_seed, experts))


class RefMoECap(Model):
    """A trained RefMoE-Cap variant (``experts`` ∈ {1, 2, 4, 8, 16}): captions and MC letters by generation.

    ``num_beams = 1`` decodes greedily, more runs beam search; ``max_new_tokens`` comes from each :class:`Prompt`.
    Routing is reported for the prefill (image patches tagged ``IMAGE``, prompt words ``TEXT``, phase ``prefill``)
    and for every decode step (the fed-back generated words, ``TEXT``, phase ``decode``).
    """

    # name, version and description: registered in vleval_models.refmoe.plugin (the only place they are written)
    capabilities = frozenset({Capability.GENERATE})

    @staticmethod
    def fingerprint(experts: int = 16, weights_dir: str | None = None, training_seed: int = 0, **_: Any) -> str:
        """sha256 of the variant's decoder and tokenizer files (``missing`` if absent)."""
        return variant_fingerprint(cap_weights_file, CAP_TOKENIZER_FILE, experts, weights_dir, training_seed)

    def __init__(self, experts: int = 16, num_beams: int = 1, weights_dir: str | None = None,
                 training_seed: int = 0, device: str = "cpu", threads: int | None = None, batch_size: int = 64):
        if isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams < 1:
            raise ValueError(f"refmoe-cap: num_beams must be an integer >= 1, got {num_beams!r}")
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.experts, self.num_beams, self.training_seed = int(experts), num_beams, training_seed
        self.device, self.batch_size = str(device), int(batch_size)
        self.weights_dir = seed_weights_dir(weights_dir, training_seed)
        path = cap_weights_file(self.weights_dir, self.experts)
        if not path.is_file():
            raise _missing(f"RefMoE-Cap decoder weights for experts={self.experts}, training_seed={training_seed}",
                           path, self.weights_dir, training_seed, self.experts)
        self.net, self.metadata = D.load_decoder(path, device=self.device)
        tok_path = self.weights_dir / CAP_TOKENIZER_FILE
        if not tok_path.is_file():
            raise _missing("RefMoE-Cap tokenizer", tok_path, self.weights_dir, training_seed, self.experts)
        self.tokenizer = CaptionTokenizer.load(tok_path)
        if len(self.tokenizer) != self.net.cfg.vocab_size:
            raise ValueError(f"{tok_path} has {len(self.tokenizer)} words but {path} expects "
                             f"{self.net.cfg.vocab_size}; retrain with `{CAP_TRAIN_COMMAND}`")
        self.weights_path, self.weights_sha256 = path, file_sha256(path)
        self._phase = "prefill"
        self.net.set_hook(self._hook)

    def _hook(self, layer: int, num_experts: int, experts: torch.Tensor, modality: torch.Tensor,
              probs: torch.Tensor) -> None:
        self.record_routing(layer, num_experts, experts, modality, phase=self._phase, probs=probs)

    def _set_phase(self, name: str) -> None:
        self._phase = name

    # Capability.GENERATE
    def generate(self, prompts: Sequence[Prompt]) -> list[str]:
        return [self.tokenizer.decode(g.ids) for g in self.generate_ids(prompts)]

    @torch.inference_mode()
    def generate_ids(self, prompts: Sequence[Prompt]) -> list[Generated]:
        """Generated ids and sequence log-probabilities, in prompt order (batched by ``max_new_tokens``)."""
        out: list[Generated | None] = [None] * len(prompts)
        groups: dict[int, list[int]] = {}
        for i, prompt in enumerate(prompts):
            groups.setdefault(int(prompt.max_new_tokens), []).append(i)
        for max_new, members in groups.items():
            for start in range(0, len(members), self.batch_size):
                chunk = members[start:start + self.batch_size]
                for i, g in zip(chunk, self._generate_batch([prompts[i] for i in chunk], max_new), strict=True):
                    out[i] = g
        return out  # type: ignore[return-value]

    def prepare(self, prompts: Sequence[Prompt]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Patch tokens ``[B, P, d]`` (zeros without an image), image presence ``[B]``, left-padded prompt ids."""
        cfg = self.net.cfg
        has_image = torch.tensor([p.image is not None for p in prompts], dtype=torch.bool)
        pixels = torch.zeros(len(prompts), 3, cfg.image_size, cfg.image_size)
        if has_image.any():
            pixels[has_image] = preprocess_images([p.image for p in prompts if p.image is not None], cfg.image_size)
        tokens = self.net.embed_images(pixels.to(self.device)) * has_image[:, None, None].to(self.device)
        encoded = [self.tokenizer.encode_prompt(p.text) for p in prompts]
        width = max(len(e) for e in encoded)
        ids = torch.zeros(len(prompts), width, dtype=torch.long)
        for i, e in enumerate(encoded):
            ids[i, width - len(e):] = torch.tensor(e, dtype=torch.long)
        return tokens, has_image.to(self.device), ids.to(self.device)

    def _generate_batch(self, prompts: Sequence[Prompt], max_new: int) -> list[Generated]:
        with phase("vision"):
            image_tokens, has_image, ids = self.prepare(prompts)
        room = self.net.cfg.max_text_len - ids.shape[1]
        max_new = max(0, min(max_new, room))  # the text position embedding bounds prompt + answer
        eos = self.tokenizer.eos_id
        if self.num_beams == 1:
            return greedy(self.net, image_tokens, has_image, ids, max_new, eos, self._set_phase)
        return beam_search(self.net, image_tokens, has_image, ids, max_new, eos, self.num_beams, self._set_phase)

    # MoE
    def info(self) -> ModelInfo:
        """Facts under the current routing state (inside :meth:`scale_experts`, pruned experts are not counted)."""
        cfg, moes = self.net.cfg, self.net.moe_modules()
        counts = self.net.param_counts()
        ks = [m.state.top_k or m.top_k for m in moes]
        return ModelInfo(
            name=f"refmoe-cap-e{self.experts}", architecture="refmoe-prefix-lm-caption-decoder",
            total_params=counts["total"], active_params_per_token=counts["active_per_token"],
            num_layers=cfg.num_layers, moe_layers=[m.layer for m in moes],
            experts_per_layer=[m.num_experts if m.state.keep is None else int(m.state.keep.sum()) for m in moes],
            top_k=max(ks) if ks else None,
            dtype=str(next(self.net.parameters()).dtype).removeprefix("torch."), device=self.device,
            extra={"config": cfg.to_dict(), "trained_top_k": cfg.top_k if moes else None, "top_k_per_layer": ks,
                   "expert_params_each": moes[0].expert_params() if moes else None, "num_beams": self.num_beams,
                   "weights_file": self.weights_path.name, "weights_sha256": self.weights_sha256,
                   "seed": self.metadata.get("seed"), "training_seed": self.training_seed,
                   "corpus_content_hash": self.metadata.get("corpus_content_hash")},
        )

    def scale_experts(self, *, top_k: int | None = None,
                      keep_experts: dict[int, list[int]] | None = None) -> contextlib.AbstractContextManager[None]:
        """Exactly the encoder's scaling (:func:`~vleval_models.refmoe.adapter.scale_moe`), on the decoder's MoE
        layers: routing state only, restored on exit."""
        return scale_moe(self.net.moe_modules(), f"refmoe-cap-e{self.experts}", top_k, keep_experts)


class RefMoEBlind(Model):
    """Blind baseline: every caption prompt gets the most frequent training caption, every multiple-choice prompt
    (ending with the shared MC instruction) the most frequent training answer letter. The image is never read."""

    # name, version and description: registered in vleval_models.refmoe.plugin
    capabilities = frozenset({Capability.GENERATE})

    @staticmethod
    def fingerprint(weights_dir: str | None = None, training_seed: int = 0, **_: Any) -> str:
        try:
            path = seed_weights_dir(weights_dir, training_seed) / PRIOR_FILE
        except ValueError:
            return "missing"
        return file_sha256(path) if path.is_file() else "missing"

    def __init__(self, weights_dir: str | None = None, training_seed: int = 0):
        folder = seed_weights_dir(weights_dir, training_seed)
        path = folder / PRIOR_FILE
        if not path.is_file():
            raise _missing("RefMoE blind-baseline prior", path, folder, training_seed, 1)
        prior = json.loads(path.read_text())
        self.caption, self.letter = str(prior["caption"]), str(prior["answer_letter"])
        self.path = path

    def generate(self, prompts: Sequence[Prompt]) -> list[str]:
        return [self.letter if p.text.rstrip().endswith(MC_INSTRUCTION) else self.caption for p in prompts]

    def info(self) -> ModelInfo:
        return ModelInfo(name="refmoe-blind", architecture="constant-prior", total_params=0,
                         active_params_per_token=0, num_layers=0,
                         extra={"caption": self.caption, "answer_letter": self.letter, "prior_file": self.path.name})
