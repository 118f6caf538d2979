"""pycocoevalcap's BLEU, ROUGE-L and CIDEr-D with the reference side computed once per reference set.

Every cell of a benchmark scores new candidates against the same references (one domain, many variants), and most of
pycocoevalcap's work depends on the references alone: tokenizing them, BLEU's clipped reference counts
(``cook_refs``), CIDEr-D's document frequencies and reference tf-idf vectors. :class:`ReferenceSide` keeps that work
for a reference set (a small LRU keyed on the references' content) and :func:`score` runs the candidate side with
pycocoevalcap's own functions, or with a line-for-line copy of them where pycocoevalcap keeps them in a closure
(CIDEr-D's ``counts2vec`` and ``sim``), in the same floating-point order. ROUGE-L's longest common subsequence comes
from a bit-parallel algorithm (Hyyrö 2004) instead of the quadratic table: an integer, so the score is unchanged.
``tests/test_coco_caption.py`` checks every value against pycocoevalcap's scorers bit for bit.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

N = 4  # n-gram order of BLEU and CIDEr-D
SIGMA = 6.0  # CIDEr-D's Gaussian length penalty
ROUGE_BETA = 1.2  # pycocoevalcap's Rouge().beta
_CACHE: OrderedDict[str, ReferenceSide] = OrderedDict()
CACHE_SIZE = 8


@dataclass
class ReferenceSide:
    """Everything pycocoevalcap derives from one set of tokenized references, image by image."""

    gts: dict[int, list[str]]  # tokenized references
    bleu_crefs: list[Any]  # bleu_scorer.cook_refs per image
    cider_doc_freq: dict[tuple[str, ...], float]
    cider_idf: dict[tuple[str, ...], Any]  # ref_len - np.log(max(1, df)) of every reference n-gram (np.float64)
    cider_idf_unseen: Any  # the same for an n-gram no reference has: ref_len - np.log(1.0)
    cider_ref_vecs: list[list[tuple[list[dict], list[Any], int]]]  # counts2vec of every reference
    cider_ref_ngrams: list[list[set]]  # per image and n, the n-grams of any of its references
    rouge_refs: list[list[list[str]]]  # reference.split(" ") as Rouge.calc_score splits


def reference_side(references: list[list[str]], tokenizer: str,
                   tokenize: Callable[[dict[int, list[str]], str], dict[int, list[str]]]) -> ReferenceSide:
    """The (cached) reference side of ``references`` tokenized with ``tokenizer``."""
    digest = hashlib.sha256(repr((tokenizer, references)).encode()).hexdigest()
    side = _CACHE.get(digest)
    if side is not None:
        _CACHE.move_to_end(digest)
        return side
    from pycocoevalcap.bleu import bleu_scorer
    from pycocoevalcap.cider import cider_scorer

    gts = tokenize({i: list(refs) for i, refs in enumerate(references)}, tokenizer)
    crefs = [cider_scorer.cook_refs(gts[i], N) for i in range(len(references))]
    doc_freq: dict[tuple[str, ...], float] = defaultdict(float)
    for refs in crefs:  # CiderScorer.compute_doc_freq
        for ngram in set([ngram for ref in refs for (ngram, count) in ref.items()]):
            doc_freq[ngram] += 1
    ref_len = np.log(float(len(crefs)))  # as CiderScorer.compute_cider
    idf = {ngram: ref_len - np.log(max(1.0, df)) for ngram, df in doc_freq.items()}
    unseen = ref_len - np.log(max(1.0, 0.0))
    side = ReferenceSide(
        gts=gts,
        bleu_crefs=[bleu_scorer.cook_refs(gts[i]) for i in range(len(references))],
        cider_doc_freq=dict(doc_freq),
        cider_idf=idf,
        cider_idf_unseen=unseen,
        cider_ref_vecs=[[_counts2vec(ref, idf, unseen) for ref in refs] for refs in crefs],
        cider_ref_ngrams=[[{g for ref in refs for g in ref if len(g) == n + 1} for n in range(N)] for refs in crefs],
        rouge_refs=[[r.split(" ") for r in gts[i]] for i in range(len(references))],
    )
    _CACHE[digest] = side
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return side


def bleu(side: ReferenceSide, res: dict[int, list[str]]) -> tuple[list[float], list[list[float]]]:
    """``Bleu(4).compute_score(gts, res)`` (option ``closest``): corpus BLEU-1..4 and per-image values."""
    from pycocoevalcap.bleu.bleu_scorer import BleuScorer, cook_test

    scorer = BleuScorer(n=N)
    scorer.crefs = list(side.bleu_crefs)
    scorer.ctest = [cook_test(res[i][0], crefs) for i, crefs in enumerate(side.bleu_crefs)]
    return scorer.compute_score(option="closest", verbose=0)


def cider(side: ReferenceSide, res: dict[int, list[str]]) -> tuple[Any, np.ndarray]:
    """``Cider().compute_score(gts, res)``: CIDEr-D, the mean and per-image values.

    A candidate n-gram that none of the image's references has adds exactly ``min(h, 0) * 0 = 0.0`` to every
    similarity (tf-idf weights are >= 0), so only the shared ones are visited, in the candidate's order; the sum over
    references is kept per n in Python floats, as the float64 array ``score`` adds them."""
    from pycocoevalcap.cider.cider_scorer import cook_test

    assert len(res) >= max(side.cider_doc_freq.values())  # as CiderScorer.compute_score
    scores = []
    for i, ref_vecs in enumerate(side.cider_ref_vecs):
        vec, norm, length = _counts2vec(cook_test(res[i][0]), side.cider_idf, side.cider_idf_unseen)
        known = side.cider_ref_ngrams[i]
        shared = [[(g, h) for g, h in vec[n].items() if g in known[n]] for n in range(N)]
        score = [0.0] * N
        for vec_ref, norm_ref, length_ref in ref_vecs:
            for n, value in enumerate(_sim(shared, vec_ref, norm, norm_ref, length, length_ref)):
                score[n] += value
        score_avg = np.mean(np.array(score))
        score_avg /= len(ref_vecs)
        score_avg *= 10.0
        scores.append(score_avg)
    return np.mean(np.array(scores)), np.array(scores)


def rouge_l(side: ReferenceSide, res: dict[int, list[str]]) -> tuple[Any, np.ndarray]:
    """``Rouge().compute_score(gts, res)``: ROUGE-L F (beta 1.2), the mean and per-image values."""
    scores = []
    for i, refs in enumerate(side.rouge_refs):
        token_c = res[i][0].split(" ")
        prec, rec = [], []
        for token_r in refs:
            lcs = lcs_length(token_r, token_c)
            prec.append(lcs / float(len(token_c)))
            rec.append(lcs / float(len(token_r)))
        prec_max, rec_max = max(prec), max(rec)
        if prec_max != 0 and rec_max != 0:
            score = ((1 + ROUGE_BETA ** 2) * prec_max * rec_max) / float(rec_max + ROUGE_BETA ** 2 * prec_max)
        else:
            score = 0.0
        scores.append(score)
    average = np.mean(np.array(scores))
    return average, np.array(scores)


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


def _counts2vec(cnts: dict, idf: dict, unseen: Any) -> tuple[list[dict], list[float], int]:
    """CiderScorer.compute_cider's ``counts2vec``: ``float(term_freq) * (ref_len - np.log(max(1.0, df)))`` per n-gram
    (the idf factor looked up, the same float64), norms summed in the same order; values as Python floats (the same
    IEEE doubles as numpy's float64 scalars, and faster to combine in :func:`_sim`)."""
    vec: list[dict] = [{} for _ in range(N)]
    length = 0
    norm = [0.0 for _ in range(N)]
    for (ngram, term_freq) in cnts.items():
        n = len(ngram) - 1
        value = float(term_freq) * idf.get(ngram, unseen)
        vec[n][ngram] = float(value)
        norm[n] += pow(value, 2)
        if n == 1:
            length += term_freq
    return vec, [float(np.sqrt(n)) for n in norm], length


def _sim(shared: list[list[tuple]], vec_ref: list[dict], norm_hyp: list[float], norm_ref: list[float],
         length_hyp: int, length_ref: int) -> list[float]:
    """CiderScorer.compute_cider's ``sim`` over the candidate's ``shared`` n-grams ``[(ngram, weight)]`` per n:
    clipped cosine per n, times the Gaussian length penalty (sums in pycocoevalcap's order, in Python floats: IEEE
    double arithmetic like its float64 array)."""
    delta = float(length_hyp - length_ref)
    penalty = np.e ** (-(delta ** 2) / (2 * SIGMA ** 2))
    val = [0.0] * N
    for n in range(N):
        ref = vec_ref[n]
        acc = 0.0
        for ngram, h in shared[n]:
            r = ref.get(ngram, 0.0)
            acc += min(h, r) * r
        if (norm_hyp[n] != 0) and (norm_ref[n] != 0):
            acc /= (norm_hyp[n] * norm_ref[n])
        assert not math.isnan(acc)
        val[n] = acc * penalty
    return val
