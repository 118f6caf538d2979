"""The per-architecture router table and MoE detection: which module selects the experts, and how to read it.

Everything architecture-specific lives in :data:`ROUTERS`: one :class:`RouterSpec` per router module class. To
support a new MoE architecture, add a spec naming

1. ``router_class``: the class name of the module that selects experts (hooked, never re-implemented), and
   ``path``, where it sits inside a decoder layer (``mlp.gate`` for ``model.layers.N.mlp.gate``);
2. ``read_indices``: how to read the selected expert ids ``[tokens, k]`` from that module's forward output, and
   ``read_probs``: how to read the router's probabilities over all experts ``[tokens, E]`` (``None`` when the router
   has no such distribution, e.g. independent sigmoid scores: per-token routing entropy is then not reported);
3. ``top_k_attrs``: the attribute path(s) the router's ``forward`` reads ``k`` from (``()`` if ``k`` is fixed);
4. ``num_experts``: how to read the number of experts from the module;
5. ``dense_experts``: whether the experts run on every token whatever the routing (no compute saving).

Pruning needs nothing per architecture (see :mod:`vleval_models.hf.scaling`). Composite models need no entry of their
own: a VLM whose text backbone uses a listed router (``internvl`` over ``qwen3_moe``, ``kimi_k25`` over
``deepseek_v3``) is found by its router modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


class UnsupportedMoEError(NotImplementedError):
    """An MoE architecture without a :data:`ROUTERS` entry, or an unsupported scaling request."""


def _third(module: nn.Module, output: Any) -> torch.Tensor:
    """``(router_logits, weights, indices)``: the indices the router's own top-k returned."""
    return output[2]


def _softmax_logits(module: nn.Module, output: Any) -> torch.Tensor:
    """``(router_logits [T, E], ...)`` of a softmax router: its probabilities over all experts (float32).

    Also right for routers that take the top-k of the logits and softmax only those (gpt_oss, granitemoe, aria):
    their gates are the renormalised top-k of this distribution."""
    return torch.softmax(output[0].float(), dim=-1)


def _given_probs(module: nn.Module, output: Any) -> torch.Tensor:
    """``(router_probabilities [T, E], ...)``: the router returns its softmax itself (gemma4)."""
    return output[0].float()


def _llama4_indices(module: nn.Module, output: Any) -> torch.Tensor:
    # Llama4Router returns (scores [T, E] with -inf before the sigmoid off the top-k, logits). Its selection is
    # exactly ``torch.topk(router_logits, top_k, dim=1)`` on the logits it returns (no bias, no grouping).
    return torch.topk(output[1], module.top_k, dim=1).indices


def _num_experts(module: nn.Module) -> int:
    return int(module.num_experts)


@dataclass(frozen=True)
class RouterSpec:
    """How to read, resize and prune one router module class. See the module docstring."""

    arch: str
    router_class: str
    #: the router's module path after ``...layers.N.`` (documentation, checked by the tests)
    path: str = "mlp.gate"
    read_indices: Callable[[nn.Module, Any], torch.Tensor] = _third
    #: the router's probabilities over all experts ``[tokens, E]`` from its output; ``None``: not a distribution
    read_probs: Callable[[nn.Module, Any], torch.Tensor] | None = _softmax_logits
    num_experts: Callable[[nn.Module], int] = _num_experts
    top_k_attrs: tuple[str, ...] = ("top_k",)
    top_k_note: str = ""
    dense_experts: bool = False
    #: module-name fragment -> the tokens the router sees ("text"/"vision"), for modality-split MoE blocks
    split: dict[str, str] = field(default_factory=dict)
    notes: str = ""


_BIAS = ("selection on sigmoid scores + e_score_correction_bias, group-limited (n_group/topk_group); independent "
         "sigmoid scores, no probabilities (no token entropy)")

#: The architecture table. Keys of the composite VLMs (internvl, kimi_k25) resolve through their text backbone.
ROUTERS: tuple[RouterSpec, ...] = (
    RouterSpec("qwen3_moe", "Qwen3MoeTopKRouter"),
    RouterSpec("qwen3_vl_moe", "Qwen3VLMoeTextTopKRouter"),
    RouterSpec("qwen3_5_moe", "Qwen3_5MoeTopKRouter"),
    RouterSpec("qwen2_moe", "Qwen2MoeTopKRouter"),
    RouterSpec("mixtral", "MixtralTopKRouter"),
    RouterSpec("olmoe", "OlmoeTopKRouter"),
    RouterSpec("deepseek_v3", "DeepseekV3TopkRouter", read_probs=None, notes=_BIAS),
    RouterSpec("glm4v_moe", "Glm4vMoeTextTopkRouter", read_probs=None, notes=_BIAS),
    RouterSpec("gpt_oss", "GptOssTopKRouter", path="mlp.router", notes="router logits have a bias term"),
    RouterSpec("granitemoe", "GraniteMoeTopKRouter", path="block_sparse_moe.router"),
    RouterSpec("aria", "AriaTextTopKRouter", path="mlp.router"),
    RouterSpec(
        "gemma4", "Gemma4TextRouter", path="router", num_experts=lambda m: int(m.proj.out_features),
        top_k_attrs=("config.top_k_experts",), read_probs=_given_probs,
        notes="router normalises and scales its input; k is read from the (shared) text config at every call",
    ),
    RouterSpec(
        "llama4", "Llama4Router", path="feed_forward.router", read_indices=_llama4_indices, dense_experts=True,
        read_probs=None,
        notes="Llama4TextExperts runs every expert on every token (unselected ones get weight 0); sigmoid gates, no "
        "probabilities (no token entropy)",
    ),
    RouterSpec(
        "phimoe", "PhimoeTopKRouter", path="mlp.router", top_k_attrs=(),
        top_k_note="phimoe's sparsemixer router always selects exactly 2 experts (transformers ignores top_k)",
        notes="sparsemixer: top-1, then top-1 of the rest within a jitter threshold",
    ),
    # beyond the brief's list: text MoEs whose routers follow the same conventions
    RouterSpec("glm4_moe", "Glm4MoeTopkRouter", read_probs=None, notes=_BIAS),
    RouterSpec("dots1", "Dots1TopkRouter", read_probs=None, notes=_BIAS),
    RouterSpec("deepseek_v2", "DeepseekV2TopkRouter", notes="softmax; greedy or group-limited (group max) top-k"),
    RouterSpec("ernie4_5_moe", "Ernie4_5_MoeTopKRouter", notes="selection on softmax + e_score_correction_bias"),
    RouterSpec("qwen3_next", "Qwen3NextTopKRouter"),
    RouterSpec("minimax", "MiniMaxTopKRouter"),
    RouterSpec(
        "ernie4_5_vl_moe", "Ernie4_5_VLMoeMoeTopKRouter", path="mlp.{text_moe,vision_moe}.gate",
        split={"text_moe": "text", "vision_moe": "vision"},
        notes="separate text and vision experts per layer: vision expert e is reported as num_experts + e; "
        "selection on softmax + e_score_correction_bias",
    ),
)

