"""The two multiple-choice strategies: option-letter log-likelihood after the prompt, or generation + extraction."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from vleval.api import extract_choice, mc_prompt
from vleval_models.hf.prompting import Prompter, image_groups
from vleval_models.hf.textlm import continuation_logprob

if TYPE_CHECKING:
    from PIL.Image import Image
    from torch import nn

    from vleval.api import MCItem

#: ``(prompt strings, images, per-prompt token budgets, templated) -> generated texts``
GenerateTexts = Callable[[Sequence[str], Sequence["Image | None"], Sequence[int], bool], list[str]]


def keep_last_logits(model: nn.Module) -> dict[str, Any]:
    """Forward kwargs that compute the logits of the last position only, where the model supports it."""
    params = inspect.signature(model.forward).parameters
    return {"logits_to_keep": 1} if "logits_to_keep" in params else {}


def score_by_generation(
    items: Sequence[MCItem], prompter: Prompter, generate_texts: GenerateTexts, budget: int
) -> list[list[float]]:
    """1 for the option letter extracted from the greedy answer (:func:`vleval.api.extract_choice`), 0 elsewhere."""
    images = [item.image for item in items]
    texts, templated = prompter.chats([mc_prompt(item) for item in items], images)
    answers = generate_texts(texts, images, [budget] * len(items), templated)
    scores = []
    for item, answer in zip(items, answers, strict=True):
        choice = extract_choice(answer, item.options)
        scores.append([1.0 if k == choice else 0.0 for k in item.options])
    return scores


def score_by_loglikelihood(
    items: Sequence[MCItem], prompter: Prompter, model: nn.Module, forward: Callable[..., Any]
) -> list[list[float]]:
    """log p(option letter | prompt) per option; single-token letters from one batched forward."""
    images = [item.image for item in items]
    texts, templated = prompter.chats([mc_prompt(item) for item in items], images)
    tokenizer = prompter.tokenizer
    scores: list[list[float]] = [[] for _ in items]
    for group in image_groups(images):
        batch = prompter.encode([texts[i] for i in group], [images[i] for i in group], templated, "left")
        logits = forward(batch, **keep_last_logits(model)).logits[:, -1].float()
        logp = torch.log_softmax(logits, dim=-1)
        for row, i in enumerate(group):
            for letter in items[i].options:
                cont = tokenizer(letter, add_special_tokens=False)["input_ids"]
                if len(cont) == 1:
                    scores[i].append(float(logp[row, cont[0]]))
                else:
                    single = prompter.encode([texts[i]], [images[i]], templated, "left")
                    scores[i].append(continuation_logprob(forward, single, cont)[0])
    return scores
