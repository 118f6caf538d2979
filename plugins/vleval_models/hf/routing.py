"""Per-architecture MoE routing table, routing capture and inference-time expert scaling for transformers models.

Everything architecture-specific lives in :data:`ROUTERS`: one :class:`RouterSpec` per router module class. To
support a new MoE architecture, add a spec naming

1. ``router_class``: the class name of the module that selects experts (hooked, never re-implemented), and
   ``path``, where it sits inside a decoder layer (``mlp.gate`` for ``model.layers.N.mlp.gate``);
2. ``read_indices``: how to read the selected expert ids ``[tokens, k]`` from that module's forward output;
3. ``top_k_attrs``: the attribute path(s) the router's ``forward`` reads ``k`` from (``()`` if ``k`` is fixed);
4. ``num_experts``: how to read the number of experts from the module;
5. ``dense_experts``: whether the experts run on every token whatever the routing (no compute saving).

Pruning needs nothing per architecture: while a pruned router runs, a ``TorchFunctionMode`` masks the removed
experts to ``-inf`` in the output of its (single) linear projection, i.e. in the router logits, and again in every
``topk`` input that spans the experts, which is where bias-corrected (``e_score_correction_bias``) and
group-limited routers choose: the mask then applies after the bias and after the group selection.

Composite models need no entry of their own: a VLM whose text backbone uses a listed router (``internvl`` over
``qwen3_moe``, ``kimi_k25`` over ``deepseek_v3``) is found by its router modules.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from vleval.api import IMAGE, TEXT


class UnsupportedMoEError(NotImplementedError):
    """An MoE architecture without a :data:`ROUTERS` entry, or an unsupported scaling request."""


def _third(module: nn.Module, output: Any) -> torch.Tensor:
    """``(router_logits, weights, indices)``: the indices the router's own top-k returned."""
    return output[2]


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
    num_experts: Callable[[nn.Module], int] = _num_experts
    top_k_attrs: tuple[str, ...] = ("top_k",)
    top_k_note: str = ""
    dense_experts: bool = False
    #: module-name fragment -> the tokens the router sees ("text"/"vision"), for modality-split MoE blocks
    split: dict[str, str] = field(default_factory=dict)
    notes: str = ""


_BIAS = "selection on sigmoid scores + e_score_correction_bias, group-limited (n_group/topk_group)"

#: The architecture table. Keys of the composite VLMs (internvl, kimi_k25) resolve through their text backbone.
ROUTERS: tuple[RouterSpec, ...] = (
    RouterSpec("qwen3_moe", "Qwen3MoeTopKRouter"),
    RouterSpec("qwen3_vl_moe", "Qwen3VLMoeTextTopKRouter"),
    RouterSpec("qwen3_5_moe", "Qwen3_5MoeTopKRouter"),
    RouterSpec("qwen2_moe", "Qwen2MoeTopKRouter"),
    RouterSpec("mixtral", "MixtralTopKRouter"),
    RouterSpec("olmoe", "OlmoeTopKRouter"),
    RouterSpec("deepseek_v3", "DeepseekV3TopkRouter", notes=_BIAS),
    RouterSpec("glm4v_moe", "Glm4vMoeTextTopkRouter", notes=_BIAS),
    RouterSpec("gpt_oss", "GptOssTopKRouter", path="mlp.router", notes="router logits have a bias term"),
    RouterSpec("granitemoe", "GraniteMoeTopKRouter", path="block_sparse_moe.router"),
    RouterSpec("aria", "AriaTextTopKRouter", path="mlp.router"),
    RouterSpec(
        "gemma4", "Gemma4TextRouter", path="router", num_experts=lambda m: int(m.proj.out_features),
        top_k_attrs=("config.top_k_experts",),
        notes="router normalises and scales its input; k is read from the (shared) text config at every call",
    ),
    RouterSpec(
        "llama4", "Llama4Router", path="feed_forward.router", read_indices=_llama4_indices, dense_experts=True,
        notes="Llama4TextExperts runs every expert on every token (unselected ones get weight 0)",
    ),
    RouterSpec(
        "phimoe", "PhimoeTopKRouter", path="mlp.router", top_k_attrs=(),
        top_k_note="phimoe's sparsemixer router always selects exactly 2 experts (transformers ignores top_k)",
        notes="sparsemixer: top-1, then top-1 of the rest within a jitter threshold",
    ),
    # beyond the brief's list: text MoEs whose routers follow the same conventions
    RouterSpec("glm4_moe", "Glm4MoeTopkRouter", notes=_BIAS),
    RouterSpec("dots1", "Dots1TopkRouter", notes=_BIAS),
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
        "vleval_models.hf.routing.ROUTERS. Add a RouterSpec(arch=..., router_class=...) naming (1) router_class: the "
        "class of the module whose forward selects the experts (candidates in this model: "
        f"{', '.join(candidates) or 'none found'}), (2) read_indices(module, output): the selected expert ids "
        "[tokens, k] in that forward's output, (3) top_k_attrs: the attribute(s) its forward reads k from, "
        "(4) num_experts(module), (5) dense_experts if its experts run on every token. Pass require_routing=False "
        "to evaluate accuracy without routing capture or expert scaling."
    )


