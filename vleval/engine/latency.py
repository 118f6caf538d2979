"""The latency protocol, owned by the core: every model is timed the same way.

The runner wraps each model call (one batch) in :meth:`LatencyRecorder.measure`. Timing covers the model call only:
preprocessing inside the model and the forward pass, not dataset loading or image decoding, which happen before.
On CPU it uses ``time.perf_counter_ns``; on CUDA it synchronizes and uses CUDA events. Models may mark sub-phases
(vision encoding, prefill, decode) with :func:`vleval.api.phase`; these are no-ops unless a measurement is active.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vleval.api.phases import activate, phase  # noqa: F401  (phase: re-exported for the core's tests)


def _is_cuda(device: str) -> bool:
    return str(device).startswith("cuda")


class _Clock:
    """Elapsed nanoseconds of a block: CUDA events on a GPU, ``perf_counter_ns`` otherwise."""

    def __init__(self, device: str):
        self.cuda = _is_cuda(device)
        if self.cuda:
            import torch

            self._torch = torch
            self._device = torch.device(device)

    @contextlib.contextmanager
    def span(self, out: list[int]) -> Iterator[None]:
        if self.cuda:
            torch = self._torch
            torch.cuda.synchronize(self._device)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            yield
            end.record()
            torch.cuda.synchronize(self._device)
            out.append(int(start.elapsed_time(end) * 1e6))
        else:
            t0 = time.perf_counter_ns()
            yield
            out.append(time.perf_counter_ns() - t0)


@dataclass
class LatencyRecorder:
    device: str = "cpu"
    batch_ns: list[int] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    phase_ns: dict[str, list[int]] = field(default_factory=dict)
    phase_tokens: dict[str, int] = field(default_factory=dict)
    pass_ends: list[int] = field(default_factory=list)  # number of timed batches at the end of each timed pass

    def __post_init__(self) -> None:
        self._clock = _Clock(self.device)
        if self._clock.cuda:
            self._clock._torch.cuda.reset_peak_memory_stats(self._clock._device)

    @contextlib.contextmanager
    def measure(self, batch_size: int, record: bool = True) -> Iterator[None]:
        """Time one model call on ``batch_size`` samples; ``record=False`` runs it as warmup."""
        sink: list[int] = []
        with activate(self if record else None), self._clock.span(sink):
            yield
        if record:
            self.batch_ns.append(sink[0])
            self.batch_sizes.append(batch_size)

    @contextlib.contextmanager
    def phase(self, name: str, tokens: int = 0) -> Iterator[None]:
        """Time a sub-phase of the model call being measured (called through :func:`vleval.api.phase`)."""
        sink: list[int] = []
        with self._clock.span(sink):
            yield
        self.phase_ns.setdefault(name, []).append(sink[0])
        self.phase_tokens[name] = self.phase_tokens.get(name, 0) + tokens

    def end_pass(self) -> None:
        """Mark the end of one timed pass over the data (for the pass-to-pass variation)."""
        if self.batch_ns and (not self.pass_ends or self.pass_ends[-1] != len(self.batch_ns)):
            self.pass_ends.append(len(self.batch_ns))

    def summary(self) -> dict[str, Any]:
        """Figures for the result record (milliseconds, samples/s, MiB)."""
        batch_ms = np.asarray(self.batch_ns, dtype=np.float64) / 1e6
        sizes = np.asarray(self.batch_sizes, dtype=np.int64)
        # per-sample latency: each batch's time per sample, counted once per sample (a short last batch weighs less)
        per_sample = np.repeat(batch_ms / np.maximum(sizes, 1), sizes)
        total_ms = float(batch_ms.sum())
        out: dict[str, Any] = {
            "timed_batches": len(batch_ms),
            "timed_samples": int(sizes.sum()),
            "batch_ms": _percentiles(batch_ms),
            "sample_ms_ci": _percentile_cis(batch_ms, sizes),
            "passes": _pass_variation(batch_ms, sizes, self.pass_ends),
            "sample_ms": {**_percentiles(per_sample),
                          "mean": total_ms / int(sizes.sum()) if sizes.sum() else None},
            "throughput_samples_per_s": float(sizes.sum() / (total_ms / 1e3)) if total_ms > 0 else None,
            "peak_memory_mib": peak_memory_mib(self.device),
            "peak_memory_scope": ("GPU allocator peak during this domain's measurements" if self._clock.cuda
                                  else "process peak RSS since start (not per cell)"),
            "timer": "cuda_events" if self._clock.cuda else "perf_counter_ns",
        }
        if self.phase_ns:
            out["phases_ms"] = {name: _percentiles(np.asarray(v, dtype=np.float64) / 1e6)
                                for name, v in self.phase_ns.items()}
            decode_ns = sum(self.phase_ns.get("decode", []))
            decode_tokens = self.phase_tokens.get("decode", 0)
            if decode_tokens and decode_ns:
                out["time_per_output_token_ms"] = decode_ns / decode_tokens / 1e6
                out["decode_tokens_per_s"] = decode_tokens / (decode_ns / 1e9)
            if "prefill" in self.phase_ns:
                first = np.asarray(self.phase_ns["prefill"], dtype=np.float64)
                if "vision" in self.phase_ns and len(self.phase_ns["vision"]) == len(first):
                    first = first + np.asarray(self.phase_ns["vision"], dtype=np.float64)
                out["time_to_first_token_ms"] = _percentiles(first / 1e6)
        return out


def _percentile_cis(batch_ms: np.ndarray, sizes: np.ndarray, resamples: int = 1000,
                    seed: int = 0) -> dict[str, list[float] | None]:
    """95 % bootstrap intervals of the per-sample p50/p90/p99, resampling timed batches (a batch's samples share
    one timing, so the batch is the unit that varies). Each draw's percentiles are exactly ``np.percentile`` of its
    per-sample values (a batch's value repeated once per sample), computed for all draws at once: a draw's sorted
    values are the batches in one global sorted order, each repeated (times drawn x its size) times."""
    if len(batch_ms) < 2:
        return {"p50": None, "p90": None, "p99": None}
    rng = np.random.default_rng(seed)
    per = batch_ms / np.maximum(sizes, 1)
    n = len(per)
    pick = rng.integers(0, n, (resamples, n))
    order = np.argsort(per, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    drawn = np.bincount((np.arange(resamples)[:, None] * n + rank[pick]).ravel(), minlength=resamples * n)
    values = per[order]
    ends = np.cumsum(drawn.reshape(resamples, n) * sizes[order], axis=1)  # expanded index where each value ends
    total = ends[:, -1]

    def at(index: np.ndarray) -> np.ndarray:  # the expanded sorted array's element at ``index``, per draw
        return values[(ends <= index[:, None]).sum(axis=1)]

    out: dict[str, list[float] | None] = {}
    for name, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        pos = q / 100 * (total - 1)
        low = np.floor(pos).astype(np.int64)
        x_low, x_high = at(low), at(np.minimum(low + 1, total - 1))
        draws = x_low + (x_high - x_low) * (pos - low)
        out[name] = [float(v) for v in np.percentile(draws, [2.5, 97.5])]
    return out


def _pass_variation(batch_ms: np.ndarray, sizes: np.ndarray, ends: list[int]) -> dict[str, Any]:
    """Per-pass mean ms/sample and their coefficient of variation (std / mean): a high value says the machine was
    not steady while timing."""
    bounds = [0, *ends] if ends and ends[-1] == len(batch_ms) else [0, len(batch_ms)]
    means = [float(batch_ms[a:b].sum() / max(int(sizes[a:b].sum()), 1))
             for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    cv = float(np.std(means, ddof=1) / np.mean(means)) if len(means) > 1 and np.mean(means) > 0 else None
    return {"count": len(means), "mean_sample_ms": means, "cv": cv}


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {"p50": None, "p90": None, "p99": None, "mean": None}
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(values.mean())}


def peak_memory_mib(device: str) -> float:
    """Peak GPU memory allocated since the recorder started, or the process's peak RSS on CPU."""
    if _is_cuda(device):
        import torch

        return torch.cuda.max_memory_allocated(torch.device(device)) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
