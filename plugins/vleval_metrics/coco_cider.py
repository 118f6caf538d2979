"""CIDEr-D as pycocoevalcap's ``CiderScorer.compute_cider`` computes it, line for line, in Python floats (the same
IEEE doubles as numpy's float64): ``counts2vec`` and one image's ``sim`` against its references, summed and averaged.
"""

from __future__ import annotations

import math

import numpy as np

N = 4  # n-gram order of BLEU and CIDEr-D
SIGMA = 6.0  # CIDEr-D's Gaussian length penalty
_PENALTY: dict[int, float] = {}  # CIDEr-D's length penalty per length difference


def counts2vec(cnts: dict, idf: dict, unseen: float) -> tuple[tuple[tuple[tuple], ...], tuple[float, ...], int]:
    """CiderScorer.compute_cider's ``counts2vec``: ``float(term_freq) * (ref_len - np.log(max(1.0, df)))`` per n-gram
    (the idf factor looked up), norms summed in the same order, in Python floats: the same IEEE double operations as
    on numpy's float64 scalars (``pow`` is C's ``pow`` for both; a square root is correctly rounded in both). The
    vector comes as (n-gram, term frequency, weight) per n, in the counts' order."""
    grams: tuple[list[tuple], ...] = tuple([] for _ in range(N))
    length = 0
    norm = [0.0 for _ in range(N)]
    for (ngram, term_freq) in cnts.items():
        n = len(ngram) - 1
        value = float(term_freq) * idf.get(ngram, unseen)
        grams[n].append((ngram, term_freq, value))
        norm[n] += pow(value, 2)
        if n == 1:
            length += term_freq
    return tuple(tuple(by_n) for by_n in grams), tuple(math.sqrt(n) for n in norm), length


def cider_image(shared: list[list[tuple[float, tuple[float, ...]]]], norm: tuple[float, ...], length: int,
                 refs: tuple[tuple[tuple[float, ...], int], ...]) -> float:
    """CiderScorer.compute_cider's loop body for one image: ``sim`` against each reference, summed per n, averaged.

    ``shared`` holds, per n in the candidate's order, the weight of each candidate n-gram that some reference of the
    image has, with that n-gram's weight in every reference. Any other term of ``sim``'s sum is exactly
    ``min(h, 0.0) * 0.0 = 0.0`` (tf-idf weights are >= 0), and adding it leaves the sum as it is, so it is skipped,
    and so is an n without shared n-grams (its similarity is 0.0: a nonzero norm is at least ``log(N / (N - 1))``,
    so no product of norms underflows to 0.0); the sum over references is kept per n in Python floats, as the
    float64 array ``score`` adds them."""
    score = [0.0] * N
    orders = [n for n in range(N) if shared[n]]  # without a shared n-gram: 0.0 / (positive norms) * penalty = 0.0
    for j, (norm_ref, length_ref) in enumerate(refs):
        penalty = length_penalty(length - length_ref)
        for n in orders:
            acc = 0.0
            for h, weights in shared[n]:
                r = weights[j]
                if r:
                    acc += (r if r < h else h) * r  # min(h, r) * r
            if (norm[n] != 0) and (norm_ref[n] != 0):
                acc /= (norm[n] * norm_ref[n])
            assert acc == acc  # not NaN
            score[n] += acc * penalty
    score_avg = np.mean(np.array(score))
    score_avg /= len(refs)
    score_avg *= 10.0
    return float(score_avg)  # the same double; a Python float is not tracked by the garbage collector


def length_penalty(difference: int) -> float:
    """``sim``'s Gaussian length penalty ``np.e ** (-(delta ** 2) / (2 * sigma ** 2))`` for an integer difference."""
    value = _PENALTY.get(difference)
    if value is None:
        delta = float(difference)
        value = _PENALTY[difference] = np.e ** (-(delta ** 2) / (2 * SIGMA ** 2))
    return value