# ----------------------------------------------------------------------------------------------- token context


@dataclass
class TokenContext:
    """The tokens of one top-level forward call, rows in ``[batch*seq]`` order.

    Only references to the call's tensors are kept; :meth:`resolve` turns them into numpy arrays when the routing
    is flushed, so nothing is copied or synchronised while the model runs.
    """

    phase: str
    batch: int
    seq: int
    input_ids: torch.Tensor | None
    attention_mask: torch.Tensor | None
    mm_types: torch.Tensor | None
    split_types: torch.Tensor | None
    image_token_ids: Sequence[int]
    stop_token_ids: Sequence[int]
    _resolved: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def resolve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(modality int8 [B*S], valid bool [B*S], vision bool [B*S])``; vision: rows a modality-split MoE block
        sends to its vision experts."""
        if self._resolved is not None:
            return self._resolved
        shape = (self.batch, self.seq)
        ids = self.input_ids.detach().cpu().numpy() if self.input_ids is not None else None
        if self.phase == "decode":  # generated tokens are text, even one that happens to be an image token id
            image = np.zeros(shape, dtype=bool)
        elif self.mm_types is not None and tuple(self.mm_types.shape[:2]) == shape:
            image = self.mm_types.detach().cpu().numpy() != 0
        elif ids is not None and self.image_token_ids:
            image = member(ids, self.image_token_ids)
        else:
            image = np.zeros(shape, dtype=bool)
        mask = self.attention_mask
        if mask is not None and mask.dim() == 2 and mask.shape[0] == self.batch and mask.shape[1] >= self.seq:
            valid = mask[:, -self.seq:].detach().cpu().numpy() != 0
        else:
            valid = np.ones(shape, dtype=bool)
        if self.phase == "decode" and ids is not None and self.stop_token_ids:
            # A finished sequence keeps being fed its EOS, then padding: wasted compute, not routing to report.
            valid = valid & ~member(ids, self.stop_token_ids)
        split = self.split_types.detach().cpu().numpy() != 0 if self.split_types is not None else image
        modality = np.where(image, IMAGE, TEXT).astype(np.int8).reshape(-1)
        self._resolved = (modality, valid.reshape(-1), split.reshape(-1))
        return self._resolved


def member(values: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """``np.isin`` for a handful of ids, without its set-up cost."""
    out = np.zeros(values.shape, dtype=bool)
    for i in ids:
        out |= values == i
    return out


def token_tensor(args: tuple, kwargs: dict) -> torch.Tensor | None:
    """The ``[batch, seq]`` token ids (or ``[batch, seq, dim]`` embeddings) a top-level forward was called with."""
    input_ids = kwargs["input_ids"] if "input_ids" in kwargs else (args[0] if args else None)
    return input_ids if input_ids is not None else kwargs.get("inputs_embeds")


def token_context(
    args: tuple, kwargs: dict, phase: str, image_token_ids: Sequence[int], stop_token_ids: Sequence[int]
) -> TokenContext | None:
    """The :class:`TokenContext` of a top-level forward from its arguments, or ``None`` if it has no tokens.

    ``phase`` ("prefill" or "decode") comes from the caller's own generation-loop state, never from cache keyword
    arguments, whose names transformers changes between releases (``past_key_values`` became ``cache`` in 5.24).
    """
    input_ids = kwargs["input_ids"] if "input_ids" in kwargs else (args[0] if args else None)
    if input_ids is not None:
        batch, seq = input_ids.shape[:2]
    elif kwargs.get("inputs_embeds") is not None:
        batch, seq = kwargs["inputs_embeds"].shape[:2]
    else:
        return None
    split = kwargs.get("moe_mm_token_type_ids")
    mm_types = split if split is not None else kwargs.get("mm_token_type_ids")
    mask = kwargs.get("attention_mask")
    return TokenContext(
        phase, int(batch), int(seq), input_ids,
        mask if isinstance(mask, torch.Tensor) else None, mm_types, split, image_token_ids, stop_token_ids,
    )


# ----------------------------------------------------------------------------------------------------- capture


class RoutingCapture:
    """Forward hooks on every router that keep the expert ids it selected, handed to ``sink`` on :meth:`flush`.

    A hook only keeps a reference to the router's own index tensor. :meth:`flush` (called by the model at the end
    of each public call, when tracing stops, and every ``flush_every`` router calls) copies everything to the CPU
    at once and reports one event per (layer, phase): no device synchronisation inside the model and no per-step
    Python work beyond one list append per router call.
    """

    def __init__(self, sites: Sequence[RouterSite], sink: Callable[..., None], flush_every: int = 4096):
        self.sites = list(sites)
        self.sink = sink
        self.flush_every = flush_every
        self.context: TokenContext | None = None
        self._pending: list[tuple[RouterSite, torch.Tensor, TokenContext | None]] = []
        self._handles: list[Any] = []

    def attach(self) -> None:
        for site in self.sites:
            self._handles.append(site.module.register_forward_hook(self._hook(site)))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._pending.clear()

    def _hook(self, site: RouterSite) -> Callable[..., None]:
        read = site.spec.read_indices
        pending = self._pending

        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            pending.append((site, read(module, output), self.context))

        return hook

    def discard(self) -> None:
        """Drop what was captured since the last flush (after a failed call)."""
        self._pending.clear()

    def end_forward(self) -> None:
        """Called after each top-level forward: bounds the memory held by pending index tensors."""
        if len(self._pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Report what the routers selected since the last flush: one event per (layer, phase), in call order.

        The router calls of one forward over the same tokens (every layer of a plain MoE) are handled as one
        ``[layers, tokens, k]`` block, so the Python work is per forward, not per router call.
        """
        pending = [p for p in self._pending if p[2] is not None]
        self._pending.clear()
        if not pending:
            return
        flat = torch.cat([idx.reshape(-1) for _, idx, _ in pending]).to("cpu", torch.int64).numpy()
        # (layer, phase) -> [layer_experts, expert blocks, modality blocks]
        groups: dict[tuple[int, str], tuple[int, list[np.ndarray], list[np.ndarray]]] = {}
        start, i = 0, 0
        while i < len(pending):
            site, idx, context = pending[i]
            tokens, k = idx.shape[0], (idx.shape[-1] if idx.dim() > 1 else 1)
            modality, valid, vision = context.resolve()
            run = [site]
            if site.rows == "all":
                while i + len(run) < len(pending):
                    nxt_site, nxt_idx, nxt_ctx = pending[i + len(run)]
                    if nxt_ctx is not context or nxt_site.rows != "all" or nxt_idx.numel() != tokens * k:
                        break
                    run.append(nxt_site)
                if tokens != len(valid):
                    raise RuntimeError(f"router {site.name} saw {tokens} tokens but the forward call has {len(valid)}")
                block = flat[start:start + len(run) * tokens * k].reshape(len(run), tokens, k)[:, valid]
                mod = modality[valid]
            else:
                rows = self._split_rows(site, vision, tokens)
                keep = valid[rows]
                block = flat[start:start + tokens * k].reshape(1, tokens, k)[:, keep] + site.offset
                mod = modality[rows][keep]
            start += len(run) * tokens * k
            i += len(run)
            for j, s in enumerate(run):
                entry = groups.setdefault((s.layer, context.phase), (s.layer_experts, [], []))
                entry[1].append(block[j])
                entry[2].append(mod)
        for (layer, phase_name), (num_experts, experts, modality_parts) in groups.items():
            self.sink(layer, num_experts, np.concatenate(experts), np.concatenate(modality_parts), phase_name)

    @staticmethod
    def _split_rows(site: RouterSite, vision: np.ndarray, tokens: int) -> np.ndarray:
        """Which of the call's ``[batch*seq]`` tokens a modality-split router's rows are."""
        if site.rows == "text":
            rows = np.flatnonzero(~vision) if vision.any() else np.arange(len(vision))
        else:
            rows = np.flatnonzero(vision)
        if len(rows) != tokens:
            raise RuntimeError(
                f"router {site.name} saw {tokens} tokens but the call has {len(rows)} {site.rows} tokens"
            )
        return rows


