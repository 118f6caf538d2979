"""What the RefMoE encoder and caption decoder share: attention, the pre-LN layer (dense or MoE FFN) and the stack
of layers with its embeddings, routing hook, router losses and parameter counts."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vleval_models.refmoe.config import RefMoEConfig
from vleval_models.refmoe.moe import AuxLosses, DenseFFN, MoEFFN, RoutingHook


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
