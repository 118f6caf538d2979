"""RefMoE: a tiny LIMoE-style multimodal contrastive Mixture-of-Experts encoder (torch).

One stack of pre-LN transformer layers is **shared** by both modalities: an image (32x32 RGB cut into 8x8 patches,
linear patch embedding + learned position embedding) and a text (word ids, embedding + position embedding) are encoded
as separate sequences through the same layers, mean-pooled over their valid tokens, layer-normed and projected by a
per-modality linear head into a joint space, and trained with a CLIP (InfoNCE) loss.

Every second layer (layers 1 and 3 of 4, the "Every-2" placement of V-MoE/LIMoE) has a Mixture-of-Experts FFN:
router linear → softmax → top-k, gates renormalised over the selected experts, experts = 2-layer GELU MLPs.
Dispatch is really sparse: tokens are sorted by selected expert and each expert runs only on its own tokens, so lower
top-k and pruned experts cut compute. There is no capacity limit (dropless): every token gets its k experts.
Padding tokens never reach the router. Variants match active parameters per token: with ``E >= 2`` experts,
top-2 and expert hidden ``H/2``; the dense ``E = 1`` model has one FFN of hidden ``H`` (k = 1, no router).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: ``hook(layer, num_experts, selected_experts[tokens, k], modality, probs[tokens, num_experts])``, called by each
#: MoE layer; ``probs``: the router's softmax over all experts (pruned experts 0), ``modality`` an int or ``[tokens]``.
RoutingHook = Callable[[int, int, torch.Tensor, Any, torch.Tensor], None]

METADATA_KEY = "refmoe"  # the safetensors metadata entry holding the config (JSON)
TEXT, IMAGE = 0, 1  # same values as vleval.api.TEXT / IMAGE (kept local so this module needs only torch)


@dataclass
class RefMoEConfig:
    """Architecture of one RefMoE variant."""

    num_experts: int = 16
    top_k: int = 2
    vocab_size: int = 64
    d_model: int = 64
    num_layers: int = 4
    num_heads: int = 4
    ffn_hidden: int = 256  # H: hidden size of the dense FFNs (and of the dense model's FFN at MoE positions)
    expert_hidden: int = 128  # hidden size of one expert: H/2 with top-2 keeps active FFN width = H
    moe_every: int = 2  # layer i is MoE when i % moe_every == moe_every - 1
    image_size: int = 32
    patch_size: int = 8
    max_text_len: int = 32
    embed_dim: int = 64

    @property
    def moe_layers(self) -> list[int]:
        if self.num_experts < 2:
            return []
        return [i for i in range(self.num_layers) if i % self.moe_every == self.moe_every - 1]

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def to_dict(self) -> dict:
        return asdict(self)


def variant_config(num_experts: int, vocab_size: int, **overrides: int) -> RefMoEConfig:
    """The family's matched-active-parameter rule: ``E = 1`` → dense, k = 1, hidden H; ``E >= 2`` → top-2, H/2."""
    base = RefMoEConfig(vocab_size=vocab_size, **overrides)
    if num_experts < 1:
        raise ValueError(f"num_experts must be >= 1, got {num_experts}")
    if num_experts == 1:
        base.num_experts, base.top_k, base.expert_hidden = 1, 1, base.ffn_hidden
    else:
        base.num_experts, base.top_k, base.expert_hidden = num_experts, 2, base.ffn_hidden // 2
    return base


class DenseFFN(nn.Module):
    """A 2-layer GELU MLP applied to a flat ``[tokens, d]`` batch."""

    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x: torch.Tensor, modality: int) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


@dataclass
class RoutingState:
    """Inference-time overrides of one MoE layer (``None`` = as trained)."""

    top_k: int | None = None
    keep: torch.Tensor | None = None  # bool [E]: experts a token may be routed to


@dataclass
class AuxLosses:
    """Router statistics summed over the MoE layers of one forward pass."""

    balance: torch.Tensor | float = 0.0  # Switch/GShard load balancing, = 1 per layer at perfect balance
    local_entropy: torch.Tensor | float = 0.0  # mean per-token routing entropy (LIMoE: minimise)
    global_entropy: torch.Tensor | float = 0.0  # entropy of the mean routing distribution (LIMoE: maximise)
    layers: int = 0
    expert_fraction: list[torch.Tensor] = field(default_factory=list)


