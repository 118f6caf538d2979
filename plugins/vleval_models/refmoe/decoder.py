"""RefMoE-Cap: the generative member of the RefMoE family, a tiny prefix-LM caption decoder with MoE FFNs (torch).

One decoder-only stack reads ``[image patches; prompt words; BOS; generated words]``:

- the **prefix** (the image's 16 patch tokens, linear patch embedding + learned position embedding, then the
  left-padded prompt words and ``[BOS]``, word embedding + text position embedding) attends bidirectionally to itself;
- the **generated** words attend causally (to the whole prefix and to the words before them), so decoding uses a
  key/value cache: one prefill over the prefix, then one step per new word.

Layers are the encoder's (pre-LN, "Every-2" MoE FFN placement, router softmax → top-k, renormalised gates, sparse
dropless dispatch: :class:`~vleval_models.refmoe.moe.MoEFFN`), and variants follow the same matched-active-parameter
rule (:func:`~vleval_models.refmoe.config.variant_config`: ``E = 1`` dense FFN of hidden ``H``; ``E >= 2`` top-2
experts of hidden ``H/2``). **Every token routes**: image patches, prompt words and each generated word (at its decode
step). Padding never reaches the FFN; at a decode step only the sequences still generating do. A linear head predicts
the next word. Trained with next-word cross-entropy on (image, caption prompt → caption) and (image, MMBench-style
question prompt → option letter) pairs, plus the Switch load-balancing loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vleval.api import IMAGE, TEXT
from vleval_models.refmoe.checkpoint import load_stack, save_stack
from vleval_models.refmoe.config import RefMoEConfig
from vleval_models.refmoe.stack import Attention, Block, RefMoEStack

METADATA_KEY = "refmoe-cap"  # the safetensors metadata entry of a decoder file (the encoder's is "refmoe")
KIND = "caption-decoder"

#: Per layer: cached keys and values ``[B, heads, L, d_head]``.
Cache = list[tuple[torch.Tensor, torch.Tensor]]


class CachedAttention(Attention):
    """Multi-head attention over the cached keys/values plus the new tokens; ``mask`` [B, 1, n, L] (True = visible)."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor,
                cache: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, n, d)), (k, v)


