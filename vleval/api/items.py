"""What datasets yield and what models receive: one dataclass per task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

#: MMBench's circular convention: rotation ``r`` of question ``q`` has ``index = q + r * CIRCULAR_BASE``, so the
#: rotations of one question share ``index % CIRCULAR_BASE`` and rotation 0 has ``index < CIRCULAR_BASE``.
CIRCULAR_BASE = 1_000_000


@dataclass
class RetrievalItem:
    """One image and its reference captions (Karpathy-split style: usually 5)."""

    id: str
    image: Image
    captions: list[str]


@dataclass
class MCItem:
    """One multiple-choice question about an image (MMBench style).

    ``index`` follows MMBench: the circular rotations of one question share ``index % CIRCULAR_BASE``.
    """

    index: int
    image: Image | None
    question: str
    options: dict[str, str]
    answer: str
    hint: str = ""
    category: str = ""
    l2_category: str = ""


@dataclass
class CaptionItem:
    """One image to describe, with reference captions for scoring."""

    id: str
    image: Image
    references: list[str] = field(default_factory=list)


@dataclass
class Prompt:
    """A generation request: an optional image and a user text."""

    text: str
    image: Image | None = None
    max_new_tokens: int = 32