class MoEFFN(nn.Module):
    """Router + ``E`` expert MLPs (weights stacked as ``[E, ...]``) with sparse top-k dispatch."""

    def __init__(self, d: int, hidden: int, num_experts: int, top_k: int, layer: int):
        super().__init__()
        self.num_experts, self.top_k, self.layer = num_experts, top_k, layer
        self.router = nn.Linear(d, num_experts, bias=False)
        bound1, bound2 = 1 / math.sqrt(d), 1 / math.sqrt(hidden)
        self.w1 = nn.Parameter(torch.empty(num_experts, d, hidden).uniform_(-bound1, bound1))
        self.b1 = nn.Parameter(torch.empty(num_experts, hidden).uniform_(-bound1, bound1))
        self.w2 = nn.Parameter(torch.empty(num_experts, hidden, d).uniform_(-bound2, bound2))
        self.b2 = nn.Parameter(torch.empty(num_experts, d).uniform_(-bound2, bound2))
        nn.init.normal_(self.router.weight, std=0.02)
        self.state = RoutingState()
        self.hook: RoutingHook | None = None
        self.aux: AuxLosses | None = None  # set to an AuxLosses to accumulate router losses

    def expert_params(self) -> int:
        """Parameters of one expert."""
        return (self.w1[0].numel() + self.b1[0].numel() + self.w2[0].numel() + self.b2[0].numel())

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Router probabilities ``[T, E]``, selected experts ``[T, k]`` and their renormalised gates ``[T, k]``."""
        logits = self.router(x)
        if self.state.keep is not None:
            logits = logits.masked_fill(~self.state.keep, float("-inf"))
        probs = logits.softmax(dim=-1)
        gates, experts = probs.topk(self.state.top_k or self.top_k, dim=-1)
        return probs, experts, gates / gates.sum(dim=-1, keepdim=True)

    def forward(self, x: torch.Tensor, modality: int) -> torch.Tensor:
        probs, experts, gates = self.route(x)
        if self.hook is not None:
            self.hook(self.layer, self.num_experts, experts, modality, probs)
        k = experts.shape[1]
        flat = experts.reshape(-1)
        order = flat.argsort(stable=True)
        counts = torch.bincount(flat, minlength=self.num_experts).tolist()
        token = order // k
        gate = gates.reshape(-1)[order].unsqueeze(1)
        xs = x[token]
        outs, start = [], 0
        for e, n in enumerate(counts):
            if n == 0:
                continue
            h = F.gelu(torch.addmm(self.b1[e], xs[start:start + n], self.w1[e]))
            outs.append(torch.addmm(self.b2[e], h, self.w2[e]))
            start += n
        out = torch.zeros_like(x)
        if outs:
            out.index_add_(0, token, torch.cat(outs) * gate)
        if self.aux is not None and x.shape[0]:
            self._accumulate(probs, flat, k)
        return out

    def _accumulate(self, probs: torch.Tensor, flat: torch.Tensor, k: int) -> None:
        aux = self.aux
        fraction = torch.bincount(flat, minlength=self.num_experts).to(probs.dtype) / flat.numel()
        mean_prob = probs.mean(dim=0)
        logp = probs.clamp_min(1e-9).log()
        aux.balance = aux.balance + self.num_experts * (fraction * mean_prob).sum()
        aux.local_entropy = aux.local_entropy - (probs * logp).sum(-1).mean()
        aux.global_entropy = aux.global_entropy - (mean_prob * mean_prob.clamp_min(1e-9).log()).sum()
        aux.layers += 1
        aux.expert_fraction.append(fraction.detach())


class Attention(nn.Module):
    """Multi-head self-attention; ``mask`` (bool ``[B, L]``, True = real token) hides padding keys."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn_mask = None if mask is None else mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-LN transformer layer whose FFN is dense or MoE; the FFN sees only the valid (non-padding) tokens."""

    attention: type[nn.Module] = Attention

    def __init__(self, cfg: RefMoEConfig, layer: int):
        super().__init__()
        d = cfg.d_model
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = self.attention(d, cfg.num_heads)
        if layer in cfg.moe_layers:
            self.ffn: nn.Module = MoEFFN(d, cfg.expert_hidden, cfg.num_experts, cfg.top_k, layer)
        else:
            self.ffn = DenseFFN(d, cfg.ffn_hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, modality: int) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), mask)
        h = self.ln2(x)
        if mask is None:
            return x + self.ffn(h.reshape(-1, h.shape[-1]), modality).view_as(h)
        y = torch.zeros_like(h)
        y[mask] = self.ffn(h[mask], modality)  # padding tokens never reach the FFN (nor the router)
        return x + y


