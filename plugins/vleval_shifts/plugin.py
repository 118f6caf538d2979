"""Shift plugins: Flickr30K -> MSCOCO on local data, a user-defined pair, and transform shifts of any dataset
(ImageNet-C corruptions, restyling, text noise, paraphrase). Offline corpus shifts: ``vleval_corpus``.

Each class declares its own ``name``, ``version`` and ``description`` (a transform shift's name and version are also
its target's identity), read by the registry; importing them is light (the image and text code, with numpy, PIL
and scipy, is imported only when a shift is built or applied).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vleval.api import hookimpl
from vleval_shifts.shifts import Flickr30kToMSCOCO, PairShift
from vleval_shifts.transforms import CorruptionShift, ParaphraseShift, RestyleShift, TextNoiseShift

VLEVAL_API_VERSION = "1"

SHIFTS = (Flickr30kToMSCOCO, PairShift, CorruptionShift, RestyleShift, TextNoiseShift, ParaphraseShift)


@hookimpl
def register_shifts(register: Callable[..., Any]) -> None:
    for shift in SHIFTS:
        register(shift)
