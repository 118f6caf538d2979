"""Flickr-style and COCO-style captions of a scene, and the caption vocabulary."""

from __future__ import annotations

import re

import numpy as np

from vleval_corpus.scenes import COLORS, DIGITS, SHAPES, Scene

FLICKR_POSITION_PHRASES: dict[str, tuple[str, ...]] = {
    "top left": ("in the top left corner", "at the top left"),
    "top": ("at the top", "near the top edge"),
    "top right": ("in the top right corner", "at the top right"),
    "left": ("on the left", "on the left side"),
    "center": ("in the center", "in the middle"),
    "right": ("on the right", "on the right side"),
    "bottom left": ("in the bottom left corner", "at the bottom left"),
    "bottom": ("at the bottom", "near the bottom edge"),
    "bottom right": ("in the bottom right corner", "at the bottom right"),
}
COCO_POSITION_PHRASES: dict[str, tuple[str, ...]] = {
    "top left": ("near the upper left", "in the top left of the picture"),
    "top": ("near the top of the picture", "up at the top"),
    "top right": ("near the upper right", "in the top right of the picture"),
    "left": ("toward the left", "on the left of the picture"),
    "center": ("in the middle of the picture", "near the center"),
    "right": ("toward the right", "on the right of the picture"),
    "bottom left": ("near the lower left", "in the bottom left of the picture"),
    "bottom": ("near the bottom of the picture", "down at the bottom"),
    "bottom right": ("near the lower right", "in the bottom right of the picture"),
}
FLICKR_TEMPLATES = (
    "{A_color} {obj} {pos}.",
    "{A_size} {color} {obj} {pos}.",
    "{Color} {obj} {pos}.",
    "The image shows {a_color} {obj} {pos}.",
    "{A_color} {obj} {pos} on a textured background.",
    "{A_size} {color} {obj} is {pos}.",
    "There is {a_color} {obj} {pos} of the photo.",
)
COCO_TEMPLATES = (
    "there is {a_size} {obj} that is {color} {pos}",
    "{a_size} {color} {obj} {pos}",
    "a picture of {a_color} {obj} {pos}",
    "{pos} there is {a_color} {obj}",
    "an image with {a_color} {obj} {pos} and some clutter",
    "{a_color} {obj} can be seen {pos}",
    "the {obj} {pos} is {color}",
)
FLICKR_DIGIT_NOUNS = ("digit {d}", "handwritten digit {d}", "number {d}")
COCO_DIGIT_NOUNS = ("number {d}", "digit {d}", "handwritten number {d}")
FLICKR_SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small",), "large": ("large", "big")}
COCO_SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small", "tiny"), "large": ("large", "big")}
CAPTIONS_PER_IMAGE = 5


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def caption(scene: Scene, rng: np.random.Generator, template: str, style: str) -> str:
    """Fill ``template`` for ``scene`` with ``style``'s (``"flickr"`` or ``"coco"``) nouns, phrases and casing."""
    coco = style == "coco"
    nouns = COCO_DIGIT_NOUNS if coco else FLICKR_DIGIT_NOUNS
    obj = nouns[rng.integers(len(nouns))].format(d=scene.label) if scene.kind == "digit" else scene.label
    phrases = (COCO_POSITION_PHRASES if coco else FLICKR_POSITION_PHRASES)[scene.position]
    sizes = (COCO_SIZE_WORDS if coco else FLICKR_SIZE_WORDS)[scene.size]
    size = sizes[rng.integers(len(sizes))]
    fields = {
        "color": scene.color, "Color": scene.color.capitalize(), "obj": obj,
        "pos": phrases[rng.integers(len(phrases))], "size": size,
        "a_color": _article(scene.color), "A_color": _article(scene.color).capitalize(),
        "a_size": _article(size), "A_size": _article(size).capitalize(),
    }
    text = template.format(**fields)
    if coco:
        if rng.random() < 0.5:
            text = text[0].upper() + text[1:]
        if rng.random() < 0.3:
            text += "."
    return text


def tokens(text: str) -> list[str]:
    """Lowercase alphanumeric tokens, as in the ``tokens`` field of Karpathy JSON."""
    return re.findall(r"[a-z0-9]+", text.lower())


def caption_vocabulary() -> list[str]:
    """Every word the generated captions can contain (lowercase tokens), sorted."""
    words: set[str] = set()
    for text in (*FLICKR_TEMPLATES, *COCO_TEMPLATES):
        words.update(tokens(re.sub(r"\{[^}]*\}", " ", text)))
    for group in (FLICKR_POSITION_PHRASES, COCO_POSITION_PHRASES, FLICKR_SIZE_WORDS, COCO_SIZE_WORDS):
        for phrases in group.values():
            for phrase in phrases:
                words.update(tokens(phrase))
    for noun in (*FLICKR_DIGIT_NOUNS, *COCO_DIGIT_NOUNS):
        words.update(tokens(noun.format(d="")))
    words.update(COLORS, SHAPES, DIGITS, ("a", "an"))
    return sorted(words)
