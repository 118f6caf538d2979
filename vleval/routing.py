"""Routing summaries: per-layer expert load, load entropy, modality shares and a modality-specialization index."""

from __future__ import annotations

from typing import Any

import numpy as np

from vleval.api.model import IMAGE, TEXT, RoutingTrace


def expert_counts(trace: RoutingTrace) -> dict[int, np.ndarray]:
    """Per layer, ``[num_experts, 2]`` assignment counts split by modality (column ``TEXT``, column ``IMAGE``)."""
    counts: dict[int, np.ndarray] = {}
    for event in trace.events:
        if event.experts.size and (event.experts.min() < 0 or event.experts.max() >= event.num_experts):
            raise ValueError(f"routing trace of layer {event.layer}: expert ids must lie in [0, {event.num_experts}), "
                             f"got {int(event.experts.min())}..{int(event.experts.max())}")
        table = counts.setdefault(event.layer, np.zeros((event.num_experts, 2), dtype=np.int64))
        for modality in (TEXT, IMAGE):
            chosen = event.experts[event.modality == modality].ravel()
            table[:, modality] += np.bincount(chosen, minlength=event.num_experts)
    return dict(sorted(counts.items()))


def keep_most_loaded(trace: RoutingTrace, n: int) -> dict[int, list[int]]:
    """For expert pruning: the ``n`` experts with the most assignments in each layer (ties: lower index)."""
    keep = {}
    for layer, table in expert_counts(trace).items():
        load = table.sum(axis=1)
        keep[layer] = sorted(np.argsort(-load, kind="stable")[:n].tolist())
    return keep


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def specialization_index(table: np.ndarray) -> float | None:
    """Total-variation distance between the expert distributions of image and of text tokens, in [0, 1].

    0: both modalities spread over experts identically; 1: no expert serves both. Independent of how many
    tokens of each modality there are. ``None`` unless both modalities were routed.
    """
    text, image = table[:, TEXT].astype(float), table[:, IMAGE].astype(float)
    if text.sum() == 0 or image.sum() == 0:
        return None
    return float(0.5 * np.abs(text / text.sum() - image / image.sum()).sum())


def summarize(trace: RoutingTrace) -> dict[str, Any]:
    """The record's ``routing`` block."""
    first = min((event.layer for event in trace.events), default=None)
    counted = [event for event in trace.events if event.layer == first]  # each token passes every layer once
    tokens = {name: int(sum((event.modality == code).sum() for event in counted))
              for code, name in ((TEXT, "text"), (IMAGE, "image"))}
    layers = []
    for layer, table in expert_counts(trace).items():
        total = table.sum(axis=1)
        load = total / max(total.sum(), 1)
        n = len(total)
        image_share = np.where(total > 0, table[:, IMAGE] / np.maximum(total, 1), np.nan)
        layers.append({
            "layer": layer,
            "num_experts": n,
            "assignments": int(total.sum()),
            "expert_load": [round(float(x), 6) for x in load],
            "load_entropy": round(_entropy(load) / np.log(n), 6) if n > 1 else None,
            "image_share_per_expert": [None if np.isnan(x) else round(float(x), 6) for x in image_share],
            "specialization_index": specialization_index(table),
        })
    spec = [entry["specialization_index"] for entry in layers if entry["specialization_index"] is not None]
    return {
        "tokens": tokens,
        "layers": layers,
        "mean_specialization_index": float(np.mean(spec)) if spec else None,
    }
