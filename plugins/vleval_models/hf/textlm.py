"""The plain-text protocol (:class:`vleval.api.TextLM`) for a transformers model: raw text, no chat template, no image.

:class:`TextLMMixin` gives :class:`~vleval_models.hf.model.HFModel` ``max_length``, ``loglikelihood``,
``loglikelihood_rolling`` and ``generate_until`` in lm-eval's conventions, on top of three primitives of its host.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from PIL.Image import Image


def continuation_logprob(forward: Callable[..., Any], batch: Any, cont: Sequence[int]) -> tuple[float, bool]:
    """Log-probability of ``cont`` after a batch-of-one prompt, and whether it is the greedy continuation.

    ``forward(batch)`` runs the model; every ``[1, seq]`` tensor of ``batch`` is extended by ``len(cont)`` positions
    (the tokens, a mask of ones, zeros for other per-token inputs).
    """
    n = len(cont)
    extended = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.dim() == 2 and value.shape[1] == batch["input_ids"].shape[1]:
            if key == "input_ids":
                tail = torch.tensor([list(cont)], dtype=value.dtype, device=value.device)
            elif key == "attention_mask":
                tail = torch.ones(1, n, dtype=value.dtype, device=value.device)
            else:
                tail = torch.zeros(1, n, dtype=value.dtype, device=value.device)
            extended[key] = torch.cat([value, tail], dim=1)
        else:
            extended[key] = value
    logits = forward(extended).logits[0, -n - 1:-1].float()
    logp = torch.log_softmax(logits, dim=-1)
    target = torch.tensor(list(cont), device=logp.device)
    total = float(logp.gather(1, target[:, None]).sum())
    greedy = bool((logp.argmax(-1) == target).all())
    return total, greedy


class TextLMMixin:
    """Raw-text log-likelihoods and greedy continuations, satisfying :class:`vleval.api.TextLM`.

    The host provides ``config``, ``tokenizer``, ``device``, ``stop_token_ids``, ``_session()`` (around each public
    call), ``_forward(batch)`` and ``_generate_texts(texts, images, budgets, templated)``.
    """

    config: Any
    tokenizer: Any
    device: str
    stop_token_ids: list[int]
    _session: Callable[[], contextlib.AbstractContextManager[None]]
    _forward: Callable[..., Any]
    _generate_texts: Callable[[Sequence[str], Sequence[Image | None], Sequence[int], bool], list[str]]

    @property
    def max_length(self) -> int:
        """Longest token sequence a plain-text request may feed the model at once."""
        text = self.config.get_text_config() if hasattr(self.config, "get_text_config") else self.config
        limit = getattr(text, "max_position_embeddings", None) or 2048
        tok_limit = getattr(self.tokenizer, "model_max_length", None)
        return int(min(limit, tok_limit)) if isinstance(tok_limit, int) and tok_limit < 10**9 else int(limit)

    def _prefix_token(self) -> int:
        bos = self.tokenizer.bos_token_id
        return int(bos if bos is not None else self.stop_token_ids[0])

    def loglikelihood_tokens(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[tuple[float, bool]]:
        """``(sum log p(continuation | context), is greedy)`` per pair of token lists (context left-truncated)."""
        out = []
        with self._session():
            for context, cont in pairs:
                context = list(context) or [self._prefix_token()]
                keep = max(self.max_length - len(cont), 1)
                ids = context[-keep:]
                batch = {
                    "input_ids": torch.tensor([ids], device=self.device),
                    "attention_mask": torch.ones(1, len(ids), dtype=torch.long, device=self.device),
                }
                out.append(continuation_logprob(self._forward, batch, list(cont)))
        return out

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        """``(sum log p(continuation | context), is greedy)`` per request, on raw text (no chat template)."""
        pairs = []
        for context, continuation in requests:
            spaces = len(context) - len(context.rstrip())
            if spaces:  # lm-eval convention: trailing context whitespace belongs to the continuation
                context, continuation = context[:-spaces], context[-spaces:] + continuation
            whole = self.tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
            ctx = self.tokenizer(context, add_special_tokens=False)["input_ids"] if context else []
            n = max(len(whole) - len(ctx), 1)
            pairs.append((whole[:-n], whole[-n:]))
        return self.loglikelihood_tokens(pairs)

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        """Sum of log p over every token of each text, in windows of :attr:`max_length` (first token after BOS)."""
        out = []
        for text in texts:
            tokens = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            pairs, done, n = [], 0, self.max_length
            while done < len(tokens):
                end = min(done + n, len(tokens))
                context = [self._prefix_token()] if done == 0 else tokens[max(0, end - n - 1):done]
                pairs.append((context, tokens[done:end]))
                done = end
            out.append(sum(lp for lp, _ in self.loglikelihood_tokens(pairs)))
        return out

    def generate_until(self, contexts: Sequence[str], until: Sequence[Sequence[str]], max_new_tokens: int) -> list[str]:
        """Greedy continuations of raw-text contexts, cut at the first stop string."""
        with self._session():
            n = len(contexts)
            texts = self._generate_texts(list(contexts), [None] * n, [max_new_tokens] * n, False)
        out = []
        for text, stops in zip(texts, until, strict=True):
            cut = min((text.find(s) for s in stops if s and s in text), default=len(text))
            out.append(text[:cut])
        return out
