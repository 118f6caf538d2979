"""Routing summaries and the latency summary on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from vleval.api import IMAGE, TEXT, RoutingTrace
from vleval.engine import routing
from vleval.engine.latency import LatencyRecorder, phase


def trace_with(image_experts, text_experts, num_experts=4):
    trace = RoutingTrace()
    trace.add(0, num_experts, np.asarray(image_experts)[:, None], IMAGE)
    trace.add(0, num_experts, np.asarray(text_experts)[:, None], TEXT)
    return trace


def test_disjoint_modalities_are_fully_specialised():
    summary = routing.summarize(trace_with([0, 1, 0, 1], [2, 3, 3, 2]))
    (layer,) = summary["layers"]
    assert layer["specialization_index"] == 1.0
    assert layer["expert_load"] == [0.25, 0.25, 0.25, 0.25] and layer["load_entropy"] == pytest.approx(1.0)
    assert layer["image_share_per_expert"] == [1.0, 1.0, 0.0, 0.0]
    assert summary["tokens"] == {"text": 4, "image": 4}


def test_identical_routing_is_not_specialised_whatever_the_token_mix():
    summary = routing.summarize(trace_with([0, 1], [0, 1, 0, 1, 0, 1]))
    assert summary["layers"][0]["specialization_index"] == 0.0
    assert summary["layers"][0]["load_entropy"] == pytest.approx(0.5)  # two of four experts, evenly


def test_partial_overlap():
    # image: experts 0,0,1,1 -> (.5,.5,0,0); text: 1,2 -> (0,.5,.5,0); TV distance = .5
    assert routing.summarize(trace_with([0, 0, 1, 1], [1, 2]))["layers"][0]["specialization_index"] == 0.5


def test_out_of_range_expert_ids_are_refused():
    with pytest.raises(ValueError, match=r"expert ids must lie in \[0, 4\)"):
        routing.summarize(trace_with([0, 4], [1]))


def test_keep_most_loaded():
    assert routing.keep_most_loaded(trace_with([3, 3, 3, 1], [1, 0]), 2) == {0: [1, 3]}


def test_latency_summary_weights_samples_and_records_phases():
    recorder = LatencyRecorder()
    recorder.batch_ns, recorder.batch_sizes = [64_000_000, 64_000_000, 64_000_000, 16_000_000], [64, 64, 64, 8]
    summary = recorder.summary()
    assert summary["sample_ms"]["p50"] == pytest.approx(1.0) and summary["sample_ms"]["p90"] == pytest.approx(1.0)
    assert summary["sample_ms"]["mean"] == pytest.approx(208 / 200)
    assert summary["throughput_samples_per_s"] == pytest.approx(200 / 0.208)
    assert summary["timed_samples"] == 200 and summary["timed_batches"] == 4

    live = LatencyRecorder()
    with live.measure(2):
        with phase("prefill"):
            pass
        with phase("decode", tokens=3):
            pass
    with phase("decode", tokens=100):  # outside a measurement: ignored
        pass
    out = live.summary()
    assert set(out["phases_ms"]) == {"prefill", "decode"} and live.phase_tokens == {"prefill": 0, "decode": 3}
    assert out["timed_batches"] == 1 and "time_to_first_token_ms" in out


def _cuda() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="needs a CUDA device")
def test_cuda_latency_uses_events_and_counts_gpu_work():
    import torch

    x = torch.randn(2048, 2048, device="cuda")
    recorder = LatencyRecorder(device="cuda")
    for n in (1, 8):
        with recorder.measure(batch_size=1):
            for _ in range(n):
                x = x @ x / 2048
    out = recorder.summary()
    assert out["timer"] == "cuda_events" and out["peak_memory_scope"].startswith("GPU")
    one, eight = recorder.batch_ns
    assert eight > 2 * one > 0  # events time the queued GPU work, not just the (asynchronous) launches
    assert out["peak_memory_mib"] >= 2048 * 2048 * 4 / 2**20


def test_latency_intervals_and_pass_variation_from_known_timings():
    recorder = LatencyRecorder()
    # two passes of 4 batches of 2 samples: pass 1 at 1 ms/sample, pass 2 at 3 ms/sample (set, not measured)
    recorder.batch_ns = [2_000_000] * 4 + [6_000_000] * 4
    recorder.batch_sizes = [2] * 8
    recorder.pass_ends = [4, 8]
    summary = recorder.summary()
    passes = summary["passes"]
    assert passes["count"] == 2 and passes["mean_sample_ms"] == [1.0, 3.0]
    assert passes["cv"] == pytest.approx(np.std([1.0, 3.0], ddof=1) / 2.0)
    low, high = summary["sample_ms_ci"]["p50"]
    assert 1.0 <= low <= summary["sample_ms"]["p50"] <= high <= 3.0
    single = LatencyRecorder()
    single.batch_ns, single.batch_sizes = [1_000_000], [1]
    assert single.summary()["sample_ms_ci"]["p50"] is None and single.summary()["passes"]["cv"] is None


def test_latency_interval_draws_equal_percentiles_of_the_expanded_samples():
    """The vectorised bootstrap gives, per draw, exactly np.percentile of the per-sample values it stands for."""
    from vleval.engine.latency import _percentile_cis

    rng = np.random.default_rng(5)
    batch_ms = rng.uniform(1, 9, 13)
    sizes = np.array([4] * 12 + [3])
    got = _percentile_cis(batch_ms, sizes, resamples=300, seed=11)
    pick = np.random.default_rng(11).integers(0, 13, (300, 13))
    per = batch_ms / sizes
    brute = np.array([np.percentile(np.repeat(per[p], sizes[p]), [50, 90, 99]) for p in pick])
    for i, name in enumerate(("p50", "p90", "p99")):
        assert got[name] == pytest.approx(list(np.percentile(brute[:, i], [2.5, 97.5])), rel=1e-12)
