"""Routing analytics checked against independent computations (scipy, scikit-learn, brute force)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy, variation
from sklearn.metrics import roc_auc_score

from vleval.api.model import IMAGE, TEXT, RoutingTrace
from vleval.engine import routing
from vleval.stats import routing as analytics
from vleval.stats.bootstrap import multiplicities


def test_balance_by_hand_and_against_scipy():
    out = routing.balance(np.array([0.5, 0.5, 0.0, 0.0]))
    # by hand: shares 1/2,1/2,0,0: std 1/4, mean 1/4; two of four experts dead; exp(ln 2) / 4
    assert out == {"utilization_cv": 1.0, "dead_expert_fraction": 0.5, "diversity": 0.5}
    load = np.random.default_rng(1).dirichlet(np.ones(8))
    out = routing.balance(load)
    assert out["utilization_cv"] == pytest.approx(variation(load), abs=1e-6)
    assert out["diversity"] == pytest.approx(np.exp(entropy(load)) / 8, abs=1e-6)
    assert out["dead_expert_fraction"] == 0.0


def test_token_entropy_against_scipy():
    rng = np.random.default_rng(0)
    probs = [rng.dirichlet(np.ones(4), size=n) for n in (5, 3)]
    events = [SimpleNamespace(num_experts=4, probs=p) for p in probs]
    expected = np.concatenate([entropy(p, axis=1) / np.log(4) for p in probs]).mean()
    assert routing.token_entropy(events) == pytest.approx(expected)
    assert routing.token_entropy([SimpleNamespace(num_experts=4)]) is None  # no probabilities recorded


def test_summary_carries_the_new_layer_statistics():
    trace = RoutingTrace()
    trace.add(1, 4, np.array([[0], [0], [1], [1]]), np.array([TEXT, TEXT, IMAGE, IMAGE]))
    (layer,) = routing.summarize(trace)["layers"]
    assert layer["dead_expert_fraction"] == 0.5 and layer["diversity"] == 0.5 and "token_entropy" not in layer


def test_jsd_against_scipy():
    rng = np.random.default_rng(2)
    for _ in range(5):
        p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
        q[0] = 0
        assert analytics.jsd(p, q) == pytest.approx(jensenshannon(p, q / q.sum(), base=2) ** 2)
    assert analytics.jsd([1, 0], [0, 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="non-empty"):
        analytics.jsd([0, 0], [1, 0])


def test_auc_against_sklearn_with_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, 60).astype(float)  # many ties
    labels = rng.random(60) < 0.3
    assert analytics.auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
    assert np.isnan(analytics.auc(scores, np.zeros(60, bool)))


def test_per_item_routing_by_brute_force():
    rng = np.random.default_rng(4)
    trace, marks, expected = RoutingTrace(), [], []
    for size in (3, 2):
        per_item = [{} for _ in range(size)]
        for layer in (1, 3):
            chosen = rng.integers(0, 4, (size * 5, 2))  # 5 image tokens per item, item-major, top-2
            texts = rng.integers(0, 4, (7, 2))
            trace.add(layer, 4, np.vstack([chosen, texts]), np.r_[np.full(size * 5, IMAGE), np.full(7, TEXT)])
            for i in range(size):
                per_item[i][str(layer)] = [int((chosen[i * 5:(i + 1) * 5] == e).sum()) for e in range(4)]
        marks.append((len(trace.events), size))
        expected.extend(per_item)
    assert routing.per_item(trace, marks) == expected


def _rows(rng, n, routing_of, correct):
    return [{"kind": "question", "id": str(i), "cluster": str(i // 2), "correct": bool(correct[i]),
             "routing": {"1": routing_of[i].tolist()}} for i in range(n)]


def test_item_shift_and_flip_auc_against_independent_computations():
    rng = np.random.default_rng(5)
    n = 80
    src_counts, tgt_counts = rng.integers(0, 6, (n, 4)), rng.integers(0, 6, (n, 4))
    src_counts[:, 0] += 1
    tgt_counts[:, 1] += 1
    src_ok = rng.random(n) < 0.8
    tgt_ok = src_ok & (rng.random(n) < 0.7)
    shift = analytics.item_shift(_rows(rng, n, src_counts, src_ok), _rows(rng, n, tgt_counts, tgt_ok),
                                 resamples=200)
    expected = [jensenshannon(s / s.sum(), t / t.sum(), base=2) ** 2
                for s, t in zip(src_counts, tgt_counts, strict=True)]
    assert shift.item_jsd == pytest.approx(expected)
    pooled, low, high = shift.layer_jsd[0]
    assert pooled == pytest.approx(jensenshannon(src_counts.sum(0), tgt_counts.sum(0), base=2) ** 2)
    assert low <= pooled <= high
    result = analytics.flip_auc(shift, resamples=200)
    keep = src_ok
    assert result.auc == pytest.approx(roc_auc_score(~tgt_ok[keep], np.array(expected)[keep]))
    assert result.flipped == int((src_ok & ~tgt_ok).sum()) and result.kept == int((src_ok & tgt_ok).sum())
    assert result.low <= result.auc <= result.high



def test_flip_auc_interval_is_the_bootstrap_of_concatenated_cluster_resamples():
    # the interval must equal resampling whole clusters (the engine's multiplicities: cluster i drawn w[i] times),
    # concatenating, and ranking the resampled items right on the source; scores with many ties and unequal
    # clusters, so ties and repeated clusters both matter
    rng = np.random.default_rng(11)
    n = 90
    scores = rng.integers(0, 7, n) / 7
    flips = rng.random(n) < 0.35
    source_ok = rng.random(n) < 0.8
    clusters = rng.integers(0, 25, n) * 3  # codes need not be 0..k-1
    shift = analytics.ItemShift([1], [(0.0, 0.0, 0.0)], scores, source_ok, ~flips, clusters)
    result = analytics.flip_auc(shift, resamples=300, seed=4)
    groups = [np.flatnonzero(clusters == c) for c in np.unique(clusters)]
    (weights,) = multiplicities(4, 300, len(groups))
    draws = []
    for draw in weights:
        index = np.concatenate([groups[g] for g, times in enumerate(draw.astype(int)) for _ in range(times)])
        index = index[source_ok[index]]
        draws.append(analytics.auc(scores[index], flips[index]))
    low, high = np.nanquantile(np.array(draws), [0.025, 0.975])
    assert (result.low, result.high) == (float(low), float(high))
    assert result.auc == pytest.approx(roc_auc_score(flips[source_ok], scores[source_ok]))
    assert (result.flipped, result.kept) == (int((flips & source_ok).sum()), int((~flips & source_ok).sum()))
    one = analytics.ItemShift([1], [(0.0, 0.0, 0.0)], scores[:4], np.ones(4, dtype=bool),
                              np.array([True, False, True, True]), np.zeros(4, dtype=int))
    single = analytics.flip_auc(one, resamples=50)  # one cluster: every resample is the data itself
    assert single.low == single.high == single.auc == analytics.auc(scores[:4], np.array([False, True, False, False]))


def test_routing_shift_and_layer_table_from_a_record_without_new_fields():
    load_s, load_t = [0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]
    record = SimpleNamespace(domains={
        "source": SimpleNamespace(routing={"layers": [{"layer": 1, "expert_load": load_s}]}),
        "target": SimpleNamespace(routing={"layers": [{"layer": 1, "expert_load": load_t}]}),
    })
    ((layer, value),) = analytics.routing_shift(record)
    assert layer == 1 and value == pytest.approx(jensenshannon(load_s, load_t, base=2) ** 2)
    (entry,) = analytics.layer_table(record.domains["source"].routing)
    assert entry["dead_expert_fraction"] == 0.5 and entry["token_entropy"] is None


def test_expert_counts_and_token_entropy_by_brute_force():
    rng = np.random.default_rng(11)
    trace = RoutingTrace()
    for layer in (1, 3, 1):
        tokens = 9
        experts = np.stack([rng.permutation(6)[:2] for _ in range(tokens)])
        modality = rng.integers(0, 2, tokens)
        probs = rng.dirichlet(np.ones(6), tokens)
        trace.add(layer, 6, experts, modality, probs=probs)
    counts = routing.expert_counts(trace)
    for layer in (1, 3):
        for e in range(6):
            for tag in (TEXT, IMAGE):
                n = sum(int(((ev.experts == e) & (ev.modality[:, None] == tag)).sum())
                        for ev in trace.events if ev.layer == layer)
                assert counts[layer][e, tag] == n
        by_hand = [-sum(p * np.log(p) for p in row) / np.log(6)
                   for ev in trace.events if ev.layer == layer for row in ev.probs.astype(np.float64)]
        entropy = routing.token_entropy([ev for ev in trace.events if ev.layer == layer])
        assert entropy == pytest.approx(float(np.mean(by_hand)), rel=1e-6)
