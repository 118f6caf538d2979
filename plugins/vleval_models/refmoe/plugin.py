"""Registers the RefMoE reference family (imported lazily: listing plugins does not import torch)."""

from __future__ import annotations

from collections.abc import Callable

from vleval import hookimpl

VLEVAL_API_VERSION = "1"


@hookimpl
def register_models(register: Callable[..., None]) -> None:
    register(
        "vleval_models.refmoe.adapter:RefMoE",
        name="refmoe",
        version="0.1.0",
        description="RefMoE: tiny LIMoE-style contrastive MoE VLMs (experts=1/2/4/8/16, matched active params), "
        "trained offline on the corpus; kwargs experts, weights_dir, device, threads",
    )
