"""Dataset plugins: Karpathy-split files, COCO caption files and MMBench TSVs (factories are imported lazily)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vleval.api import hookimpl

VLEVAL_API_VERSION = "1"


@hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    register(
        "vleval_datasets.karpathy:KarpathyDataset",
        name="karpathy",
        version="1.0.0",
        description="Image-text retrieval (or captioning, task='captioning') on a Karpathy-split JSON (Flickr30K, "
        "MSCOCO) and its image directory",
    )
    register(
        "vleval_datasets.coco:CocoCaptionsDataset",
        name="coco-captions",
        version="1.0.0",
        description="Image captioning on a COCO-format caption JSON (images + annotations) and its image directory",
    )
    register(
        "vleval_datasets.mmbench:MMBenchDataset",
        name="mmbench",
        version="1.0.0",
        description="Multiple choice on an MMBench-format TSV (base64 images, circular rotations)",
    )
