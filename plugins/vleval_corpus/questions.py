"""MMBench-style multiple-choice questions about a scene (category, question text, four options, answer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vleval_corpus.assets import Assets
from vleval_corpus.scenes import COLORS, DIGITS, MMBENCH, POSITIONS, SHAPES, Scene, sample_scene

#: MMBench category -> l2-category.
CATEGORIES: dict[str, str] = {
    "color": "attribute_recognition",
    "shape": "object_recognition",
    "digit": "ocr",
    "position": "spatial_reasoning",
}
#: Option vocabulary per MMBench category.
OPTION_VALUES: dict[str, tuple[str, ...]] = {
    "color": tuple(COLORS),
    "shape": SHAPES,
    "digit": DIGITS,
    "position": tuple(POSITIONS),
}
QUESTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "color": ("What color is the {noun}?", "What is the color of the {noun} in the image?"),
    "shape": ("Which shape is shown in the image?", "What shape is the colored object?"),
    "digit": ("Which digit is written in the image?", "What number is shown in the image?"),
    "position": ("Where is the {color} {noun} located in the image?", "In which part of the image is the {noun}?"),
}
MMBENCH_HINT = "The image shows one colored shape or digit on a background."
OPTION_LETTERS = ("A", "B", "C", "D")


@dataclass(frozen=True)
class Question:
    """One base question (rotation 0) about a scene."""

    base: int
    category: str
    scene: Scene
    question: str
    hint: str
    options: tuple[str, ...]  # in base (rotation 0) order
    answer: int  # position of the right option in ``options``


def sample_questions(rng: np.random.Generator, assets: Assets, count: int, pool: str) -> list[Question]:
    """``count`` questions cycling through the categories, with three wrong options of the category's vocabulary."""
    categories = list(CATEGORIES)
    questions = []
    for base in range(count):
        category = categories[base % len(categories)]
        kind = {"shape": "shape", "digit": "digit"}.get(category)
        scene = sample_scene(rng, MMBENCH, assets, pool, kind=kind)
        truth = {"color": scene.color, "shape": scene.label, "digit": scene.label, "position": scene.position}
        values = OPTION_VALUES[category]
        wrong = [v for v in values if v != truth[category]]
        picks = [wrong[i] for i in rng.choice(len(wrong), size=len(OPTION_LETTERS) - 1, replace=False)]
        options = [truth[category], *picks]
        order = rng.permutation(len(options))
        options = [options[i] for i in order]
        templates = QUESTION_TEMPLATES[category]
        noun = "digit" if scene.kind == "digit" else "shape"
        text = templates[rng.integers(len(templates))].format(noun=noun, color=scene.color)
        hint = MMBENCH_HINT if rng.random() < 0.3 else ""
        questions.append(Question(base, category, scene, text, hint, tuple(options),
                                  options.index(truth[category])))
    return questions
