"""ROUGE-L as pycocoevalcap's ``Rouge.calc_score`` computes it, with the longest common subsequences from a
bit-parallel algorithm (Hyyrö 2004) instead of the quadratic table, all references of an image at once: integers, so
the score is unchanged."""

from __future__ import annotations

from collections.abc import Sequence

ROUGE_BETA = 1.2  # pycocoevalcap's Rouge().beta
#: references side by side in one bit vector: token -> positions, all non-guard bits, per reference (offset, mask,
#: length); see :func:`rouge_bits`
RougeBits = tuple[dict[str, int], int, tuple[tuple[int, int, int], ...]]


def rouge_image(bits: RougeBits, token_c: Sequence[str]) -> float:
    """``Rouge.calc_score`` of one candidate's tokens against an image's references."""
    prec, rec = [], []
    for lcs, (_, _, length_r) in zip(lcs_lengths(bits, token_c), bits[2], strict=True):
        prec.append(lcs / float(len(token_c)))
        rec.append(lcs / float(length_r))
    prec_max, rec_max = max(prec), max(rec)
    if prec_max != 0 and rec_max != 0:
        return ((1 + ROUGE_BETA ** 2) * prec_max * rec_max) / float(rec_max + ROUGE_BETA ** 2 * prec_max)
    return 0.0


def rouge_bits(refs: list[list[str]]) -> RougeBits:
    """References laid side by side in one bit vector, each followed by a guard bit: per token the positions where
    it occurs, the mask of all non-guard bits, and per reference (offset, mask, length)."""
    masks: dict[str, int] = {}
    segments = []
    offset = 0
    for ref in refs:
        for i, token in enumerate(ref):
            masks[token] = masks.get(token, 0) | (1 << (offset + i))
        segments.append((offset, (1 << len(ref)) - 1, len(ref)))
        offset += len(ref) + 1
    full = sum(mask << start for start, mask, _ in segments)
    return masks, full, tuple(segments)


def lcs_lengths(bits: RougeBits, b: Sequence[str]) -> list[int]:
    """Length of the longest common subsequence of ``b`` with each reference of :func:`rouge_bits`.

    :func:`lcs_length`'s steps on all references at once: ``u`` is a subset of ``v``, so ``v - u`` borrows nowhere,
    and a carry out of a reference stops in its guard bit (0 in ``v`` and ``u``), cleared by the mask."""
    masks, full, segments = bits
    v = full
    for token in b:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return [length - ((v >> start) & mask).bit_count() for start, mask, length in segments]


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (bit-parallel, Hyyrö 2004)."""
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()
