"""Shift plugins: Flickr30K -> MSCOCO on local data and a user-defined pair (offline shifts: ``vleval_corpus``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vleval.api import hookimpl

VLEVAL_API_VERSION = "1"

_SHIFTS = (
    ("Flickr30kToMSCOCO", "flickr30k->mscoco",
     "Image-text retrieval shift from Flickr30K to MSCOCO (Karpathy splits, local files)"),
    ("PairShift", "pair", "A user-defined shift: source and target are any registered datasets with their arguments"),
)


@hookimpl
def register_shifts(register: Callable[..., Any]) -> None:
    for attribute, name, description in _SHIFTS:
        register(f"vleval_shifts.shifts:{attribute}", name=name, version="1.0.0", description=description)
