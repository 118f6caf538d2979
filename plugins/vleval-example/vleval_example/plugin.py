"""The module the ``vleval`` entry point names: one hook per kind, factories as lazy ``"module:Attr"`` strings.

Nothing heavy is imported here, so ``vleval plugins`` stays fast; each factory module is imported on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vleval.api import hookimpl

VLEVAL_API_VERSION = "1"


@hookimpl
def register_models(register: Callable[..., Any]) -> None:
    register("vleval_example.model:ColourMoE", name="example-colour-moe", version="0.1.0",
             description="Training-free numpy baseline: colour/texture histograms and colour words routed "
                         "through a seeded top-k MoE (no download)")


@hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    register("vleval_example.folder:CaptionedFolder", name="example-folder", version="0.1.0",
             description="Image-text retrieval over a folder of images and a captions.json")


@hookimpl
def register_shifts(register: Callable[..., Any]) -> None:
    register("vleval_example.folder:FolderShift", name="example-folder-shift", version="0.1.0",
             description="Retrieval shift between two example-folder directories (source -> target)")


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register("vleval_example.metric:MedianRank", name="median-rank", version="0.1.0",
             description="Median and mean rank of the right image (t2i) / first right caption (i2t), and MRR")
