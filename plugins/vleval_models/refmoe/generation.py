"""Greedy and beam-search decoding of :class:`~vleval_models.refmoe.decoder.CaptionDecoder` with a key/value cache.

Phases are marked for the core's latency recorder (:func:`vleval.api.phase`): ``prefill`` (the prefix, producing
each sequence's first word; tokens = sequences) and one ``decode`` span per step (tokens = the words produced by
the sequences still generating). ``on_phase(name)`` is told the phase before each forward pass, so routing events
can be tagged with it. Sequence scores are sums of the generated words' log-probabilities (``[EOS]`` included when
generated), without length normalisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from vleval.api import phase
from vleval_models.refmoe.decoder import Cache, CaptionDecoder, reorder


@dataclass
class Generated:
    """One sequence's generated ids (``[EOS]`` included when it was generated) and its log-probability."""

    ids: list[int]
    score: float


#: Logits ``[B, V]``, cache, key validity ``[B, L]`` and next text positions ``[B]`` after a forward pass.
_State = tuple[torch.Tensor, Cache, torch.Tensor, torch.Tensor]


def _prefill(net: CaptionDecoder, image_tokens: torch.Tensor, has_image: torch.Tensor, prompt: torch.Tensor,
             on_phase: Callable[[str], None]) -> _State:
    """The prefix pass, marked as the ``prefill`` phase (tokens = sequences)."""
    with phase("prefill", tokens=prompt.shape[0]):
        on_phase("prefill")
        return net.prefill(image_tokens, has_image, prompt)


def _step(net: CaptionDecoder, tokens: torch.Tensor, pos: torch.Tensor, cache: Cache, key_valid: torch.Tensor,
          live: torch.Tensor, on_phase: Callable[[str], None]) -> _State:
    """One decode step of the ``live`` sequences, marked as a ``decode`` phase: logits, cache, key validity and the
    next positions."""
    with phase("decode", tokens=int(live.sum())):
        on_phase("decode")
        logits, cache, key_valid = net.step(tokens, pos, cache, key_valid, live)
    return logits, cache, key_valid, pos + 1


def _log_probs(logits: torch.Tensor) -> torch.Tensor:
    """Next-word log-probabilities; padding (id 0) is never generated."""
    logits = logits.float().clone()
    logits[:, 0] = float("-inf")
    return torch.log_softmax(logits, dim=-1)


def greedy(net: CaptionDecoder, image_tokens: torch.Tensor, has_image: torch.Tensor, prompt: torch.Tensor,
           max_new: int, eos: int, on_phase: Callable[[str], None] = lambda _: None) -> list[Generated]:
    """Batched greedy decoding: the most likely next word until ``[EOS]`` or ``max_new`` words."""
    b = prompt.shape[0]
    if max_new < 1:
        return [Generated([], 0.0) for _ in range(b)]
    logits, cache, key_valid, pos = _prefill(net, image_tokens, has_image, prompt, on_phase)
    logp = _log_probs(logits)
    best, tok = logp.topk(1, dim=-1)
    tok, score = tok[:, 0], best[:, 0].clone()
    out, lengths = [tok], torch.ones_like(tok)
    live = tok != eos
    for _ in range(1, max_new):
        if not bool(live.any()):
            break
        logits, cache, key_valid, pos = _step(net, tok, pos, cache, key_valid, live, on_phase)
        logp = _log_probs(logits)
        best, nxt = logp.topk(1, dim=-1)
        tok = torch.where(live, nxt[:, 0], torch.full_like(tok, eos))
        score = torch.where(live, score + best[:, 0], score)
        out.append(tok)
        lengths = lengths + live.long()
        live = live & (tok != eos)
    ids = torch.stack(out, dim=1).tolist()
    return [Generated(row[:n], float(s)) for row, n, s in zip(ids, lengths.tolist(), score.tolist(), strict=True)]


