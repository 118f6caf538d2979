"""A small OpenAI-compatible chat-completions server on 127.0.0.1 that serves an ``HFModel`` (tests only).

It speaks what the ``openai`` plugin uses: ``GET /v1/models``; ``POST /v1/chat/completions`` with SSE streaming,
``logprobs``/``top_logprobs`` of the generated tokens, ``prompt_token_ids``/``token_ids``, and routed experts in
both servers' formats, taken from the HFModel's own routing trace:

- SGLang: request ``return_routed_experts: true`` -> ``sglext.routed_experts`` (base64 raw int32);
- vLLM: server started with ``vllm_routing=True`` -> ``choices[0].routed_experts`` (base64 ``.npy``), non-streamed.

Both are ``[prompt + generated - 1, num_hidden_layers, top_k]``, -1 in layers without routing. Faults are injected
per request from :attr:`State.faults` (``"400"``, ``"429"``, ``"500"``, ``"503"``, ``"drop"``: close without answering,
``"drop_mid"``: close after the first chunk); :attr:`State.token_delay_s` slows every streamed token and
:attr:`State.hold_s` holds each request (so concurrent ones overlap). Every request is logged with its headers.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


@dataclass
class Generation:
    prompt_ids: list[int]
    ids: list[int]
    pieces: list[str]  # text each generated token adds (concatenated: the decoded answer)
    top_logprobs: list[list[tuple[str, float]]]  # per generated token: (token, logprob), best first
    routing: np.ndarray  # [prompt + generated - 1, layers, top_k], -1 where a layer has no routing


class HFBackend:
    """Greedy generation with an ``HFModel``'s own prompting and routing capture (one request at a time)."""

    def __init__(self, hf: Any, name: str = "tiny-moe") -> None:
        self.hf, self.name = hf, name
        self.layers = int(hf.info().num_layers)
        self.lock = threading.Lock()

    def generate(self, text: str, image: Any, max_tokens: int, top: int) -> Generation:
        import torch

        hf = self.hf
        with self.lock, hf.trace_routing() as trace, hf._session():
            chats, templated = hf.prompter.chats([text], [image])
            batch = hf.prompter.encode(chats, [image], templated, "left")
            out = hf.model.generate(**batch, max_new_tokens=max_tokens, do_sample=False, num_beams=1,
                                    pad_token_id=hf.tokenizer.pad_token_id,
                                    eos_token_id=hf.stop_token_ids or None,
                                    output_logits=True, return_dict_in_generate=True)
        prompt = batch["input_ids"][0].tolist()
        ids = out.sequences[0, len(prompt):].tolist()
        tok = hf.tokenizer
        cumulative = [tok.decode(ids[: i + 1], skip_special_tokens=True) for i in range(len(ids))]
        pieces = [c[len(p):] for p, c in zip(["", *cumulative], cumulative, strict=False)]
        tops = []
        for step in out.logits[: len(ids)]:
            logp = torch.log_softmax(step[0].float(), dim=-1)
            values, index = logp.topk(min(top, logp.numel())) if top else (logp[:0], logp[:0].long())
            tops.append([(tok.decode([int(i)]), float(v)) for v, i in zip(values, index, strict=True)])
        return Generation(prompt, ids, pieces, tops, self._routing(trace, len(prompt), len(ids)))

    def _routing(self, trace: Any, prompt: int, generated: int) -> np.ndarray:
        k = max(e.experts.shape[1] for e in trace.events)
        array = np.full((prompt + generated - 1, self.layers, k), -1, dtype=np.int32)
        for e in trace.events:
            rows = slice(0, prompt) if e.phase == "prefill" else slice(prompt, prompt + generated - 1)
            array[rows, e.layer, : e.experts.shape[1]] = e.experts
        return array


class InstantBackend:
    """Answers at once with ``tokens`` fixed tokens (no model): for measuring the client's own overhead."""

    def __init__(self, tokens: int = 16, prompt: int = 32, name: str = "instant") -> None:
        self.name, self.n, self.prompt = name, tokens, prompt

    def generate(self, text: str, image: Any, max_tokens: int, top: int) -> Generation:
        n = min(self.n, max_tokens)
        return Generation(list(range(self.prompt)), list(range(n)), [" tok"] * n, [[(" tok", -0.01)]] * n,
                          np.zeros((self.prompt + n - 1, 2, 2), dtype=np.int32))


@dataclass
class State:
    faults: deque = field(default_factory=deque)
    retry_after: str | None = "0.05"
    token_delay_s: float = 0.0
    hold_s: float = 0.0
    vllm_routing: bool = False
    leak_auth: bool = False  # injected errors echo the Authorization header (a careless server)
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]


