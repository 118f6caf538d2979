"""Registers the RefMoE reference family (imported lazily: listing plugins does not import torch)."""

from __future__ import annotations

from collections.abc import Callable

from vleval.api import hookimpl

VLEVAL_API_VERSION = "1"


@hookimpl
def register_models(register: Callable[..., None]) -> None:
    register(
        "vleval_models.refmoe.adapter:RefMoE",
        name="refmoe",
        version="0.1.0",
        description="Reference LIMoE-style MoE VLMs with 1-16 experts at matched active params, trained offline",
    )
    register(
        "vleval_models.refmoe.caption_adapter:RefMoECap",
        name="refmoe-cap",
        version="0.1.0",
        description="Reference prefix-LM MoE caption decoders (1-16 experts, matched active params), trained offline",
    )
    register(
        "vleval_models.refmoe.caption_adapter:RefMoEBlind",
        name="refmoe-blind",
        version="0.1.0",
        description="Blind captioning baseline: the most frequent training caption, the image never read",
    )
