"""Text shifts for captions, questions, options and hints: character noise and templated paraphrase."""

from __future__ import annotations

import re
import string

import numpy as np

OPERATIONS = ("substitute", "delete", "insert", "swap")
LETTERS = string.ascii_lowercase


def char_noise(text: str, rate: float, rng: np.random.Generator) -> str:
    """Each letter or digit, with probability ``rate``, gets one edit chosen uniformly: substituted by a random
    lowercase letter (another than itself), deleted, followed by an inserted random letter, or swapped with the
    next letter or digit of its word (substituted when there is none). Spaces and punctuation are never edited."""
    chars = list(text)
    out: list[str] = []
    i = 0
    while i < len(chars):
        ch = chars[i]
        if not ch.isalnum() or rng.random() >= rate:
            out.append(ch)
            i += 1
            continue
        op = OPERATIONS[int(rng.integers(len(OPERATIONS)))]
        if op == "substitute":
            choices = [c for c in LETTERS if c != ch.lower()]
            new = choices[int(rng.integers(len(choices)))]
            out.append(new.upper() if ch.isupper() else new)
        elif op == "insert":
            out.extend([ch, LETTERS[int(rng.integers(len(LETTERS)))]])
        elif op == "swap" and i + 1 < len(chars) and chars[i + 1].isalnum() and chars[i + 1] != ch:
            out.extend([chars[i + 1], ch])
            i += 1
        elif op == "swap":  # nothing in the word to swap with: substitute instead, so that the edit still happens
            choices = [c for c in LETTERS if c != ch.lower()]
            out.append(choices[int(rng.integers(len(choices)))])
        # delete: append nothing
        i += 1
    return "".join(out)


# Templated paraphrase: meaning-preserving rewrites, then a wrapper. ``{}`` is the text (first letter lowered and
# the final full stop removed where the template continues it).
CAPTION_TEMPLATES = ("{}", "a picture of {}", "an image showing {}", "this photo shows {}", "{}, as seen in the photo")
QUESTION_TEMPLATES = ("{}", "Looking at the image, {}", "Based on the picture: {}", "{} Answer using the image.",
                      "Consider the image. {}")
REWRITES = (  # (pattern, replacement), whole words, case-insensitive on the first letter
    (r"\bWhat is\b", "Which is"), (r"\bHow many\b", "What number of"), (r"\bIs there\b", "Does the image contain"),
    (r"\bin the image\b", "in the picture"), (r"\bpicture\b", "image"), (r"\bphoto\b", "picture"),
    (r"\bman\b", "person"), (r"\bwoman\b", "person"), (r"\bbig\b", "large"), (r"\bsmall\b", "little"),
)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:1].isupper() and not text[1:2].isupper() else text


def paraphrase(text: str, kind: str, rng: np.random.Generator) -> str:
    """``text`` (``kind``: ``caption`` or ``question``) with each applicable rewrite applied with probability 1/2,
    then wrapped in one template drawn uniformly (the identity template included)."""
    for pattern, replacement in REWRITES:
        if re.search(pattern, text) and rng.random() < 0.5:
            text = re.sub(pattern, replacement, text)
    templates = CAPTION_TEMPLATES if kind == "caption" else QUESTION_TEMPLATES
    template = templates[int(rng.integers(len(templates)))]
    if template == "{}":
        return text
    if template.startswith("{}"):
        return template.format(text.rstrip(".") if kind == "caption" else text)
    body = _lower_first(text) if kind == "caption" or template.endswith(", {}") else text
    return template.format(body.rstrip(".") if kind == "caption" else body)
