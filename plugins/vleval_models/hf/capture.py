"""Routing capture: which experts every token of a forward call used, read from the routers' own outputs.

:func:`token_context` describes the tokens of a top-level forward (modality, padding, finished sequences);
:class:`RoutingCapture` hooks every router, keeps references to the indices it returned (and to its probabilities
over all experts, where the architecture's router has them) and reports them per (layer, phase) on
:meth:`~RoutingCapture.flush`, with one host copy of each per call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from vleval.api import IMAGE, TEXT
from vleval_models.hf.routers import RouterSite


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

    A hook only keeps a reference to the router's own index tensor and, where the spec reads them
    (:attr:`~vleval_models.hf.routers.RouterSpec.read_probs`), to its float32 probabilities over all experts
    (queued on the device, not synchronised). :meth:`flush` (called by the model at the end of each public call,
    when tracing stops, every ``flush_every`` router calls and once the kept probabilities pass ``flush_bytes``)
    copies everything to the CPU at once and reports one event per (layer, phase), with ``probs`` when every router
    call of that event had them: no device synchronisation inside the model and no per-step Python work beyond one
    list append per router call.
    """

    def __init__(self, sites: Sequence[RouterSite], sink: Callable[..., None], flush_every: int = 4096,
                 flush_bytes: int = 256 << 20):
        self.sites = list(sites)
        self.sink = sink
        self.flush_every, self.flush_bytes = flush_every, flush_bytes
        self.context: TokenContext | None = None
        self._pending: list[tuple[RouterSite, torch.Tensor, TokenContext | None, torch.Tensor | None]] = []
        self._probs_bytes = 0
        self._handles: list[Any] = []

    def attach(self) -> None:
        for site in self.sites:
            self._handles.append(site.module.register_forward_hook(self._hook(site)))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self.discard()

    def _hook(self, site: RouterSite) -> Callable[..., None]:
        read, read_probs = site.spec.read_indices, site.spec.read_probs
        pending = self._pending

        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            probs = read_probs(module, output) if read_probs is not None else None
            if probs is not None:
                self._probs_bytes += probs.numel() * 4
            pending.append((site, read(module, output), self.context, probs))

        return hook

    def discard(self) -> None:
        """Drop what was captured since the last flush (after a failed call)."""
        self._pending.clear()
        self._probs_bytes = 0

    def end_forward(self) -> None:
        """Called after each top-level forward: bounds the memory held by pending index and probability tensors."""
        if len(self._pending) >= self.flush_every or self._probs_bytes >= self.flush_bytes:
            self.flush()

    def flush(self) -> None:
        """Report what the routers selected since the last flush: one event per (layer, phase), in call order.

        The router calls of one forward over the same tokens (every layer of a plain MoE) are handled as one
        ``[layers, tokens, k]`` block, so the Python work is per forward, not per router call.
        """
        pending = [p for p in self._pending if p[2] is not None]
        self.discard()
        if not pending:
            return
        flat = torch.cat([idx.reshape(-1) for _, idx, _, _ in pending]).to("cpu", torch.int64).numpy()
        probs = [p for _, _, _, p in pending if p is not None]
        flat_probs = torch.cat([p.reshape(-1) for p in probs]).cpu().numpy() if probs else None
        # (layer, phase) -> [layer_experts, expert blocks, modality blocks, probability blocks (None: missing)]
        groups: dict[tuple[int, str], tuple[int, list[np.ndarray], list[np.ndarray], list[np.ndarray | None]]] = {}
        start, p_start, i = 0, 0, 0
        while i < len(pending):
            site, idx, context, site_probs = pending[i]
            tokens, k = idx.shape[0], (idx.shape[-1] if idx.dim() > 1 else 1)
            modality, valid, vision = context.resolve()
            run = [pending[i]]
            if site.rows == "all":
                while i + len(run) < len(pending):
                    nxt = pending[i + len(run)]
                    if nxt[2] is not context or nxt[0].rows != "all" or nxt[1].numel() != tokens * k:
                        break
                    run.append(nxt)
                if tokens != len(valid):
                    raise RuntimeError(f"router {site.name} saw {tokens} tokens but the forward call has {len(valid)}")
                block = flat[start:start + len(run) * tokens * k].reshape(len(run), tokens, k)[:, valid]
                mod, keep = modality[valid], valid
            else:
                rows = self._split_rows(site, vision, tokens)
                keep = valid[rows]
                block = flat[start:start + tokens * k].reshape(1, tokens, k)[:, keep] + site.offset
                mod = modality[rows][keep]
            start += len(run) * tokens * k
            i += len(run)
            for j, (s, _, _, p) in enumerate(run):
                entry = groups.setdefault((s.layer, context.phase), (s.layer_experts, [], [], []))
                entry[1].append(block[j])
                entry[2].append(mod)
                if p is None or flat_probs is None:
                    entry[3].append(None)
                    continue
                rows_p = flat_probs[p_start:p_start + p.numel()].reshape(-1, p.shape[-1])
                p_start += p.numel()
                if len(rows_p) != len(keep):
                    raise RuntimeError(f"router {s.name} gave probabilities for {len(rows_p)} tokens but selected "
                                       f"experts for {len(keep)}")
                rows_p = rows_p[keep]
                if rows_p.shape[1] != s.layer_experts:  # a modality-split router: its experts' columns only
                    wide = np.zeros((rows_p.shape[0], s.layer_experts), dtype=np.float32)
                    wide[:, s.offset:s.offset + rows_p.shape[1]] = rows_p
                    rows_p = wide
                entry[3].append(rows_p)
        for (layer, phase_name), (num_experts, experts, modality_parts, prob_parts) in groups.items():
            full = None if any(p is None for p in prob_parts) else np.concatenate(prob_parts)
            self.sink(layer, num_experts, np.concatenate(experts), np.concatenate(modality_parts), phase_name,
                      probs=full)

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