# ----------------------------------------------------------------------------------------------------- scaling


class _PruneMode(TorchFunctionMode):
    """Masks removed experts to ``-inf`` in a router's logits and in every ``topk`` over its experts."""

    def __init__(self, keep: torch.Tensor):
        super().__init__()
        self.keep = keep
        self.logits_done = False

    def _mask(self, x: torch.Tensor) -> torch.Tensor | None:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            return None
        n = self.keep.numel()
        if x.shape[-1] == n:
            return self.keep.to(x.device)
        if x.dim() >= 3 and x.shape[-2] * x.shape[-1] == n:  # group-limited routers: [tokens, groups, per_group]
            return self.keep.to(x.device).view(x.shape[-2], x.shape[-1])
        return None

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is F.linear and not self.logits_done:
            out = func(*args, **kwargs)
            self.logits_done = True
            mask = self._mask(out)
            return out if mask is None else out.masked_fill(~mask, float("-inf"))
        if func in (torch.topk, torch.Tensor.topk) and args:
            mask = self._mask(args[0])
            if mask is not None:
                args = (args[0].masked_fill(~mask, float("-inf")), *args[1:])
        return func(*args, **kwargs)


def _resolve(obj: Any, path: str) -> tuple[Any, str]:
    *parents, attr = path.split(".")
    for parent in parents:
        obj = getattr(obj, parent)
    return obj, attr


