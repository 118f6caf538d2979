"""Chat-completion responses: a streamed (SSE) or plain JSON answer read into one :class:`Completion`.

Streaming gives client-observed timings: time to first token, the arrival of every later chunk, end to end. A
:class:`Marks` receives the chunk arrivals as they happen (the model turns them into latency phases).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


class Marks(Protocol):
    def first(self, tokens: int) -> None: ...
    def more(self, tokens: int) -> None: ...


@dataclass
class Completion:
    """One answer, as cached: text, tokens, first-token logprobs, token ids and routing payloads, timings (s)."""

    text: str = ""
    finish_reason: str | None = None
    completion_tokens: int = 0
    prompt_tokens: int | None = None
    top_logprobs: list[tuple[str, float]] = field(default_factory=list)  # of the first generated token
    prompt_token_ids: list[int] | None = None
    token_ids: list[int] | None = None
    routed_experts: str | None = None  # base64 payload as the server sent it
    routed_format: str | None = None  # "sglang" (sglext.routed_experts) or "vllm" (choices[0].routed_experts)
    streamed: bool = False
    ttft_s: float | None = None
    e2e_s: float = 0.0
    chunk_s: list[float] = field(default_factory=list)  # arrival of every content chunk after the first, from start
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Completion:
        data = dict(data)
        data["top_logprobs"] = [tuple(x) for x in data.get("top_logprobs", [])]
        return cls(**data)


def _first_logprobs(logprobs: Any) -> list[tuple[str, float]] | None:
    content = (logprobs or {}).get("content") or []
    if not content:
        return None
    first = content[0]
    tops = first.get("top_logprobs") or [{"token": first.get("token", ""), "logprob": first.get("logprob")}]
    return [(str(t.get("token", "")), float(t["logprob"])) for t in tops if t.get("logprob") is not None]


def _absorb(out: Completion, data: dict[str, Any], choice: dict[str, Any]) -> None:
    """Fields both shapes share: usage, token ids, routing payloads (vLLM per choice, SGLang in ``sglext``)."""
    usage = data.get("usage") or {}
    if usage.get("prompt_tokens") is not None:
        out.prompt_tokens = int(usage["prompt_tokens"])
    prompt_ids = data.get("prompt_token_ids") or choice.get("prompt_token_ids")
    if prompt_ids:
        out.prompt_token_ids = list(prompt_ids)
    if choice.get("routed_experts"):
        out.routed_experts, out.routed_format = choice["routed_experts"], "vllm"
    ext = data.get("sglext") or {}
    if ext.get("routed_experts"):
        out.routed_experts, out.routed_format = ext["routed_experts"], "sglang"
    if choice.get("finish_reason"):
        out.finish_reason = choice["finish_reason"]


def parse_json(data: dict[str, Any], start: float) -> Completion:
    """A non-streamed ``chat.completion`` object."""
    choice = (data.get("choices") or [{}])[0]
    out = Completion(text=(choice.get("message") or {}).get("content") or "")
    _absorb(out, data, choice)
    out.top_logprobs = _first_logprobs(choice.get("logprobs")) or []
    if choice.get("token_ids") is not None:
        out.token_ids = list(choice["token_ids"])
    usage = data.get("usage") or {}
    out.completion_tokens = int(usage.get("completion_tokens") or len(out.token_ids or []))
    out.e2e_s = time.perf_counter() - start
    return out


def _tokens_in(choice: dict[str, Any]) -> int:
    """Tokens one chunk carries: its token ids or logprob entries if the server sends them, else one."""
    if choice.get("token_ids") is not None:
        return len(choice["token_ids"])
    content = (choice.get("logprobs") or {}).get("content")
    return len(content) if content else 1


def read_sse(resp: Any, start: float, marks: Marks | None = None) -> Completion:
    """Read ``data:`` events until ``[DONE]``; a stream that ends without it is a dropped connection."""
    out = Completion(streamed=True)
    parts: list[str] = []
    token_ids: list[int] = []
    counted = 0
    while True:
        line = resp.readline()
        if not line:
            raise ConnectionError("the event stream ended before [DONE]")
        if not line.startswith(b"data:"):
            continue  # blank separators, comments, "event:" lines
        payload = line[5:].strip()
        if payload == b"[DONE]":
            resp.read()  # the end of the chunked body, so the connection can be reused
            break
        data = json.loads(payload)
        if "error" in data and not data.get("choices"):
            raise RuntimeError(f"server error in stream: {str(data['error'])[:300]}")
        usage = data.get("usage") or {}
        if usage.get("completion_tokens") is not None:
            out.completion_tokens = int(usage["completion_tokens"])
        for choice in data.get("choices") or []:
            _absorb(out, data, choice)
            text = (choice.get("delta") or {}).get("content")
            if choice.get("token_ids"):
                token_ids += choice["token_ids"]
            if not text and not choice.get("token_ids"):
                continue
            now = time.perf_counter()
            n = _tokens_in(choice)
            counted += n
            if out.ttft_s is None:
                out.ttft_s = now - start
                out.top_logprobs = _first_logprobs(choice.get("logprobs")) or []
                if marks is not None:
                    marks.first(n)
            else:
                out.chunk_s.append(now - start)
                if marks is not None:
                    marks.more(n)
            parts.append(text or "")
        if not data.get("choices") and data.get("sglext"):
            _absorb(out, data, {})
    out.e2e_s = time.perf_counter() - start
    out.text = "".join(parts)
    out.token_ids = token_ids or None
    out.completion_tokens = out.completion_tokens or counted
    return out
