"""Registers the offline corpus shifts. Each class declares its own ``name``, ``version`` and ``description``, read
by the registry; importing them is light (no numpy, PIL or sklearn: the corpus is generated on first use)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vleval.api import hookimpl
from vleval_corpus.shifts import MiniFlickrToMiniCOCO, MiniNaturalToSynthetic

VLEVAL_API_VERSION = "1"

SHIFTS = (MiniFlickrToMiniCOCO, MiniNaturalToSynthetic)


@hookimpl
def register_shifts(register: Callable[..., Any]) -> None:
    for shift in SHIFTS:
        register(shift)