class DecoderBlock(Block):
    """Pre-LN layer: cached attention, then a dense or MoE FFN applied only to the tokens ``ffn_mask`` selects."""

    attention = CachedAttention

    def forward(self, x: torch.Tensor, mask: torch.Tensor, ffn_mask: torch.Tensor, modality: torch.Tensor,
                cache: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        a, kv = self.attn(self.ln1(x), mask, cache)
        x = x + a
        h = self.ln2(x)
        y = torch.zeros_like(h)
        y[ffn_mask] = self.ffn(h[ffn_mask], modality[ffn_mask])  # the router sees each selected token's modality
        return x + y, kv


class CaptionDecoder(RefMoEStack):
    """The prefix-LM; :meth:`prefill` + :meth:`step` decode with a cache, :meth:`loss` trains on whole sequences.

    Embeddings, layer stack, routing hook, router losses and parameter counts are the encoder's
    (:class:`~vleval_models.refmoe.stack.RefMoEStack`); the decoder adds a next-word head.
    """

    def __init__(self, cfg: RefMoEConfig):
        super().__init__(cfg, DecoderBlock)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)

    def _run(self, x: torch.Tensor, mask: torch.Tensor, ffn_mask: torch.Tensor, modality: torch.Tensor,
             cache: Cache | None) -> tuple[torch.Tensor, Cache]:
        new: Cache = []
        for i, blk in enumerate(self.layers):
            x, kv = blk(x, mask, ffn_mask, modality, None if cache is None else cache[i])
            new.append(kv)
        return self.head(self.ln_f(x)), new

    def _prefix(self, image_tokens: torch.Tensor, has_image: torch.Tensor, prompt: torch.Tensor,
                extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Embedded ``[image; prompt(; extra)]``, token validity, modality and the prompt's valid-word count."""
        valid_txt = prompt != 0
        text = prompt if extra is None else torch.cat([prompt, extra], dim=1)
        valid = torch.cat([valid_txt, extra != 0], dim=1) if extra is not None else valid_txt
        pos = (valid.long().cumsum(1) - 1).clamp_min(0)  # left padding: positions count the valid words only
        x_txt = self.token_embed(text) + self.text_pos[pos]
        x = torch.cat([image_tokens, x_txt], dim=1)
        img_valid = has_image[:, None].expand(-1, image_tokens.shape[1])
        key_valid = torch.cat([img_valid, valid], dim=1)
        modality = torch.cat([torch.full_like(img_valid, IMAGE, dtype=torch.long),
                              torch.full_like(valid, TEXT, dtype=torch.long)], dim=1)
        return x, key_valid, modality, valid_txt.sum(1)

    def prefill(self, image_tokens: torch.Tensor, has_image: torch.Tensor,
                prompt: torch.Tensor) -> tuple[torch.Tensor, Cache, torch.Tensor, torch.Tensor]:
        """Run the prefix (``prompt`` left-padded, ending in ``[BOS]``): next-word logits ``[B, V]``, the cache,
        key validity ``[B, L]`` and the next text position ``[B]``."""
        x, key_valid, modality, n_words = self._prefix(image_tokens, has_image, prompt)
        mask = key_valid[:, None, None, :].expand(-1, 1, x.shape[1], -1)
        logits, cache = self._run(x, mask, key_valid, modality, None)
        return logits[:, -1], cache, key_valid, n_words

    def step(self, tokens: torch.Tensor, positions: torch.Tensor, cache: Cache, key_valid: torch.Tensor,
             live: torch.Tensor) -> tuple[torch.Tensor, Cache, torch.Tensor]:
        """One decode step: feed one word per sequence (only ``live`` ones reach the FFNs); logits ``[B, V]``."""
        x = (self.token_embed(tokens) + self.text_pos[positions.clamp_max(self.cfg.max_text_len - 1)])[:, None]
        key_valid = torch.cat([key_valid, torch.ones_like(key_valid[:, :1])], dim=1)
        modality = torch.full_like(tokens, TEXT)[:, None]
        logits, cache = self._run(x, key_valid[:, None, None, :], live[:, None], modality, cache)
        return logits[:, 0], cache, key_valid

    def loss(self, pixels: torch.Tensor, has_image: torch.Tensor, prompt: torch.Tensor,
             target: torch.Tensor) -> torch.Tensor:
        """Mean next-word cross-entropy of ``target`` (right-padded words then ``[EOS]``) after the prefix."""
        inputs = target[:, :-1]
        x, key_valid, modality, _ = self._prefix(self.embed_images(pixels), has_image, prompt, inputs)
        n, prefix = x.shape[1], x.shape[1] - inputs.shape[1]
        idx = torch.arange(n)
        visible = (idx[None, :] < prefix) | (idx[None, :] <= idx[:, None])  # prefix-LM: causal after the prefix
        mask = key_valid[:, None, None, :] & visible[None, None]
        logits, _ = self._run(x, mask, key_valid, modality, None)
        logits = logits[:, prefix - 1:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=0)



def reorder(cache: Cache, index: torch.Tensor) -> Cache:
    """The cache of the sequences ``index`` selects (beam search)."""
    return [(k.index_select(0, index), v.index_select(0, index)) for k, v in cache]


def save_decoder(model: CaptionDecoder, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Safetensors (fp32) with the kind, config and ``metadata`` in one JSON metadata entry (byte-reproducible)."""
    save_stack(model, path, METADATA_KEY, {"kind": KIND, **(metadata or {})})


def load_decoder(path: str | Path, device: str = "cpu") -> tuple[CaptionDecoder, dict[str, Any]]:
    """Rebuild a decoder written by :func:`save_decoder` (safetensors only, no pickle)."""
    return load_stack(path, METADATA_KEY, "RefMoE-Cap decoder", CaptionDecoder, device)