def _image(messages: list[dict[str, Any]]) -> tuple[str, Any]:
    from PIL import Image

    text, image = [], None
    for message in messages:
        content = message["content"]
        for part in [{"type": "text", "text": content}] if isinstance(content, str) else content:
            if part["type"] == "text":
                text.append(part["text"])
            elif part["type"] == "image_url":
                data = part["image_url"]["url"].split(",", 1)[1]
                image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    return "\n".join(text), image


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # every SSE chunk leaves at once, as a real server's would
    server: OpenAIServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _log(self, body: Any) -> None:
        with self.server.state.lock:
            self.server.state.requests.append({"path": self.path, "authorization": self.headers.get("Authorization"),
                                               "body": body, "t": time.perf_counter()})

    def do_GET(self) -> None:
        self._log(None)
        if self.path.rstrip("/") != "/v1/models":
            return self._json(404, {"error": {"message": f"no route {self.path}"}})
        self._json(200, {"object": "list", "data": [{"id": self.server.backend.name, "object": "model",
                                                     "owned_by": "vleval-tests", "max_model_len": 512}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self._log(body)
        state = self.server.state
        with state.lock:
            fault = state.faults.popleft() if state.faults else None
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            self._chat(body, fault)
        finally:
            with state.lock:
                state.in_flight -= 1

    def _chat(self, body: dict[str, Any], fault: str | None) -> None:
        state = self.server.state
        time.sleep(state.hold_s)
        if fault in ("400", "429", "500", "503"):
            headers = {"Retry-After": state.retry_after} if fault == "429" and state.retry_after else {}
            leak = f" (got {self.headers.get('Authorization')})" if state.leak_auth else ""
            return self._json(int(fault), {"error": {"message": f"injected {fault}{leak}"}}, headers)
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        text, image = _image(body["messages"])
        top = int(body.get("top_logprobs") or 0) if body.get("logprobs") else 0
        gen = self.server.backend.generate(text, image, int(body.get("max_tokens") or 16), top)
        if body.get("stream"):
            return self._stream(body, gen, fault)
        self._json(200, self._complete(body, gen))

    def _complete(self, body: dict[str, Any], gen: Generation) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": "".join(gen.pieces)},
                                  "finish_reason": "stop"}
        if body.get("logprobs"):
            choice["logprobs"] = {"content": [_logprob(t) for t in gen.top_logprobs]}
        out: dict[str, Any] = {"id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                               "choices": [choice], "usage": _usage(gen)}
        if body.get("return_token_ids"):
            choice["token_ids"] = gen.ids
            out["prompt_token_ids"] = gen.prompt_ids  # vLLM: top level
        if body.get("return_prompt_token_ids"):
            choice["prompt_token_ids"] = gen.prompt_ids  # SGLang: per choice
        if body.get("return_routed_experts"):
            out["sglext"] = {"routed_experts": base64.b64encode(gen.routing.astype("<i4").tobytes()).decode()}
        if self.server.state.vllm_routing:
            buf = io.BytesIO()
            np.save(buf, gen.routing)
            choice["routed_experts"] = base64.b64encode(buf.getvalue()).decode()
        return out

    def _stream(self, body: dict[str, Any], gen: Generation, fault: str | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, piece in enumerate(gen.pieces):
            time.sleep(self.server.state.token_delay_s)
            choice: dict[str, Any] = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
            if body.get("logprobs"):
                choice["logprobs"] = {"content": [_logprob(gen.top_logprobs[i])]}
            if body.get("return_token_ids"):
                choice["token_ids"] = [gen.ids[i]]
            self._event({"object": "chat.completion.chunk", "model": body["model"], "choices": [choice]})
            if fault == "drop_mid":
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(2)
                return
        last: dict[str, Any] = {"object": "chat.completion.chunk", "model": body["model"],
                                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        if body.get("stream_options", {}).get("include_usage"):
            last["usage"] = _usage(gen)
        if body.get("return_routed_experts"):
            last["sglext"] = {"routed_experts": base64.b64encode(gen.routing.astype("<i4").tobytes()).decode()}
        self._event(last)
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _event(self, payload: dict[str, Any]) -> None:
        self._chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _logprob(tops: list[tuple[str, float]]) -> dict[str, Any]:
    token, logprob = tops[0] if tops else ("", 0.0)
    return {"token": token, "logprob": logprob, "top_logprobs": [{"token": t, "logprob": v} for t, v in tops]}


def _usage(gen: Generation) -> dict[str, int]:
    return {"prompt_tokens": len(gen.prompt_ids), "completion_tokens": len(gen.ids),
            "total_tokens": len(gen.prompt_ids) + len(gen.ids)}


class OpenAIServer(ThreadingHTTPServer):
    """``with OpenAIServer(backend) as server: server.url``; binds 127.0.0.1 on a free port."""

    daemon_threads = True

    def __init__(self, backend: Any, state: State | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.backend, self.state = backend, state or State()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