ROUTER_SPECS: dict[str, RouterSpec] = {spec.router_class: spec for spec in ROUTERS}

#: Config keys that mark a model as MoE (any positive value in the config or a sub-config).
MOE_CONFIG_KEYS = (
    "num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts", "num_experts_per_tok", "moe_topk",
    "top_k_experts", "num_experts_per_token", "moe_k",
)

_LAYER_RE = re.compile(r"(?:^|\.)layers\.(\d+)\.")


@dataclass
class RouterSite:
    """One router module in a loaded model."""

    name: str
    module: nn.Module
    spec: RouterSpec
    layer: int
    num_experts: int
    offset: int = 0
    layer_experts: int = 0
    rows: str = "all"  # "all" | "text" | "vision": which tokens the router sees (modality-split blocks)


def find_routers(model: nn.Module) -> list[RouterSite]:
    """Every module of ``model`` whose class is in :data:`ROUTERS`, with its decoder-layer index."""
    sites: list[RouterSite] = []
    for name, module in model.named_modules():
        spec = ROUTER_SPECS.get(type(module).__name__)
        if spec is None:
            continue
        layers = _LAYER_RE.findall(name)
        if not layers:
            raise UnsupportedMoEError(f"router {name!r} ({spec.router_class}) is not under a '.layers.N.' module")
        rows = next((kind for frag, kind in spec.split.items() if frag in name.split(".")), "all")
        sites.append(RouterSite(name, module, spec, int(layers[-1]), spec.num_experts(module), rows=rows))
    by_layer: dict[int, list[RouterSite]] = {}
    for site in sites:
        by_layer.setdefault(site.layer, []).append(site)
    for group in by_layer.values():
        group.sort(key=lambda s: ("all", "text", "vision").index(s.rows))
        offset = 0
        for site in group:
            site.offset = offset
            offset += site.num_experts
        for site in group:
            site.layer_experts = offset
    return sites


def moe_config_values(config: Any) -> dict[str, Any]:
    """MoE-looking keys (``MOE_CONFIG_KEYS`` with a positive value) in ``config`` and its sub-configs."""
    found: dict[str, Any] = {}
    seen: set[int] = set()

    def visit(cfg: Any, prefix: str) -> None:
        if cfg is None or id(cfg) in seen:
            return
        seen.add(id(cfg))
        values = cfg.to_dict() if hasattr(cfg, "to_dict") else {}
        for key in MOE_CONFIG_KEYS:
            value = getattr(cfg, key, values.get(key))
            if isinstance(value, (int, list, tuple)) and not isinstance(value, bool) and _positive(value):
                found[prefix + key] = value
        for key in getattr(cfg, "sub_configs", {}) or {}:
            visit(getattr(cfg, key, None), f"{prefix}{key}.")

    visit(config, "")
    return found


def _positive(value: Any) -> bool:
    values = value if isinstance(value, (list, tuple)) else [value]
    return any(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values)


def unsupported_message(model: nn.Module, config: Any) -> str:
    """What to implement for an MoE-looking model none of whose modules is in :data:`ROUTERS`."""
    keys = moe_config_values(config)
    candidates = sorted({
        type(m).__name__ for m in model.modules()
        if re.search(r"(Router|Gate|Gating|Moe|MoE|Expert|Sparse)", type(m).__name__)
    })
    arch = getattr(config, "model_type", "?")
    text = getattr(config, "get_text_config", lambda: config)()
    backbone = getattr(text, "model_type", arch)
    return (
        f"hf: MoE architecture {arch!r} (text backbone {backbone!r}, {type(model).__name__}) is not supported for "
        f"routing capture and expert scaling: its config has MoE keys {keys} but none of its modules is in "
        "vleval_models.hf.routers.ROUTERS. Add a RouterSpec(arch=..., router_class=...) naming (1) router_class: the "
        "class of the module whose forward selects the experts (candidates in this model: "
        f"{', '.join(candidates) or 'none found'}), (2) read_indices(module, output): the selected expert ids "
        "[tokens, k] in that forward's output, (3) top_k_attrs: the attribute(s) its forward reads k from, "
        "(4) num_experts(module), (5) dense_experts if its experts run on every token. Pass require_routing=False "
        "to evaluate accuracy without routing capture or expert scaling."
    )
