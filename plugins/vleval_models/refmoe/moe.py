"""The feed-forward layers of RefMoE: a dense GELU MLP, and the Mixture-of-Experts FFN.

MoE FFN: router linear → softmax → top-k, gates renormalised over the selected experts, experts = 2-layer GELU MLPs.
Dispatch is really sparse: tokens are sorted by selected expert and each expert runs only on its own tokens, so lower
top-k and pruned experts cut compute. There is no capacity limit (dropless): every token gets its k experts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: ``hook(layer, num_experts, selected_experts[tokens, k], modality, probs[tokens, num_experts])``, called by each
#: MoE layer; ``probs``: the router's softmax over all experts (pruned experts 0), ``modality`` an int or ``[tokens]``.
RoutingHook = Callable[[int, int, torch.Tensor, Any, torch.Tensor], None]


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
