"""Small, deterministic inputs for the checks: images, texts, questions, prompts and task outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from vleval.api import CIRCULAR_BASE, CaptionOutputs, MCItem, MCOutputs, Prompt, RetrievalOutputs, Task

COLOURS = {"red": (210, 40, 35), "green": (40, 160, 50), "blue": (40, 70, 210), "yellow": (225, 215, 40)}


def sample_images(n: int = 3, size: int = 32, seed: int = 0) -> list[Any]:
    """``n`` RGB images: solid colours with a little noise, and a striped one every fourth."""
    rng = np.random.default_rng(seed)
    images = []
    for i, rgb in enumerate(list(COLOURS.values()) * (n // len(COLOURS) + 1)):
        if i == n:
            break
        pixels = np.broadcast_to(np.asarray(rgb, np.float32), (size, size, 3)).copy()
        if i % 4 == 3:
            pixels[:, ::4] = 245.0
        pixels += rng.normal(0, 8, size=pixels.shape)
        images.append(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))
    return images


def sample_texts(n: int = 4) -> list[str]:
    """``n`` short captions of different lengths."""
    texts = [f"a {colour} square" for colour in COLOURS] + ["something striped and blue on a white background",
                                                          "red", "a photo of a dog"]
    return (texts * (n // len(texts) + 1))[:n]


def sample_mc_items(images: list[Any], with_images: bool = True) -> list[MCItem]:
    """One question per image (its ``image`` ``None`` unless ``with_images``), with 4, 3 and 2 options in turn (so
    option counts differ within a batch)."""
    names = list(COLOURS)
    items = []
    for i, image in enumerate(images):
        count = 4 - i % 3
        options = dict(zip("ABCD", [names[(i + j) % len(names)] for j in range(count)], strict=False))
        items.append(MCItem(index=i, image=image if with_images else None, question="Which colour is the image?",
                            options=options, answer="A", category="colour"))
    return items


def sample_prompts(images: list[Any]) -> list[Prompt]:
    """A captioning prompt per image and one text-only prompt."""
    return [*(Prompt("Describe the image in one sentence.", image, max_new_tokens=8) for image in images),
            Prompt("Name a colour.", None, max_new_tokens=4)]


def sample_outputs(task: Task, n: int = 12, seed: int = 0) -> RetrievalOutputs | MCOutputs | CaptionOutputs:
    """Valid outputs of ``task`` for ``n`` items, partly right and partly wrong, for :func:`check_metric`."""
    rng = np.random.default_rng(seed)
    task = Task(task)
    if task is Task.RETRIEVAL:
        owner = np.repeat(np.arange(n), 2)
        similarity = rng.normal(size=(n, 2 * n)) + 2.0 * (owner[None, :] == np.arange(n)[:, None])
        return RetrievalOutputs(similarity=similarity.astype(np.float32), text_image=owner)
    if task is Task.MULTIPLE_CHOICE:
        letters = "ABCD"
        answers = [letters[i % 4] for i in range(n)]
        predictions: list[str | None] = [a if rng.random() < 0.6 else letters[int(rng.integers(4))] for a in answers]
        predictions[-1] = None
        half = max(n // 2, 1)  # two circular rotations per question: indices q and q + CIRCULAR_BASE
        indices = [i % half + (i // half) * CIRCULAR_BASE for i in range(n)]
        options = [dict(zip(letters, COLOURS, strict=True))] * n
        return MCOutputs(predictions=predictions, answers=answers, indices=indices, categories=["colour"] * n,
                         num_options=[4] * n, raw_answers=[None] * n, options=options, l2_categories=["hue"] * n)
    words = list(COLOURS)
    references = [[f"a {words[i % 4]} square", f"{words[i % 4]} patch"] for i in range(n)]
    predictions_text = [f"a {words[(i + int(rng.random() < 0.3)) % 4]} square" for i in range(n)]
    return CaptionOutputs(predictions=predictions_text, references=references)
