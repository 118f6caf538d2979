"""Entry point of the ``hf`` model plugin: registers a lazy factory, importing neither torch nor transformers."""

from __future__ import annotations

from collections.abc import Callable

from vleval.api import hookimpl

VLEVAL_API_VERSION = "1"


@hookimpl
def register_models(register: Callable[..., None]) -> None:
    register(
        "vleval_models.hf.model:HFModel",
        name="hf",
        version="0.1.0",
        description="Any local transformers checkpoint (MoE VLM or text MoE): routing capture, top-k and pruning",
    )
