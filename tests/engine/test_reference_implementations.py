"""Routing summaries, latency intervals and score checks give exactly what their previous implementations gave.

``_old_*`` below are those implementations verbatim (before the per-cell speed-ups; ``routing.per_item`` was not
changed and is checked by brute force in ``test_routing_stats.py``); results are compared with
``==`` (and ``repr``, so that a float stays a float and an int an int), errors by type and message.
"""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from vleval.api import IMAGE, TEXT, RoutingTrace
from vleval.api.model import LayerRouting
from vleval.engine import checks as boundary
from vleval.engine import routing
from vleval.engine.latency import _percentile_cis


# -- the previous implementations
def _old_expert_counts(trace: RoutingTrace) -> dict[int, np.ndarray]:
    counts: dict[int, np.ndarray] = {}
    for event in trace.events:
        if event.experts.size and (event.experts.min() < 0 or event.experts.max() >= event.num_experts):
            raise ValueError(f"routing trace of layer {event.layer}: expert ids must lie in [0, {event.num_experts}), "
                             f"got {int(event.experts.min())}..{int(event.experts.max())}")
        table = counts.setdefault(event.layer, np.zeros((event.num_experts, 2), dtype=np.int64))
        k = event.experts.shape[1] if event.experts.ndim == 2 else 1
        modality = np.repeat(event.modality, k)
        kept = (modality == TEXT) | (modality == IMAGE)
        cells = event.experts.ravel()[kept] * 2 + modality[kept]
        table += np.bincount(cells, minlength=2 * event.num_experts).reshape(event.num_experts, 2)
    return dict(sorted(counts.items()))


def _old_token_entropy(events: list[Any]) -> float | None:
    groups: dict[int, list[np.ndarray]] = {}
    for event in events:
        probs = getattr(event, "probs", None)
        if probs is not None and event.num_experts >= 2:
            groups.setdefault(event.num_experts, []).append(probs)
    per_token = []
    for n, arrays in groups.items():
        p = np.concatenate(arrays).astype(np.float64)
        p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
        logs = np.log(np.where(p > 0, p, 1.0))
        per_token.append(-(p * logs).sum(axis=1) / np.log(n))
    tokens = np.concatenate(per_token) if per_token else np.zeros(0)
    return float(tokens.mean()) if tokens.size else None


def _old_summarize(trace: RoutingTrace) -> dict[str, Any]:
    first = min((event.layer for event in trace.events), default=None)
    counted = [event for event in trace.events if event.layer == first]
    tokens = {name: int(sum((event.modality == code).sum() for event in counted))
              for code, name in ((TEXT, "text"), (IMAGE, "image"))}
    layers = []
    for layer, table in _old_expert_counts(trace).items():
        total = table.sum(axis=1)
        load = total / max(total.sum(), 1)
        n = len(total)
        image_share = np.where(total > 0, table[:, IMAGE] / np.maximum(total, 1), np.nan)
        entry = {
            "layer": layer, "num_experts": n, "assignments": int(total.sum()),
            "expert_load": [round(float(x), 6) for x in load],
            "load_entropy": round(routing._entropy(load) / np.log(n), 6) if n > 1 else None,
            "image_share_per_expert": [None if np.isnan(x) else round(float(x), 6) for x in image_share],
            "specialization_index": routing.specialization_index(table), **routing.balance(load),
        }
        entropy = _old_token_entropy([event for event in trace.events if event.layer == layer])
        if entropy is not None:
            entry["token_entropy"] = round(entropy, 6)
        layers.append(entry)
    spec = [entry["specialization_index"] for entry in layers if entry["specialization_index"] is not None]
    return {"tokens": tokens, "layers": layers,
            "mean_specialization_index": float(np.mean(spec)) if spec else None}


def _old_percentile_cis(batch_ms: np.ndarray, sizes: np.ndarray, resamples: int = 1000,
                        seed: int = 0) -> dict[str, list[float] | None]:
    if len(batch_ms) < 2:
        return {"p50": None, "p90": None, "p99": None}
    rng = np.random.default_rng(seed)
    per = batch_ms / np.maximum(sizes, 1)
    pick = rng.integers(0, len(per), (resamples, len(per)))
    values, counts = per[pick], sizes[pick]
    order = np.argsort(values, axis=1, kind="stable")
    values = np.take_along_axis(values, order, axis=1)
    ends = np.cumsum(np.take_along_axis(counts, order, axis=1), axis=1)
    total = ends[:, -1]
    rows = np.arange(resamples)

    def at(index: np.ndarray) -> np.ndarray:
        return values[rows, (ends <= index[:, None]).sum(axis=1)]

    out: dict[str, list[float] | None] = {}
    for name, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        pos = q / 100 * (total - 1)
        low = np.floor(pos).astype(np.int64)
        x_low, x_high = at(low), at(np.minimum(low + 1, total - 1))
        draws = x_low + (x_high - x_low) * (pos - low)
        out[name] = [float(v) for v in np.percentile(draws, [2.5, 97.5])]
    return out


