"""Shift plugins: Flickr30K -> MSCOCO on local data, a user-defined pair, and transform shifts of any dataset
(ImageNet-C corruptions, restyling, text noise, paraphrase). Offline corpus shifts: ``vleval_corpus``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vleval.api import hookimpl

VLEVAL_API_VERSION = "1"

_SHIFTS = (
    ("shifts:Flickr30kToMSCOCO", "flickr30k->mscoco",
     "Flickr30K -> MSCOCO (Karpathy splits, local files): image-text retrieval, or captioning with "
     "task='captioning'"),
    ("shifts:PairShift", "pair",
     "A user-defined shift: source and target are any registered datasets with their arguments"),
    ("transforms:CorruptionShift", "corruption",
     "ImageNet-C corruptions (15 families, severities 1-5) of any dataset's images, paired item by item with the "
     "clean source"),
    ("transforms:RestyleShift", "restyle",
     "Restyled images of any dataset (flat-colour posterize, edge render, text overlay), paired"),
    ("transforms:TextNoiseShift", "text-noise",
     "Character noise on captions, questions, options and hints of any dataset, paired item by item"),
    ("transforms:ParaphraseShift", "paraphrase",
     "Templated paraphrase of captions and questions of any dataset, paired item by item"),
)


@hookimpl
def register_shifts(register: Callable[..., Any]) -> None:
    for attribute, name, description in _SHIFTS:
        register(f"vleval_shifts.{attribute}", name=name, version="1.0.0", description=description)
