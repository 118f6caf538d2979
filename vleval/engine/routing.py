"""Routing summaries: per-layer expert load and its balance, modality shares and a modality-specialization index.

Every statistic is defined in ``docs/report.md`` (Definitions); :mod:`vleval.stats.routing` computes the same
per-layer statistics from the ``expert_load`` of records written before they existed, and the cross-domain ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vleval.api.model import IMAGE, TEXT, RoutingTrace


def expert_counts(trace: RoutingTrace) -> dict[int, np.ndarray]:
    """Per layer, ``[num_experts, 2]`` assignment counts split by modality (column ``TEXT``, column ``IMAGE``)."""
    by_layer: dict[int, list[Any]] = {}
    for event in trace.events:
        by_layer.setdefault(event.layer, []).append(event)
    counts = {}
    for layer, events in by_layer.items():
        n = events[0].num_experts
        if not all(_standard(event, n) for event in events):
            return _expert_counts_by_event(trace)  # as events come, to raise on the first bad one
        experts = np.concatenate([event.experts.ravel() for event in events])
        if experts.size and (experts.min() < 0 or experts.max() >= n):
            return _expert_counts_by_event(trace)
        modality = np.concatenate([np.repeat(event.modality, event.experts.shape[1]) for event in events])
        kept = (modality == TEXT) | (modality == IMAGE)
        cells = experts[kept] * 2 + modality[kept]  # column TEXT or IMAGE of the expert's row
        counts[layer] = np.bincount(cells, minlength=2 * n).reshape(n, 2).astype(np.int64, copy=False)  # order-free
    return dict(sorted(counts.items()))


def _standard(event: Any, num_experts: int) -> bool:
    """An event as :meth:`RoutingTrace.add` makes them (int64 ``[tokens, k]``, int8 ``[tokens]``), with its
    layer's expert count: counted together with its layer's other events."""
    experts, modality = event.experts, event.modality
    return (event.num_experts == num_experts and isinstance(experts, np.ndarray) and experts.dtype == np.int64
            and experts.ndim == 2 and isinstance(modality, np.ndarray) and modality.dtype == np.int8
            and modality.shape == experts.shape[:1])


def _expert_counts_by_event(trace: RoutingTrace) -> dict[int, np.ndarray]:
    """:func:`expert_counts` one event at a time (any layout; raises at the first event out of range)."""
    counts: dict[int, np.ndarray] = {}
    for event in trace.events:
        if event.experts.size and (event.experts.min() < 0 or event.experts.max() >= event.num_experts):
            raise ValueError(f"routing trace of layer {event.layer}: expert ids must lie in [0, {event.num_experts}), "
                             f"got {int(event.experts.min())}..{int(event.experts.max())}")
        table = counts.setdefault(event.layer, np.zeros((event.num_experts, 2), dtype=np.int64))
        k = event.experts.shape[1] if event.experts.ndim == 2 else 1
        modality = np.repeat(event.modality, k)  # one tag per assignment, row-major like ravel()
        kept = (modality == TEXT) | (modality == IMAGE)
        cells = event.experts.ravel()[kept] * 2 + modality[kept]  # column TEXT or IMAGE of the expert's row
        table += np.bincount(cells, minlength=2 * event.num_experts).reshape(event.num_experts, 2)
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


def balance(load: np.ndarray) -> dict[str, float | None]:
    """Load-balance statistics of one layer's expert load (shares summing to 1): utilization CV (std / mean of the
    shares), dead-expert fraction (experts given no token) and diversity ``exp(H) / N`` (effective experts over N)."""
    load = np.asarray(load, dtype=np.float64)
    n = len(load)
    if n == 0 or load.sum() <= 0:
        return {"utilization_cv": None, "dead_expert_fraction": None, "diversity": None}
    load = load / load.sum()
    return {"utilization_cv": round(float(load.std() / load.mean()), 6),
            "dead_expert_fraction": round(float((load == 0).mean()), 6),
            "diversity": round(float(np.exp(_entropy(load)) / n), 6)}


def token_entropy(events: list[Any]) -> float | None:
    """Mean over tokens of the normalised entropy ``H(p) / ln N`` of the router's probabilities, from events that
    carry them (an optional ``probs`` array ``[tokens, N]``); ``None`` when none does (the trace then holds only
    the selected experts, whose entropy would say nothing but ``ln k``)."""
    groups: dict[int, list[np.ndarray]] = {}  # by expert count, in event order (one count per layer in practice)
    for event in events:
        probs = getattr(event, "probs", None)
        if probs is not None and event.num_experts >= 2:
            groups.setdefault(event.num_experts, []).append(probs)
    per_token = []
    for n, arrays in groups.items():  # the same operations as -(p * log p).sum(1) / ln N, in place
        p = np.concatenate(arrays, dtype=np.float64, casting="unsafe")
        np.divide(p, np.maximum(p.sum(axis=1, keepdims=True), 1e-300), out=p)
        logs = np.where(p > 0, p, 1.0)
        np.log(logs, out=logs)
        np.multiply(p, logs, out=logs)
        entropy = logs.sum(axis=1)
        np.negative(entropy, out=entropy)
        per_token.append(np.divide(entropy, np.log(n), out=entropy))
    tokens = np.concatenate(per_token) if per_token else np.zeros(0)
    return float(tokens.mean()) if tokens.size else None


def per_item(trace: RoutingTrace, marks: list[tuple[int, int]]) -> list[dict[str, list[int]]]:
    """Each item's image-token expert counts per layer, ``[{"<layer>": [count per expert]}]`` in evaluation order.

    ``marks``: after each batch's model call, ``(len(trace.events), batch size)``. An event's image tokens are
    given to items by its ``item`` array (token -> index in the batch) when it has one; otherwise they are split
    into equal consecutive runs, one per item (item-major layout), when their count divides by the batch size.
    Events that fit neither contribute nothing; text tokens (option and caption texts) are left out.
    """
    out: list[dict[str, list[int]]] = []
    start = 0
    for end, size in marks:
        tables: dict[str, np.ndarray] = {}  # layer -> [items of the batch, experts] counts
        for event in trace.events[start:end]:
            image = event.modality == IMAGE
            n_image = int(image.sum())
            if not n_image:
                continue
            owner = event.item
            if owner is not None:
                owner = np.asarray(owner)[image]
            elif n_image % size == 0:
                owner = np.repeat(np.arange(size), n_image // size)
            else:
                continue
            chosen = event.experts[image]  # [image tokens, k]
            cells = (owner[:, None] * event.num_experts + chosen).ravel()
            counts = np.bincount(cells, minlength=size * event.num_experts).reshape(size, event.num_experts)
            key = str(event.layer)
            tables[key] = tables[key] + counts if key in tables else counts
        layers = sorted(tables.items())
        out.extend({layer: table[i].tolist() for layer, table in layers} for i in range(size))
        start = end
    return out


def summarize(trace: RoutingTrace) -> dict[str, Any]:
    """The record's ``routing`` block."""
    first = min((event.layer for event in trace.events), default=None)
    counted = [event for event in trace.events if event.layer == first]  # each token passes every layer once
    if all(isinstance(event.modality, np.ndarray) for event in counted):  # integer counts: order-free
        modality = np.concatenate([event.modality.ravel() for event in counted]) if counted else np.zeros(0)
        tokens = {name: int((modality == code).sum()) for code, name in ((TEXT, "text"), (IMAGE, "image"))}
    else:
        tokens = {name: int(sum((event.modality == code).sum() for event in counted))
                  for code, name in ((TEXT, "text"), (IMAGE, "image"))}
    layers = []
    for layer, table in expert_counts(trace).items():
        total = table.sum(axis=1)
        load = total / max(total.sum(), 1)
        n = len(total)
        image_share = np.where(total > 0, table[:, IMAGE] / np.maximum(total, 1), np.nan)
        entry = {
            "layer": layer,
            "num_experts": n,
            "assignments": int(total.sum()),
            "expert_load": [round(float(x), 6) for x in load],
            "load_entropy": round(_entropy(load) / np.log(n), 6) if n > 1 else None,
            "image_share_per_expert": [None if np.isnan(x) else round(float(x), 6) for x in image_share],
            "specialization_index": specialization_index(table),
            **balance(load),
        }
        entropy = token_entropy([event for event in trace.events if event.layer == layer])
        if entropy is not None:
            entry["token_entropy"] = round(entropy, 6)
        layers.append(entry)
    spec = [entry["specialization_index"] for entry in layers if entry["specialization_index"] is not None]
    return {
        "tokens": tokens,
        "layers": layers,
        "mean_specialization_index": float(np.mean(spec)) if spec else None,
    }