def _old_check_scores(plugin: str, batch: Any, result: Any) -> None:
    from collections.abc import Sequence

    if not isinstance(result, Sequence | np.ndarray) or len(result) != len(batch):
        got = f"{len(result)} score lists" if isinstance(result, Sequence | np.ndarray) else type(result).__name__
        raise boundary._fail(plugin, "score_options", f"returned {got} for {len(batch)} items; expected one list "
                             "per item")
    for item, scores in zip(batch, result, strict=True):
        letters = list(item.options)
        try:
            values = np.asarray(scores, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise boundary._fail(plugin, "score_options", f"returned {scores!r} for item {item.index}; expected "
                                 f"{len(letters)} numbers") from None
        if values.size != len(letters):
            raise boundary._fail(plugin, "score_options", f"returned {values.size} scores for item {item.index} "
                                 f"({len(letters)} options {', '.join(letters)}); expected one score per option")
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise boundary._fail(plugin, "score_options", f"returned {values[bad[0]]} for option {letters[bad[0]]} "
                                 f"of item {item.index}; expected a finite score per option")


# -- helpers
def _same(a: Any, b: Any) -> None:
    assert repr(a) == repr(b)
    assert json.dumps(a, sort_keys=True, default=repr) == json.dumps(b, sort_keys=True, default=repr)


def _outcome(fn, *args) -> Any:
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # compared by type and message
        return (type(exc).__name__, str(exc))


def _random_trace(rng: np.random.Generator, standard: bool = True) -> tuple[RoutingTrace, list[tuple[int, int]]]:
    """A model-like trace: batches of items, each through 1-3 layers of E experts (top-k), image tokens first."""
    trace, marks = RoutingTrace(), []
    layers = sorted(rng.choice(6, size=int(rng.integers(1, 4)), replace=False).tolist())
    experts = {layer: int(rng.choice([1, 2, 4, 8, 16])) for layer in layers}
    for _ in range(int(rng.integers(1, 5))):
        size = int(rng.integers(1, 6))
        image, text = size * int(rng.integers(0, 5)), int(rng.integers(0, 12))
        modality = np.r_[np.full(image, IMAGE), np.full(text, TEXT), np.full(int(rng.integers(0, 2)), 2)]
        for layer in layers:
            n = experts[layer]
            k = min(int(rng.integers(1, 3)), n)
            chosen = np.argsort(rng.random((len(modality), n)), axis=1)[:, :k]
            probs = None
            if rng.random() < 0.7:
                probs = rng.random((len(modality), n)).astype(np.float32) * (rng.random((len(modality), n)) < 0.8)
                if not standard:  # float64 over many magnitudes: sums that depend on the order of the terms
                    probs = rng.random((len(modality), n)) * 10.0 ** rng.integers(-20, 1, (len(modality), n))
            if standard:
                trace.add(layer, n, chosen, modality, probs=probs)
            else:  # hand-made events: 1-D experts, other dtypes, an ``item`` owner array
                event = LayerRouting(layer, n, chosen[:, 0].astype(np.int32), modality.astype(np.int64),
                                     probs=probs)
                if rng.random() < 0.5:
                    event = replace(event, item=np.repeat(np.arange(size), -(-len(modality) // size))[:len(modality)])
                trace.events.append(event)
        marks.append((len(trace.events), size))
    return trace, marks


# -- tests
@pytest.mark.parametrize("seed", range(60))
def test_routing_matches_the_previous_implementation(seed):
    rng = np.random.default_rng(seed)
    trace, _ = _random_trace(rng, standard=seed % 3 != 0)
    _same(_outcome(routing.summarize, trace), _outcome(_old_summarize, trace))
    new, old = _outcome(routing.expert_counts, trace), _outcome(_old_expert_counts, trace)
    assert new[0] == old[0] == "ok"
    assert list(new[1]) == list(old[1])
    assert all(a.dtype == b.dtype and a.shape == b.shape and (a == b).all()
               for a, b in zip(new[1].values(), old[1].values(), strict=True))
    for layer in {event.layer for event in trace.events}:
        events = [event for event in trace.events if event.layer == layer]
        _same(routing.token_entropy(events), _old_token_entropy(events))


def test_bad_traces_fail_as_before():
    rng = np.random.default_rng(1)
    trace, _ = _random_trace(rng)
    trace.add(9, 4, np.array([[5]]), IMAGE)  # out of range, after valid events
    trace.add(0, 4, np.array([[-1]]), TEXT)
    _same(_outcome(routing.summarize, trace), _outcome(_old_summarize, trace))
    assert "layer 9" in _outcome(routing.summarize, trace)[1]
    marks = [(len(trace.events), 1)]
    assert _outcome(routing.per_item, trace, marks)[0] == "ValueError"  # expert 5 of 4: the reshape error
    mixed = RoutingTrace()
    mixed.add(0, 4, np.array([[1], [2]]), IMAGE)
    mixed.add(0, 8, np.array([[7]]), TEXT)  # one layer, two expert counts: the old broadcasting error
    _same(_outcome(routing.expert_counts, mixed), _outcome(_old_expert_counts, mixed))
    assert _outcome(routing.expert_counts, mixed)[0] == "ValueError"


def test_model_traces_match(tmp_path):
    """A real RefMoE trace (probs, both modalities, two MoE layers)."""
    from vleval_models.refmoe.adapter import RefMoE

    model = RefMoE(experts=8)
    rng = np.random.default_rng(0)
    from PIL import Image

    images = [Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(5)]
    with model.trace_routing() as trace:
        model.embed_images(images)
        model.embed_texts(["a red circle", "a blue square on the left", "two"])
    assert trace.events and any(event.probs is not None for event in trace.events)
    _same(routing.summarize(trace), _old_summarize(trace))


@pytest.mark.parametrize("seed", range(40))
def test_latency_intervals_match(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 30))
    batch_ms = rng.choice([1.0, 2.5, 3.0], n) if seed % 4 == 0 else rng.random(n) * 10  # ties, or none
    sizes = rng.integers(0 if seed % 5 == 0 else 1, 65, n)
    _same(_percentile_cis(batch_ms, sizes), _old_percentile_cis(batch_ms, sizes))
    _same(_percentile_cis(batch_ms, sizes, resamples=7, seed=seed), _old_percentile_cis(batch_ms, sizes, 7, seed))


def _item(index: int, options: int) -> Any:
    return SimpleNamespace(index=index, options={chr(65 + i): f"o{i}" for i in range(options)})


SCORES = [
    lambda rng, b, k: rng.random((b, k)),
    lambda rng, b, k: rng.random((b, k)).tolist(),
    lambda rng, b, k: [torch.tensor(row) for row in rng.random((b, k))],
    lambda rng, b, k: torch.tensor(rng.random((b, k))),
    lambda rng, b, k: rng.random((b, k, 1)).tolist(),  # nested: reshaped per item
    lambda rng, b, k: [[str(v) for v in row] for row in rng.random((b, k))],
    lambda rng, b, k: np.where(rng.random((b, k)) < 0.1, np.nan, rng.random((b, k))),
    lambda rng, b, k: np.where(rng.random((b, k)) < 0.1, -np.inf, rng.random((b, k))).tolist(),
    lambda rng, b, k: rng.random((b, k + 1)),
    lambda rng, b, k: [list(row[: 1 + i % k]) for i, row in enumerate(rng.random((b, k)))],  # ragged
    lambda rng, b, k: [{"A": 1.0}] * b,
    lambda rng, b, k: rng.random((b + 1, k)),
    lambda rng, b, k: rng.random(b),
    lambda rng, b, k: "abc",
    lambda rng, b, k: [[True] * k] * b,
    lambda rng, b, k: [[10**400] * k] * b,
]


@pytest.mark.parametrize("make", range(len(SCORES)))
@pytest.mark.parametrize("seed", range(4))
def test_score_checks_match(make, seed):
    rng = np.random.default_rng(seed)
    b, k = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    batches = [[_item(i, k) for i in range(b)], [_item(i, k + i % 2) for i in range(b)]]  # equal or mixed options
    for batch in batches:
        result = SCORES[make](rng, b, k)
        new = _outcome(boundary.check_scores, "p", batch, result)
        old = _outcome(_old_check_scores, "p", batch, result)
        assert new == old
