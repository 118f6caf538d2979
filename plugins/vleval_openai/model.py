"""``OpenAIModel``: a model served behind an OpenAI-compatible chat-completions API, as a :class:`vleval.api.Model`.

Requests run ``concurrency`` at a time; each is streamed so the client observes its time to first token and
inter-token latencies (:mod:`~vleval_openai.timing`). A response cache (:mod:`~vleval_openai.cache`) answers
requests already made, except while the core is timing a call: latency is always measured on the live server.
Routing comes from the server when it returns routed experts (:mod:`~vleval_openai.routing`).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import math
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from vleval.api import Capability, Model, ModelInfo, RoutingTrace, extract_choice, mc_prompt, measuring
from vleval_openai import bodies as rq
from vleval_openai.cache import ResponseCache, request_key
from vleval_openai.client import Transport
from vleval_openai.response import Completion
from vleval_openai.routing import decode_payload, modality_of, to_events
from vleval_openai.timing import ChatRead, summarize

if TYPE_CHECKING:
    from vleval.api import MCItem, Prompt

log = logging.getLogger("vleval_openai")
ROUTING_MODES = ("none", "sglang", "vllm")


class OpenAIModel(Model):
    """A chat-completions server. ``api_key_env`` names the environment variable holding the key (never the key)."""

    # name, version and description: registered in vleval_openai.plugin (the only place they are written)

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key_env: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        mc_mode: str = "generate",
        max_new_tokens: int | None = None,
        top_logprobs: int = 20,
        cache_dir: str | None = None,
        routing: str = "none",
        num_experts: int | list[int] | None = None,
        top_k: int | None = None,
        moe_layers: list[int] | None = None,
        image_token_ids: list[int] | None = None,
        total_params: int = 0,
        active_params_per_token: int = 0,
        seed: int | None = None,
    ):
        if mc_mode not in ("generate", "logprobs"):
            raise ValueError(f"openai: mc_mode must be 'generate' or 'logprobs', not {mc_mode!r}")
        if routing not in ROUTING_MODES:
            raise ValueError(f"openai: routing must be one of {ROUTING_MODES}, not {routing!r}")
        if routing != "none" and num_experts is None:
            raise ValueError("openai: routing from the server needs num_experts (experts per MoE layer)")
        if routing == "sglang" and top_k is None:
            raise ValueError("openai: SGLang routed experts carry no shape; give top_k")
        if int(concurrency) < 1:
            raise ValueError(f"openai: concurrency must be >= 1, got {concurrency}")
        key = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ValueError(f"openai: environment variable {api_key_env} (api_key_env) is not set or empty")
        self.transport = Transport(base_url, key, timeout_s, max_retries, backoff_s)
        self.base_url = self.transport.url  # no user info: safe to record
        self.model = model
        self.concurrency = int(concurrency)
        self.mc_mode, self.max_new_tokens, self.top_logprobs = mc_mode, max_new_tokens, int(top_logprobs)
        self.cache = ResponseCache(cache_dir) if cache_dir else None
        self.routing, self.num_experts, self.top_k = routing, num_experts, top_k
        self.moe_layers, self.image_token_ids = moe_layers, list(image_token_ids or [])
        self.total_params, self.active_params = int(total_params), int(active_params_per_token)
        self.seed = seed
        self.capabilities = frozenset(
            {Capability.GENERATE, Capability.SCORE_OPTIONS} if mc_mode == "logprobs" else {Capability.GENERATE})
        self.completions: list[Completion] = []
        self.cache_hits = 0
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._server: dict[str, Any] | None = None

    # ---------------------------------------------------------------------------------------------- plumbing

    def _model_id(self) -> str:
        if self.model is None:
            models = self.server_models()
            if not models.get("ids"):
                raise ValueError(f"openai: {self.base_url}/models lists no model; give model = \"...\"")
            self.model = models["ids"][0]
        return self.model

    def server_models(self) -> dict[str, Any]:
        """What ``GET /models`` reports (ids, owners, max_model_len), fetched once."""
        if self._server is None:
            try:
                data = self.transport.get_json("/models").get("data") or []
                self._server = {"ids": [m.get("id") for m in data],
                                "cards": [{k: m[k] for k in ("id", "owned_by", "root", "max_model_len") if k in m}
                                          for m in data]}
            except Exception as exc:  # the server may not implement it; requests will tell
                self._server = {"ids": [], "error": str(exc)}
        return self._server

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="vleval-openai")
            return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _fetch(self, body: dict[str, Any]) -> Completion:
        """One request: from the cache when allowed, else from the server (streamed or not, as ``body`` says)."""
        data = rq.encode(body)
        key = request_key(self.base_url, body["model"], data) if self.cache is not None else None
        if key is not None and not measuring():
            hit = self.cache.get(key)
            if hit is not None:
                self.cache_hits += 1
                completion = Completion.from_json(hit)
                completion.cached = True
                self._keep(completion)
                return completion
        completion = self.transport.call("POST", "/chat/completions", data, ChatRead(body["stream"]),
                                         stream=body["stream"])
        self._keep(completion)
        if key is not None:
            self.cache.put(key, completion.to_json())
        return completion

    def _keep(self, c: Completion) -> None:
        """Keep the request's timings for :meth:`latency_summary` (not its text, token ids or routing payload)."""
        self.completions.append(dataclasses.replace(c, text="", top_logprobs=[], prompt_token_ids=None,
                                                    token_ids=None, routed_experts=None))

    def _fetch_all(self, requests: list[tuple[str, Any, int, int]]) -> list[Completion]:
        """At most ``concurrency`` requests in flight, each built (image encoding included) and sent by a worker
        that sees the caller's context (the core's phase sink)."""
        pool = self._executor()
        tracing = self._trace is not None and self.routing != "none"
        extra = rq.ROUTING_FIELDS[self.routing] if tracing else None
        model = self._model_id()

        def run(text: str, image: Any, budget: int, top: int) -> Completion:
            return self._fetch(rq.chat_body(model, text, image, budget, stream=not tracing, top_logprobs=top,
                                            seed=self.seed, extra=extra))

        futures = [pool.submit(contextvars.copy_context().run, run, *r) for r in requests]
        return [f.result() for f in futures]

    # ------------------------------------------------------------------------------------------ generation

    def _complete(self, texts: Sequence[str], images: Sequence[Any], budgets: Sequence[int],
                  top_logprobs: int = 0) -> list[Completion]:
        out = self._fetch_all([(t, im, n, top_logprobs) for t, im, n in zip(texts, images, budgets, strict=True)])
        if self._trace is not None and self.routing != "none":
            for completion in out:
                self._record(completion)
        return out

    def generate(self, prompts: Sequence[Prompt]) -> list[str]:
        budgets = [self.max_new_tokens or p.max_new_tokens for p in prompts]
        done = self._complete([p.text for p in prompts], [p.image for p in prompts], budgets)
        return [c.text.strip() for c in done]

    def score_options(self, items: Sequence[MCItem]) -> list[list[float]]:
        texts, images = [mc_prompt(i) for i in items], [i.image for i in items]
        if self.mc_mode == "generate":
            done = self._complete(texts, images, [self.max_new_tokens or 8] * len(items))
            return [[1.0 if k == extract_choice(c.text, i.options) else 0.0 for k in i.options]
                    for i, c in zip(items, done, strict=True)]
        done = self._complete(texts, images, [1] * len(items), top_logprobs=self.top_logprobs)
        return [option_scores(c, i.options, self.base_url) for i, c in zip(items, done, strict=True)]

    # --------------------------------------------------------------------------------------------- routing

    @contextlib.contextmanager
    def trace_routing(self) -> Iterator[RoutingTrace]:
        """Routing from the server's routed experts (``routing`` = sglang | vllm); with ``routing = "none"`` the
        trace stays empty and ``info().extra["routing"]`` says why. Requests are not streamed while tracing (the
        core never times the traced pass)."""
        with super().trace_routing() as trace:
            yield trace

    def _record(self, c: Completion) -> None:
        if not c.routed_experts:
            raise RuntimeError(
                f"openai: {self.base_url} returned no routed experts although routing = {self.routing!r}; start the "
                "server with --enable-return-routed-experts (see docs/serving.md), or set routing = \"none\"")
        prompt_len = len(c.prompt_token_ids) if c.prompt_token_ids else c.prompt_tokens
        if prompt_len is None:
            raise RuntimeError("openai: the server reported neither prompt token ids nor usage.prompt_tokens")
        tokens = prompt_len + c.completion_tokens - 1
        array = decode_payload(c.routed_experts, c.routed_format or self.routing, tokens, self.top_k)
        if array.shape[0] != tokens:
            raise RuntimeError(f"openai: routed experts cover {array.shape[0]} tokens; expected prompt {prompt_len} "
                               f"+ generated {c.completion_tokens} - 1 = {tokens}")
        modality = modality_of(prompt_len, tokens, c.prompt_token_ids, self.image_token_ids)
        for e in to_events(array, prompt_len, modality, self.num_experts, self.moe_layers):
            self.record_routing(e.layer, e.num_experts, e.experts, e.modality, e.phase)

    # ------------------------------------------------------------------------------------------------ info

    def latency_summary(self) -> dict[str, Any]:
        """Per-request client-observed figures (TTFT, TPOT, ITL, end to end) of every live streamed request."""
        return summarize(list(self.completions), self.concurrency)

    def routing_status(self) -> str:
        if self.routing == "none":
            return "unavailable: routing = \"none\" (the server is not asked for routed experts)"
        modality = ("image/text told apart by image_token_ids" if self.image_token_ids
                    else "all prompt tokens counted as text (give image_token_ids)")
        return f"from the server ({self.routing} routed_experts); {modality}"

    def info(self) -> ModelInfo:
        server = self.server_models()
        layers = list(self.moe_layers or [])
        experts = self.num_experts
        per_layer = (list(experts) if isinstance(experts, list) else [int(experts)] * len(layers)) if experts else []
        extra: dict[str, Any] = {
            "base_url": self.base_url, "server_models": server.get("cards", []), "concurrency": self.concurrency,
            "mc_mode": self.mc_mode, "routing": self.routing_status(), "cache": bool(self.cache),
            "timing_scope": "client-observed over HTTP: time to first token and per-chunk decode spans of each "
                            "streamed request, at the stated concurrency; includes network and server queueing",
            "timeout_s": self.transport.timeout_s, "max_retries": self.transport.max_retries,
        }
        if "error" in server:
            extra["server_models_error"] = server["error"]
        if experts is not None:
            extra["num_experts"] = experts
        return ModelInfo(
            name=f"openai:{self.model or (server.get('ids') or ['?'])[0]}", architecture="openai-compatible",
            total_params=self.total_params, active_params_per_token=self.active_params, num_layers=len(layers),
            moe_layers=layers, experts_per_layer=per_layer, top_k=self.top_k, dtype="unknown", device="remote",
            extra=extra,
        )


#: how far below the least likely returned alternative a letter outside the top ``top_logprobs`` is scored
MISSING_MARGIN = 10.0


def option_scores(c: Completion, options: dict[str, str], where: str) -> list[float]:
    """Log-probability of each option letter as the first generated token (alternatives like " B" summed).

    A letter outside the returned top alternatives is less likely than all of them: it gets a finite score
    :data:`MISSING_MARGIN` below the least likely one (ties among such letters are broken by option order).
    """
    if not c.top_logprobs:
        raise RuntimeError(f"openai: {where} returned no logprobs for the first token; the server must support "
                           "logprobs/top_logprobs for mc_mode = \"logprobs\" (else use mc_mode = \"generate\")")
    floor = min(lp for _, lp in c.top_logprobs) - MISSING_MARGIN
    scores = []
    for letter in options:
        hits = [lp for tok, lp in c.top_logprobs if tok.strip().lstrip("(") == letter]
        scores.append(math.log(sum(math.exp(lp) for lp in hits)) if hits else floor)
    return scores
