"""Registers the offline corpus shifts (factories are imported lazily: listing imports no numpy, PIL or sklearn)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vleval.api import hookimpl

VLEVAL_API_VERSION = "1"

_SHIFTS = (
    ("MiniFlickrToMiniCOCO", "mini-flickr30k->mini-mscoco",
     "Offline shift: generated Flickr-style to COCO-style scenes and captions (Karpathy JSON); "
     "retrieval, or captioning with task='captioning'"),
    ("MiniNaturalToSynthetic", "mini-natural->synthetic",
     "Offline MMBench-style shift: the same questions on natural vs clean synthetic renders"),
)


@hookimpl
def register_shifts(register: Callable[..., Any]) -> None:
    for attribute, name, description in _SHIFTS:
        register(f"vleval_corpus.shifts:{attribute}", name=name, version="1.0.0", description=description)