def _current_top_k(site: RouterSite) -> int | None:
    if not site.spec.top_k_attrs:
        return None
    obj, attr = _resolve(site.module, site.spec.top_k_attrs[0])
    return int(getattr(obj, attr))


def router_top_k(site: RouterSite) -> int:
    """The number of experts the router selects per token now."""
    k = _current_top_k(site)
    return 2 if k is None else k  # phimoe's sparsemixer: always 2


@contextlib.contextmanager
def scale_routers(
    sites: Sequence[RouterSite], top_k: int | None = None, keep_experts: dict[int, list[int]] | None = None
) -> Iterator[None]:
    """Override ``top_k`` and/or keep only ``keep_experts[layer]`` (layer-level expert ids) in each MoE layer.

    Only module attributes and instance-level ``forward`` wrappers change; all are restored on exit, so the model
    computes bitwise the same outputs afterwards.
    """
    if not sites:
        raise UnsupportedMoEError("expert scaling needs an MoE model with supported routers; none were found")
    keep_experts = {int(k): list(v) for k, v in (keep_experts or {}).items()}
    by_layer = {s.layer for s in sites}
    unknown = sorted(set(keep_experts) - by_layer)
    if unknown:
        raise ValueError(f"keep_experts names layers {unknown} that have no MoE block; MoE layers: {sorted(by_layer)}")
    if top_k is not None:
        fixed = sorted({s.spec.arch for s in sites if not s.spec.top_k_attrs})
        if fixed:
            notes = "; ".join({s.spec.top_k_note for s in sites if not s.spec.top_k_attrs})
            raise UnsupportedMoEError(f"top_k cannot be overridden for {fixed}: {notes}")
        for site in sites:
            if not 1 <= top_k <= site.num_experts:
                raise ValueError(f"top_k={top_k} outside 1..{site.num_experts} for router {site.name}")
            group = getattr(site.module, "num_group", None)
            topk_group = getattr(site.module, "topk_group", None)
            if group and topk_group and top_k > topk_group * (site.num_experts // group):
                raise ValueError(
                    f"top_k={top_k} exceeds the {topk_group} groups x {site.num_experts // group} experts that "
                    f"group-limited router {site.name} can choose from"
                )
    saved: list[tuple[Any, str, Any]] = []
    wrapped: list[nn.Module] = []
    try:
        if top_k is not None:
            seen: set[tuple[int, str]] = set()
            for site in sites:
                for path in site.spec.top_k_attrs:
                    obj, attr = _resolve(site.module, path)
                    if (id(obj), attr) not in seen:
                        seen.add((id(obj), attr))
                        saved.append((obj, attr, getattr(obj, attr)))
                        setattr(obj, attr, top_k)
        for layer, ids in keep_experts.items():
            for site in (s for s in sites if s.layer == layer):
                local = sorted({i - site.offset for i in ids if site.offset <= i < site.offset + site.num_experts})
                bad = [i for i in ids if not 0 <= i < site.layer_experts]
                if bad:
                    raise ValueError(f"keep_experts[{layer}] has ids {bad} outside 0..{site.layer_experts - 1}")
                k = router_top_k(site)
                if len(local) < k:
                    raise ValueError(
                        f"keep_experts[{layer}] keeps {len(local)} of the experts of router {site.name}, fewer "
                        f"than the {k} it selects per token"
                    )
                if len(local) == site.num_experts:
                    continue
                weight = next(site.module.parameters())
                keep = torch.zeros(site.num_experts, dtype=torch.bool, device=weight.device)
                keep[local] = True
                _wrap_forward(site.module, keep)
                wrapped.append(site.module)
        yield
    finally:
        for module in wrapped:
            del module.forward
        for obj, attr, value in reversed(saved):
            setattr(obj, attr, value)


def _wrap_forward(module: nn.Module, keep: torch.Tensor) -> None:
    original = type(module).forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        with _PruneMode(keep):
            return original(module, *args, **kwargs)

    module.forward = forward


def compute_notes(sites: Sequence[RouterSite], model: nn.Module) -> dict[str, Any]:
    """Where top-k and pruning change compute, for ``ModelInfo.extra``."""
    dense = sorted({s.spec.arch for s in sites if s.spec.dense_experts})
    impl = getattr(getattr(model, "config", None), "_experts_implementation", None)
    sparse = sorted({s.spec.arch for s in sites if not s.spec.dense_experts})
    return {
        "experts_implementation": impl,
        "dense_expert_archs": dense,
        "top_k_reduces_compute": bool(sparse) and not dense,
        "pruning_reduces_compute": False,
        "pruning_note": (
            "pruning masks removed experts in the router (logits and every top-k over experts, i.e. after any "
            "score-correction bias); expert weights stay loaded, so memory is unchanged, and per-token FLOPs depend "
            "only on top_k" + (
                f"; {', '.join(dense)} run every expert on every token, so neither top_k nor pruning reduces compute"
                if dense else ""
            )
        ),
        "router_notes": {s.spec.arch: s.spec.notes for s in sites if s.spec.notes},
    }
