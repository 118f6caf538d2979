"""Transform shifts over any registered dataset: ImageNet-C corruptions, restyling, text noise, paraphrase.

Each takes ``dataset = { name = ..., args = {...} }`` (the source) and ``seed``; the target is the same items,
transformed deterministically per item id and seed (see :class:`vleval.api.TransformShift`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from vleval.api import DatasetSpec, ShiftArgumentError, TransformShift, item_rng

Spec = Mapping[str, Any] | DatasetSpec | None
TEXT_FIELDS = ("captions", "question", "options", "hint")


def _with(item: Any, **changes: Any) -> Any:
    """A shallow copy of ``item`` with ``changes`` (the source item is never modified)."""
    out = copy.copy(item)
    for name, value in changes.items():
        setattr(out, name, value)
    return out


def _image_of(item: Any) -> Any:
    return getattr(item, "image", None)


class CorruptionShift(TransformShift):
    """One ImageNet-C corruption at one severity on the images of any dataset."""

    name = "corruption"
    version = "1.0.0"
    description = ("ImageNet-C corruptions (15 families, severities 1-5) of any dataset's images, paired item by "
                   "item with the clean source")

    def __init__(self, dataset: Spec = None, corruption: str | None = None, severity: int | None = None,
                 seed: int = 0, calibration: Spec = None) -> None:
        from vleval_shifts.imagenet_c import CORRUPTIONS

        if corruption not in CORRUPTIONS:
            raise ShiftArgumentError(f"shift 'corruption': argument 'corruption' = {corruption!r} is not an "
                                     f"ImageNet-C corruption; expected one of {', '.join(CORRUPTIONS)}")
        if isinstance(severity, bool) or not isinstance(severity, int) or not 1 <= severity <= 5:
            raise ShiftArgumentError(f"shift 'corruption': argument 'severity' = {severity!r} must be an integer "
                                     "from 1 to 5")
        super().__init__(dataset, seed, calibration)
        self.corruption, self.severity = corruption, severity

    def params(self) -> dict[str, Any]:
        return {"corruption": self.corruption, "severity": self.severity}

    def apply(self, item: Any, index: int, seed: int) -> Any:
        from vleval_shifts.imagenet_c import corrupt

        image = _image_of(item)
        if image is None:
            return item
        return _with(item, image=corrupt(image, self.corruption, self.severity, item_rng(seed, item, "image")))


class RestyleShift(TransformShift):
    """Natural -> synthetic restyling of any dataset's images."""

    name = "restyle"
    version = "1.0.0"
    description = "Restyled images of any dataset (flat-colour posterize, edge render, text overlay), paired"

    def __init__(self, dataset: Spec = None, style: str | None = None, colors: int = 6, threshold: float = 0.25,
                 count: int = 2, seed: int = 0, calibration: Spec = None) -> None:
        from vleval_shifts.restyle import STYLES

        if style not in STYLES:
            raise ShiftArgumentError(f"shift 'restyle': argument 'style' = {style!r}; expected one of "
                                     f"{', '.join(STYLES)}")
        checks = (("colors", colors, 2, 256), ("threshold", threshold, 0.0, 1.0), ("count", count, 1, 50))
        for arg, value, low, high in checks:
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ShiftArgumentError(f"shift 'restyle': argument {arg!r} = {value!r} must be in [{low}, {high}]")
        super().__init__(dataset, seed, calibration)
        self.style, self.colors, self.threshold, self.count = style, int(colors), float(threshold), int(count)

    def params(self) -> dict[str, Any]:
        extra = {"posterize": {"colors": self.colors}, "edges": {"threshold": self.threshold},
                 "text-overlay": {"count": self.count}}[self.style]
        return {"style": self.style, **extra}

    def apply(self, item: Any, index: int, seed: int) -> Any:
        from vleval_shifts.restyle import restyle

        image = _image_of(item)
        if image is None:
            return item
        rng = item_rng(seed, item, "image")
        return _with(item, image=restyle(image, self.style, rng, colors=self.colors, threshold=self.threshold,
                                         count=self.count))


class _TextShift(TransformShift):
    """A shift of the text an item shows the model: retrieval captions, MC questions, options and hints (never
    answers or reference captions, which are ground truth)."""

    def __init__(self, dataset: Spec, fields: Sequence[str] | None, seed: int, calibration: Spec) -> None:
        chosen = list(TEXT_FIELDS if fields is None else fields)
        unknown = [f for f in chosen if f not in TEXT_FIELDS]
        if unknown or not chosen:
            raise ShiftArgumentError(f"shift {self.name!r}: argument 'fields' = {fields!r}; expected a non-empty "
                                     f"list of {', '.join(TEXT_FIELDS)}")
        super().__init__(dataset, seed, calibration)
        self.fields = chosen

    def edit(self, text: str, kind: str, rng: Any) -> str:
        raise NotImplementedError

    def apply(self, item: Any, index: int, seed: int) -> Any:
        changes: dict[str, Any] = {}
        if "captions" in self.fields and isinstance(getattr(item, "captions", None), list):
            changes["captions"] = [self.edit(c, "caption", item_rng(seed, item, self.name, "caption", j))
                                   for j, c in enumerate(item.captions)]
        for field in ("question", "hint"):
            text = getattr(item, field, None)
            if field in self.fields and isinstance(text, str) and text:
                changes[field] = self.edit(text, "question", item_rng(seed, item, self.name, field))
        if "options" in self.fields and isinstance(getattr(item, "options", None), dict):
            # keyed by the option's text: a rotated question gets the same edits on the same options
            changes["options"] = {letter: self.edit(text, "option", item_rng(seed, item, self.name, "option", text))
                                  for letter, text in item.options.items()}
        return _with(item, **changes) if changes else item


class TextNoiseShift(_TextShift):
    """Character noise (substitute, delete, insert, swap) at ``rate`` per letter or digit."""

    name = "text-noise"
    version = "1.0.0"
    description = "Character noise on captions, questions, options and hints of any dataset, paired item by item"

    def __init__(self, dataset: Spec = None, rate: float = 0.05, fields: Sequence[str] | None = None, seed: int = 0,
                 calibration: Spec = None) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
            raise ShiftArgumentError(f"shift 'text-noise': argument 'rate' = {rate!r} must be in (0, 1]")
        super().__init__(dataset, fields, seed, calibration)
        self.rate = float(rate)

    def params(self) -> dict[str, Any]:
        return {"rate": self.rate, "fields": self.fields}

    def edit(self, text: str, kind: str, rng: Any) -> str:
        from vleval_shifts.text import char_noise

        return char_noise(text, self.rate, rng)


class ParaphraseShift(_TextShift):
    """Templated, meaning-preserving paraphrase of captions and questions (options are left as they are)."""

    name = "paraphrase"
    version = "1.0.0"
    description = "Templated paraphrase of captions and questions of any dataset, paired item by item"

    def __init__(self, dataset: Spec = None, fields: Sequence[str] | None = None, seed: int = 0,
                 calibration: Spec = None) -> None:
        super().__init__(dataset, ["captions", "question"] if fields is None else fields, seed, calibration)

    def params(self) -> dict[str, Any]:
        return {"fields": self.fields}

    def edit(self, text: str, kind: str, rng: Any) -> str:
        from vleval_shifts.text import paraphrase

        return paraphrase(text, "caption" if kind == "caption" else "question", rng)
