"""Server-reported routed experts decoded into the same per-(layer, phase) events the in-process models record.

Formats (see docs/serving.md for the sources):

- **SGLang** (``--enable-return-routed-experts`` + request ``return_routed_experts: true``): ``sglext.routed_experts``,
  base64 of raw little-endian int32, flattened ``[tokens, layers, top_k]`` with no shape attached;
- **vLLM** (``--enable-return-routed-experts``; no request field): ``choices[i].routed_experts``, base64 of ``.npy``
  bytes (``np.load``), shape ``[tokens, layers, top_k]``, dtype uint8/uint16/int32.

In both, ``tokens = prompt + generated - 1`` (the last sampled token is never forwarded). Rows ``[0, prompt)`` are
the prefill, the rest decode steps; like the in-process capture, generated tokens are text and a prompt token is
image when its id is one of the model's image token ids. Layers whose ids are all negative (SGLang's placeholder for
dense layers) are skipped.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vleval.api import IMAGE, TEXT


@dataclass
class Event:
    layer: int
    num_experts: int
    experts: np.ndarray  # [tokens, k]
    modality: np.ndarray  # [tokens]
    phase: str


def decode_payload(payload: str, fmt: str, tokens: int | None, top_k: int | None) -> np.ndarray:
    """``[tokens, layers, k]`` int64 from a base64 payload in ``fmt`` ("sglang" or "vllm")."""
    raw = base64.b64decode(payload)
    if fmt == "vllm":
        array = np.load(io.BytesIO(raw), allow_pickle=False)
        if array.ndim != 3:
            raise ValueError(f"vLLM routed_experts: expected [tokens, layers, top_k], got shape {array.shape}")
        return array.astype(np.int64)
    if fmt != "sglang":
        raise ValueError(f"unknown routed-experts format {fmt!r}")
    flat = np.frombuffer(raw, dtype="<i4").astype(np.int64)
    if not tokens or not top_k:
        raise ValueError("SGLang routed_experts carry no shape: the plugin needs top_k and the token count")
    if flat.size % (tokens * top_k):
        raise ValueError(f"SGLang routed_experts: {flat.size} ids are not [tokens={tokens}, layers, top_k={top_k}]")
    return flat.reshape(tokens, flat.size // (tokens * top_k), top_k)


def modality_of(prompt_len: int, total: int, prompt_ids: Sequence[int] | None,
                image_token_ids: Sequence[int]) -> np.ndarray:
    """int8 ``[total]``: IMAGE for prompt tokens whose id is an image token id, TEXT elsewhere."""
    out = np.full(total, TEXT, dtype=np.int8)
    if prompt_ids is not None and image_token_ids:
        ids = np.asarray(prompt_ids[:prompt_len], dtype=np.int64)
        out[: len(ids)][np.isin(ids, np.asarray(image_token_ids, dtype=np.int64))] = IMAGE
    return out


def to_events(array: np.ndarray, prompt_len: int, modality: np.ndarray, num_experts: int | Sequence[int],
              layer_ids: Sequence[int] | None = None) -> list[Event]:
    """One event per (phase, layer): prefill rows first, then decode rows, layers in order."""
    tokens, layers, _ = array.shape
    if len(modality) != tokens:
        raise ValueError(f"routed experts cover {tokens} tokens, expected {len(modality)}")
    if layer_ids is not None and len(layer_ids) != layers:
        raise ValueError(f"routed experts have {layers} layers but moe_layers names {len(layer_ids)}")
    experts_of = list(num_experts) if not isinstance(num_experts, int) else None
    events: list[Event] = []
    for phase, rows in (("prefill", slice(0, prompt_len)), ("decode", slice(prompt_len, tokens))):
        block, mod = array[rows], modality[rows]
        if not len(block):
            continue
        moe = 0
        for j in range(layers):
            experts = block[:, j, :]
            if (experts < 0).all():
                continue
            n = experts_of[moe] if experts_of is not None else int(num_experts)
            moe += 1
            events.append(Event(layer_ids[j] if layer_ids is not None else j, n, experts.copy(), mod.copy(), phase))
    return events
