"""The module the ``openai`` entry point names: registers the model lazily (no httpx/torch/numpy on listing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vleval.api import hookimpl

VLEVAL_API_VERSION = "1"


@hookimpl
def register_models(register: Callable[..., Any]) -> None:
    register("vleval_openai.model:OpenAIModel", name="openai", version="0.1.0",
             description="An OpenAI-compatible chat-completions server (vLLM, SGLang...): streamed latency, "
                         "logprob MC, server-side routed experts, response cache")
