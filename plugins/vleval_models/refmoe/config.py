"""The architecture of one RefMoE variant and the family's matched-active-parameter rule."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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