class RefMoEStack(nn.Module):
    """What the encoder and the caption decoder share: patch and word embeddings, the layer stack (``block`` per
    layer) and final norm, MoE-layer access, the routing hook, router-loss accumulation and parameter counts.

    Creation order (hence initialisation order and state-dict keys) is ``patch_embed``, ``image_pos``,
    ``token_embed``, ``text_pos``, ``layers``, ``ln_f``, then the subclass's heads.
    """

    def __init__(self, cfg: RefMoEConfig, block: type[nn.Module]):
        super().__init__()
        self.cfg = cfg
        d, p = cfg.d_model, cfg.patch_size
        self.patch_embed = nn.Linear(3 * p * p, d)
        self.image_pos = nn.Parameter(torch.randn(cfg.num_patches, d) * 0.02)
        self.token_embed = nn.Embedding(cfg.vocab_size, d, padding_idx=0)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        with torch.no_grad():
            self.token_embed.weight[0].zero_()
        self.text_pos = nn.Parameter(torch.randn(cfg.max_text_len, d) * 0.02)
        self.layers = nn.ModuleList(block(cfg, i) for i in range(cfg.num_layers))
        self.ln_f = nn.LayerNorm(d)

    def moe_modules(self) -> list[MoEFFN]:
        return [blk.ffn for blk in self.layers if isinstance(blk.ffn, MoEFFN)]

    def set_hook(self, hook: RoutingHook | None) -> None:
        for moe in self.moe_modules():
            moe.hook = hook

    def begin_aux(self) -> AuxLosses:
        """Start accumulating router losses over the following forward passes."""
        aux = AuxLosses()
        for moe in self.moe_modules():
            moe.aux = aux
        return aux

    def end_aux(self) -> None:
        for moe in self.moe_modules():
            moe.aux = None

    def patchify(self, pixels: torch.Tensor) -> torch.Tensor:
        """``[B, 3, S, S]`` → ``[B, patches, 3 * p * p]``."""
        b, c, s, _ = pixels.shape
        p, g = self.cfg.patch_size, s // self.cfg.patch_size
        return pixels.reshape(b, c, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, c * p * p)

    def embed_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """``[B, 3, S, S]`` → patch tokens ``[B, patches, d]``."""
        return self.patch_embed(self.patchify(pixels)) + self.image_pos

    def param_counts(self) -> dict[str, int]:
        """Total parameters and active parameters per token under the current routing state.

        Pruned experts are not counted; a token uses every non-expert parameter and ``k`` experts per MoE layer.
        """
        total = sum(p.numel() for p in self.parameters())
        active = total
        for moe in self.moe_modules():
            kept = moe.num_experts if moe.state.keep is None else int(moe.state.keep.sum())
            per = moe.expert_params()
            total -= (moe.num_experts - kept) * per
            active -= (moe.num_experts - (moe.state.top_k or moe.top_k)) * per
        expert = sum(m.num_experts * m.expert_params() for m in self.moe_modules())
        return {"total": total, "active_per_token": active, "expert_params_stored": expert}


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


def save_stack(model: RefMoEStack, path: str | Path, key: str, header: dict[str, Any]) -> None:
    """Write the weights as safetensors (fp32) with ``header`` (plus the config) as one JSON metadata entry ``key``.

    A single metadata key keeps the file byte-for-byte reproducible (safetensors does not order several keys).
    """
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    header = {"config": model.cfg.to_dict(), **header}
    save_file(tensors, str(path), metadata={key: json.dumps(header, sort_keys=True)})


def load_stack(path: str | Path, key: str, what: str, build: Callable[[RefMoEConfig], RefMoEStack],
               device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """Rebuild a model written by :func:`save_stack` under metadata entry ``key`` (safetensors only, no pickle)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as handle:
        raw = (handle.metadata() or {}).get(key)
    if raw is None:
        raise ValueError(f"{path}: not a {what} file (no {key!r} entry in its safetensors metadata)")
    metadata = json.loads(raw)
    model = build(RefMoEConfig(**metadata["config"]))
    model.load_state_dict(load_file(str(path), device="cpu"), strict=True)
    return model.to(device).eval(), metadata


def save_model(model: RefMoEModel, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Write an encoder as safetensors; the config and ``metadata`` go in the ``refmoe`` metadata entry."""
    save_stack(model, path, METADATA_KEY, dict(metadata or {}))


def load_model(path: str | Path, device: str = "cpu") -> tuple[RefMoEModel, dict[str, Any]]:
    """Rebuild an encoder from a safetensors file written by :func:`save_model` (no pickle involved)."""
    return load_stack(path, METADATA_KEY, "RefMoE weights", RefMoEModel, device)
