"""RefMoE: a tiny LIMoE-style multimodal contrastive Mixture-of-Experts encoder (torch).

One stack of pre-LN transformer layers is **shared** by both modalities: an image (32x32 RGB cut into 8x8 patches,
linear patch embedding + learned position embedding) and a text (word ids, embedding + position embedding) are encoded
as separate sequences through the same layers, mean-pooled over their valid tokens, layer-normed and projected by a
per-modality linear head into a joint space, and trained with a CLIP (InfoNCE) loss.

Every second layer (layers 1 and 3 of 4, the "Every-2" placement of V-MoE/LIMoE) has a Mixture-of-Experts FFN
(:mod:`vleval_models.refmoe.moe`: top-k routing, sparse dropless dispatch); the layers are
:mod:`vleval_models.refmoe.stack`'s, shared with the caption decoder. Padding tokens never reach the router.
Variants match active parameters per token (:func:`~vleval_models.refmoe.config.variant_config`): with ``E >= 2``
experts, top-2 and expert hidden ``H/2``; the dense ``E = 1`` model has one FFN of hidden ``H`` (k = 1, no router).
Weight files: :mod:`vleval_models.refmoe.checkpoint`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vleval.api import IMAGE, TEXT
from vleval_models.refmoe.checkpoint import load_stack, save_stack
from vleval_models.refmoe.config import RefMoEConfig, variant_config
from vleval_models.refmoe.stack import Block, RefMoEStack

__all__ = ["METADATA_KEY", "RefMoEConfig", "RefMoEModel", "clip_loss", "load_model", "pad_batch", "save_model",
           "variant_config"]

METADATA_KEY = "refmoe"  # the safetensors metadata entry holding the config (JSON)


class RefMoEModel(RefMoEStack):
    """The shared multimodal encoder; ``encode_images``/``encode_texts`` return L2-normalised embeddings."""

    def __init__(self, cfg: RefMoEConfig):
        super().__init__(cfg, Block)
        d = cfg.d_model
        self.image_proj = nn.Linear(d, cfg.embed_dim, bias=False)
        self.text_proj = nn.Linear(d, cfg.embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def _encode(self, x: torch.Tensor, mask: torch.Tensor | None, modality: int) -> torch.Tensor:
        for blk in self.layers:
            x = blk(x, mask, modality)
        if mask is None:
            pooled = x.mean(dim=1)
        else:
            m = mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp_min(1.0)
        return self.ln_f(pooled)

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.embed_images(pixels)
        return F.normalize(self.image_proj(self._encode(x, None, IMAGE)), dim=-1)

    def encode_texts(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.token_embed(ids) + self.text_pos[: ids.shape[1]]
        return F.normalize(self.text_proj(self._encode(x, mask, TEXT)), dim=-1)


def pad_batch(encoded: list[list[int]], length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad id lists to ``[B, length]`` ids and a bool validity mask."""
    ids = torch.zeros(len(encoded), length, dtype=torch.long)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = torch.tensor(e[:length], dtype=torch.long)
    return ids, ids != 0


def clip_loss(img: torch.Tensor, txt: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of matched (image, text) embedding pairs."""
    logits = logit_scale.clamp(max=math.log(100.0)).exp() * img @ txt.t()
    target = torch.arange(img.shape[0], device=img.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def save_model(model: RefMoEModel, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Write an encoder as safetensors; the config and ``metadata`` go in the ``refmoe`` metadata entry."""
    save_stack(model, path, METADATA_KEY, dict(metadata or {}))


def load_model(path: str | Path, device: str = "cpu") -> tuple[RefMoEModel, dict[str, Any]]:
    """Rebuild an encoder from a safetensors file written by :func:`save_model` (no pickle involved)."""
    return load_stack(path, METADATA_KEY, "RefMoE weights", RefMoEModel, device)
