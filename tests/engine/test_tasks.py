"""Task strategies: which one serves a model, and the outputs each builds from its model calls."""

from __future__ import annotations

import numpy as np
import pytest

from vleval.api import Capability, CaptionItem, MCItem, Model, RetrievalItem, Task
from vleval.engine.tasks import strategy
from vleval.engine.tasks.multiple_choice import GeneratedChoice, ScoredChoice


class Generator(Model):
    """Answers every multiple-choice prompt with the text of its option ``B``; captions with the prompt length."""

    capabilities = frozenset({Capability.GENERATE})

    def generate(self, prompts):
        return [p.text.split("B. ")[1].split("\n")[0] if "B. " in p.text else f"{len(p.text)} chars"
                for p in prompts]


def question(i: int, answer: str) -> MCItem:
    return MCItem(index=i, image=None, question="Which?", options={"A": "a red disc", "B": "a blue square"},
                  answer=answer)


def test_multiple_choice_scores_when_it_can_and_generates_otherwise():
    scorer = type("Scorer", (Model,), {"capabilities": frozenset({Capability.SCORE_OPTIONS, Capability.GENERATE})})()
    assert isinstance(strategy(Task.MULTIPLE_CHOICE, scorer), ScoredChoice)
    assert isinstance(strategy(Task.MULTIPLE_CHOICE, scorer, "generate"), GeneratedChoice)
    assert isinstance(strategy(Task.MULTIPLE_CHOICE, Generator()), GeneratedChoice)
    assert strategy(Task.MULTIPLE_CHOICE, Generator()).default_metrics[0] == "mc-accuracy"


def test_generated_answers_are_read_back_as_option_letters():
    runner = strategy(Task.MULTIPLE_CHOICE, Generator())
    items = [question(0, "B"), question(1, "A"), question(2, "B")]
    out = runner.outputs([runner.call(items[:2]), runner.call(items[2:])], items)
    assert out.predictions == ["B", "B", "B"] and out.answers == ["B", "A", "B"] and out.indices == [0, 1, 2]


def test_scored_choice_leaves_non_discriminating_scores_unanswered():
    runner = ScoredChoice(Model())
    items = [question(0, "A"), question(1, "B"), question(2, "B")]
    out = runner.outputs([[[0.9, 0.1], [0.5, 0.5], [0.0, float("nan")]]], items)
    assert out.predictions == ["A", None, None]


def test_captioning_flattens_batches_in_item_order():
    runner = strategy(Task.CAPTIONING, Generator())
    items = [CaptionItem(f"i{n}", None, [f"ref {n}"]) for n in range(3)]
    out = runner.outputs([runner.call(items[:2]), runner.call(items[2:])], items)
    assert len(out.predictions) == 3 and out.references == [["ref 0"], ["ref 1"], ["ref 2"]]
    assert runner.default_metrics == ("coco-caption",)


def test_retrieval_similarity_is_cosine_between_every_image_and_caption():
    rng = np.random.default_rng(0)
    images, texts = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    items = [RetrievalItem(name, None, captions) for name, captions in (("a", ["x", "y"]), ("b", ["z"]),
                                                                         ("c", ["u", "v"]))]
    runner = strategy(Task.RETRIEVAL, Model())
    out = runner.outputs([(images[:2], texts[:3]), (images[2:], texts[3:])], items)
    cosine = np.array([[i @ t / np.linalg.norm(i) / np.linalg.norm(t) for t in texts] for i in images])
    assert out.similarity == pytest.approx(cosine, abs=1e-6)
    assert out.text_image.tolist() == [0, 0, 1, 2, 2]
