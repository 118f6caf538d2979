"""Inference-time expert scaling: top-k override and expert pruning, both restored bitwise on exit.

Pruning needs nothing per architecture: while a pruned router runs, a ``TorchFunctionMode`` masks the removed
experts to ``-inf`` in the output of its (single) linear projection, i.e. in the router logits, and again in every
``topk`` input that spans the experts, which is where bias-corrected (``e_score_correction_bias``) and
group-limited routers choose: the mask then applies after the bias and after the group selection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from vleval_models.hf.routers import RouterSite, UnsupportedMoEError


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