def beam_search(net: CaptionDecoder, image_tokens: torch.Tensor, has_image: torch.Tensor, prompt: torch.Tensor,
                max_new: int, eos: int, num_beams: int,
                on_phase: Callable[[str], None] = lambda _: None) -> list[Generated]:
    """Beam search over ``num_beams`` hypotheses per sequence; the best finished (or length-capped) one wins.

    A hypothesis ending in ``[EOS]`` leaves the beam; a sequence stops when its best finished score is at least its
    best live score (log-probabilities are <= 0, so no live hypothesis can overtake it).
    """
    b, k = prompt.shape[0], int(num_beams)
    if max_new < 1:
        return [Generated([], 0.0) for _ in range(b)]
    logits, cache, key_valid, pos = _prefill(net, image_tokens, has_image, prompt, on_phase)
    vocab = logits.shape[-1]
    scores, tokens = _log_probs(logits).topk(k, dim=-1)  # [b, k]
    rows = torch.arange(b).repeat_interleave(k)
    cache, key_valid, pos = reorder(cache, rows), key_valid[rows], pos[rows]
    seqs: list[list[int]] = [[t] for t in tokens.reshape(-1).tolist()]
    scores, tokens = scores.reshape(-1), tokens.reshape(-1)
    finished: list[list[Generated]] = [[] for _ in range(b)]
    scores = _finish(scores, tokens, seqs, finished, k, eos)
    for _ in range(1, max_new):
        live = torch.isfinite(scores)
        if not bool(live.any()):
            break
        logits, cache, key_valid, pos = _step(net, tokens, pos, cache, key_valid, live, on_phase)
        cand = (scores[:, None] + _log_probs(logits)).view(b, k * vocab)
        scores, flat = cand.topk(k, dim=-1)
        parent = (torch.arange(b)[:, None] * k + flat // vocab).reshape(-1)
        tokens, scores = (flat % vocab).reshape(-1), scores.reshape(-1)
        cache, key_valid = reorder(cache, parent), key_valid[parent]
        seqs = [seqs[p] + [t] for p, t in zip(parent.tolist(), tokens.tolist(), strict=True)]
        scores = _finish(scores, tokens, seqs, finished, k, eos)
    for i, (s, seq) in enumerate(zip(scores.tolist(), seqs, strict=True)):
        if s != float("-inf"):
            finished[i // k].append(Generated(seq, s))  # length-capped hypotheses compete too
    return [max(done, key=lambda g: g.score) for done in finished]


def _finish(scores: torch.Tensor, tokens: torch.Tensor, seqs: list[list[int]], finished: list[list[Generated]],
            k: int, eos: int) -> torch.Tensor:
    """Move hypotheses that generated ``[EOS]`` to ``finished``; kill beams that cannot beat a finished one."""
    scores = scores.clone()
    for i in torch.nonzero((tokens == eos) & torch.isfinite(scores)).flatten().tolist():
        finished[i // k].append(Generated(seqs[i], float(scores[i])))
        scores[i] = float("-inf")
    for j, done in enumerate(finished):
        if done:
            best = max(g.score for g in done)
            group = scores[j * k:(j + 1) * k]
            group[group <= best] = float("-inf")
    return scores


@torch.inference_mode()
def sequence_scores(net: CaptionDecoder, image_tokens: torch.Tensor, has_image: torch.Tensor, prompt: torch.Tensor,
                    sequences: list[list[int]]) -> list[float]:
    """Log-probability of given generated sequences (teacher forcing, one sequence at a time)."""
    out = []
    for i, seq in enumerate(sequences):
        logits, cache, key_valid, pos = net.prefill(image_tokens[i:i + 1], has_image[i:i + 1], prompt[i:i + 1])
        total = 0.0
        for j, t in enumerate(seq):
            total += float(_log_probs(logits)[0, t])
            if j + 1 < len(seq):
                step = torch.tensor([t])
                logits, cache, key_valid = net.step(step, pos, cache, key_valid, torch.ones(1, dtype=torch.bool))
                pos = pos + 1
        out.append(total)
    return out
