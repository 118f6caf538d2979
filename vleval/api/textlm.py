"""The plain-text language-model protocol: what a model offers so that text benchmarks (lm-eval) can run on it.

A model plugin that can score and continue raw text (no chat template, no image) implements these members; the
lm-eval bridge is written against this protocol only. Routing capture is used when the model is also a
:class:`vleval.api.Model` whose :meth:`~vleval.api.Model.info` reports MoE layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class TextLM(Protocol):
    """Log-likelihoods and greedy continuations of raw text, in lm-eval's conventions."""

    @property
    def max_length(self) -> int:
        """Longest token sequence one request may feed the model at once."""
        ...

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        """``(sum log p(continuation | context), whether the continuation is the greedy one)`` per request.

        Trailing whitespace of a context belongs to its continuation (lm-eval's convention); contexts that do not
        fit are truncated on the left.
        """
        ...

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        """Sum of log p over every token of each text (the first conditioned on the model's start token), in
        windows of :attr:`max_length`."""
        ...

    def generate_until(self, contexts: Sequence[str], until: Sequence[Sequence[str]], max_new_tokens: int) -> list[str]:
        """Greedy continuation of each context, cut before the first of its stop strings."""
        ...
