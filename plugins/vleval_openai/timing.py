"""Client-observed latency: live phase marks for the core's protocol, and per-request figures.

Every streamed request reports ``prefill`` from sending the request to its first token (time to first token) and one
``decode`` span per later chunk (inter-token latency) carrying that chunk's tokens, so the core's time per output
token is the mean per-request TPOT. Spans from concurrent requests overlap: they describe requests, not the server's
aggregate throughput (the record gives the concurrency to read them by).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

import numpy as np

from vleval.api import phase
from vleval_openai.response import Completion, parse_json, read_sse

_LOCK = threading.Lock()  # the core's recorder updates plain dicts: enter/exit spans one thread at a time


class _Discard(Exception):
    """Thrown into an open span that received no token: the span is dropped, not recorded."""


class PhaseMarks:
    """Open/close ``vleval.api.phase`` spans as chunks arrive (no-ops unless the core is timing the call)."""

    def __init__(self) -> None:
        self._open: contextlib.AbstractContextManager[None] | None = None
        self.seen = 0  # tokens the chunks were counted as carrying
        self._enter("prefill", 0)

    def _enter(self, name: str, tokens: int) -> None:
        with _LOCK:
            cm = phase(name, tokens=tokens)
            cm.__enter__()
            self._open = cm

    def _close(self) -> None:
        cm, self._open = self._open, None
        if cm is not None:
            with _LOCK:
                cm.__exit__(None, None, None)

    @staticmethod
    def _instant(tokens: int) -> None:
        """Tokens that arrived without a span of their own (several in one chunk, or chunks without text)."""
        if tokens > 0:
            with _LOCK, phase("decode", tokens=tokens):
                pass

    def first(self, tokens: int) -> None:
        self._close()
        self.seen += tokens
        self._instant(tokens - 1)
        self._enter("decode", 1)

    def more(self, tokens: int) -> None:
        self._close()
        self.seen += tokens
        self._instant(tokens - 1)
        self._enter("decode", 1)

    def finish(self, total_tokens: int | None = None) -> None:
        """End of the stream. Tokens the server reported (``usage.completion_tokens``) but no chunk showed (e.g.
        tokens that decode to no text, like the end-of-sequence token) close the open span at the stream's end;
        without them the open span waited for nothing and is dropped."""
        cm, self._open = self._open, None
        missing = (total_tokens - self.seen) if total_tokens and self.seen else 0
        if cm is not None:
            with _LOCK:
                if missing > 0:
                    cm.__exit__(None, None, None)
                else:
                    cm.__exit__(_Discard, _Discard(), None)
        if missing > 0:
            self._instant(missing - 1 if cm is not None else missing)
            self.seen = total_tokens or self.seen


def tpot_s(c: Completion) -> float | None:
    """Time per output token after the first: ``(e2e - ttft) / (tokens - 1)``."""
    if c.ttft_s is None or c.completion_tokens < 2:
        return None
    return (c.e2e_s - c.ttft_s) / (c.completion_tokens - 1)


def _pct(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "mean": None}
    arr = np.asarray(values, dtype=np.float64) * 1e3
    p50, p90 = np.percentile(arr, [50, 90])
    return {"p50": float(p50), "p90": float(p90), "mean": float(arr.mean())}


def summarize(completions: list[Completion], concurrency: int) -> dict[str, Any]:
    """Per-request figures in ms over live (non-cached) streamed requests; cached ones are only counted."""
    live = [c for c in completions if not c.cached and c.streamed]
    itl = [b - a for c in live for a, b in zip([c.ttft_s or 0.0, *c.chunk_s], c.chunk_s, strict=False)]
    return {
        "scope": "client-observed (request sent -> SSE chunk received), includes network and server queueing",
        "concurrency": concurrency,
        "requests": len(live),
        "cached_requests_excluded": sum(c.cached for c in completions),
        "unstreamed_requests_excluded": sum(not c.streamed and not c.cached for c in completions),
        "ttft_ms": _pct([c.ttft_s for c in live if c.ttft_s is not None]),
        "tpot_ms": _pct([t for c in live if (t := tpot_s(c)) is not None]),
        "itl_ms": _pct(itl),
        "e2e_ms": _pct([c.e2e_s for c in live]),
        "output_tokens": int(sum(c.completion_tokens for c in live)),
    }


class ChatRead:
    """Reads one chat-completion attempt, timed from just before the request is sent."""

    def __init__(self, stream: bool) -> None:
        self.stream = stream
        self.start = 0.0
        self.marks: PhaseMarks | None = None

    def begin(self) -> None:
        self.start = time.perf_counter()
        if self.stream:
            self.marks = PhaseMarks()

    def __call__(self, resp: Any) -> Completion:
        if not self.stream:
            return parse_json(json.loads(resp.read()), self.start)
        marks = self.marks
        assert marks is not None
        completion = read_sse(resp, self.start, marks)  # on failure the transport calls abort()
        marks.finish(completion.completion_tokens)
        self.marks = None
        return completion

    def abort(self) -> None:
        """Drop the phase span left open (a failed attempt's, or one waiting for a chunk that never came)."""
        if self.marks is not None:
            self.marks.finish()
            self.marks = None
