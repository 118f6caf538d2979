"""pycocoevalcap's BLEU, ROUGE-L and CIDEr-D with the reference side computed once per reference set.

Every cell of a benchmark scores new candidates against the same references (one domain, many variants), and most of
pycocoevalcap's work depends on the references alone: tokenizing them, BLEU's clipped reference counts
(``cook_refs``), CIDEr-D's document frequencies and reference tf-idf vectors. :class:`ReferenceSide` keeps that work
for a reference set (a small LRU keyed on the references' content) and :func:`bleu`, :func:`cider` and
:func:`rouge_l` run the candidate side with pycocoevalcap's own functions, or with line-for-line copies of them where
pycocoevalcap keeps them in a closure or a method, or to share work between the metrics (CIDEr-D's ``counts2vec``
and ``sim``: :mod:`vleval_metrics.coco_cider`; BLEU's ``cook_test`` and ``BleuScorer.compute_score`` with option
``closest``), in the same floating-point order (Python floats: the same IEEE doubles as numpy's float64). ROUGE-L's
longest common subsequences come from a bit-parallel algorithm (Hyyrö 2004, :mod:`vleval_metrics.coco_rouge`)
instead of the quadratic table, all references of an image at once: integers, so the score is unchanged.

Candidates repeat (the same caption for many images, the same (image, caption) in many cells), so the side also keeps
what a tokenized candidate gives under its references: per caption its n-gram counts and tf-idf vector, per (image,
caption) BLEU's integer statistics and per-image values, the CIDEr-D and the ROUGE-L value of that image. Each of
those is a function of the references and the caption alone, computed by the same operations on a hit as on a miss;
the corpus values are then formed from them in pycocoevalcap's order. ``tests/plugins/metrics/test_coco_caption.py`` and
``tests/plugins/metrics/test_coco_caches.py`` check every value against pycocoevalcap's scorers bit for bit.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pycocoevalcap.bleu.bleu_scorer import precook
from pycocoevalcap.cider import cider_scorer

from vleval_metrics.coco_cider import N, cider_image, counts2vec
from vleval_metrics.coco_rouge import RougeBits, rouge_bits, rouge_image

BLEU_SMALL, BLEU_TINY = 1e-9, 1e-15  # BleuScorer.compute_score's guards against zero division
_CACHE: OrderedDict[str, ReferenceSide] = OrderedDict()
CACHE_SIZE = 8
#: entries a reference side keeps per candidate cache before starting it afresh (bounds memory, not results)
CANDIDATE_CACHE_SIZE = 100_000


@dataclass
class ReferenceSide:
    """Everything pycocoevalcap derives from one set of tokenized references, image by image, and what candidates
    give under them (caches)."""

    gts: dict[int, list[str]]  # tokenized references
    bleu_reflens: list[tuple[int, ...]]  # bleu_scorer.cook_refs per image: the references' lengths
    ngrams: list[dict[tuple[str, ...], tuple[int, tuple[float, ...]]]]  # per image: every n-gram of its references
    # with BLEU's clipping count (cook_refs' maxcounts) and CIDEr-D's tf-idf weight in each reference (0.0 if absent)
    cider_max_df: float | None  # max(CiderScorer.document_frequency.values()); None when no reference has an n-gram
    cider_idf: dict[tuple[str, ...], float]  # ref_len - np.log(max(1, df)) of every reference n-gram
    cider_idf_unseen: float  # the same for an n-gram no reference has: ref_len - np.log(1.0)
    cider_refs: list[tuple[tuple[tuple[float, ...], int], ...]]  # per image and reference: counts2vec's norms, length
    rouge_bits: list[RougeBits]  # per image: its references for :func:`~vleval_metrics.coco_rouge.lcs_lengths`
    candidates: dict[str, tuple] = field(default_factory=dict)  # tokenized caption -> :func:`_candidate`
    images: dict[tuple[int, str], tuple] = field(default_factory=dict)  # (image, caption) -> :func:`_image`


def reference_side(references: list[list[str]], tokenizer: str,
                   tokenize: Callable[[dict[int, list[str]], str], dict[int, list[str]]]) -> ReferenceSide:
    """The (cached) reference side of ``references`` tokenized with ``tokenizer``.

    ``bleu_scorer.precook`` and ``cider_scorer.precook`` are the same code (n-gram counts of ``s.split()``), so each
    reference is cooked once for both; ``np.log`` of a document frequency is taken once per distinct value."""
    digest = hashlib.sha256(repr((tokenizer, references)).encode()).hexdigest()
    side = _CACHE.get(digest)
    if side is not None:
        _CACHE.move_to_end(digest)
        return side
    gts = tokenize({i: list(refs) for i, refs in enumerate(references)}, tokenizer)
    crefs = [cider_scorer.cook_refs(gts[i], N) for i in range(len(references))]
    doc_freq: dict[tuple[str, ...], float] = defaultdict(float)
    for refs in crefs:  # CiderScorer.compute_doc_freq
        for ngram in set([ngram for ref in refs for (ngram, count) in ref.items()]):
            doc_freq[ngram] += 1
    ref_len = np.log(float(len(crefs)))  # as CiderScorer.compute_cider
    logs: dict[float, Any] = {}
    for df in doc_freq.values():
        if df not in logs:
            logs[df] = np.log(max(1.0, df))
    idf = {ngram: float(ref_len - logs[df]) for ngram, df in doc_freq.items()}
    unseen = float(ref_len - np.log(max(1.0, 0.0)))
    ngrams, cider_refs = [], []
    for refs in crefs:
        table: dict[tuple[str, ...], list] = {}  # n-gram -> [cook_refs' maxcount, weight in each reference]
        norms = []
        for j, ref in enumerate(refs):
            grams, norm, length = counts2vec(ref, idf, unseen)
            norms.append((norm, length))
            for by_n in grams:
                for ngram, term_freq, weight in by_n:
                    entry = table.get(ngram)
                    if entry is None:
                        entry = table[ngram] = [term_freq, [0.0] * len(refs)]
                    elif term_freq > entry[0]:
                        entry[0] = term_freq
                    entry[1][j] = weight
        ngrams.append({ngram: (count, tuple(weights)) for ngram, (count, weights) in table.items()})
        cider_refs.append(tuple(norms))
    side = ReferenceSide(
        gts=gts,
        bleu_reflens=[tuple(len(ref.split()) for ref in gts[i]) for i in range(len(references))],
        ngrams=ngrams,
        cider_max_df=max(doc_freq.values()) if doc_freq else None,
        cider_idf=idf,
        cider_idf_unseen=unseen,
        cider_refs=cider_refs,
        rouge_bits=[rouge_bits([r.split(" ") for r in gts[i]]) for i in range(len(references))],
    )
    _CACHE[digest] = side
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return side


def _candidate(side: ReferenceSide, caption: str) -> tuple:
    """What a tokenized caption gives before it meets an image's references: its length and BLEU's guesses
    (``bleu_scorer.cook_test``); per n its n-grams in the counts' order as (n-gram, count, tf-idf weight), CIDEr-D's
    norms and length (:func:`counts2vec` of ``cider_scorer.cook_test``, the same ``precook``); the tokens ROUGE-L
    splits."""
    testlen, counts = precook(caption, N, True)
    grams, norm, length = counts2vec(counts, side.cider_idf, side.cider_idf_unseen)
    guess = tuple(max(0, testlen - k + 1) for k in range(1, N + 1))
    return testlen, guess, grams, norm, length, tuple(caption.split(" "))


def _image(side: ReferenceSide, i: int, caption: str) -> tuple:
    """Everything image ``i`` contributes with this (tokenized) caption, cached per side: BLEU's (testlen, closest
    reflen, guess, correct, per-image BLEU-1..4), its CIDEr-D and its ROUGE-L."""
    key = (i, caption)
    cached = side.images.get(key)
    if cached is not None:
        return cached
    candidate = side.candidates.get(caption)
    if candidate is None:
        if len(side.candidates) >= CANDIDATE_CACHE_SIZE:
            side.candidates.clear()
        candidate = side.candidates[caption] = _candidate(side, caption)
    testlen, guess, grams, norm, length, tokens = candidate
    table = side.ngrams[i]
    correct = [0] * N
    shared: list[list[tuple[float, tuple[float, ...]]]] = [[] for _ in range(N)]
    for n in range(N):
        matched = 0
        for ngram, count, weight in grams[n]:
            entry = table.get(ngram)
            if entry is not None:  # else no reference has it: 0 clipped matches, 0.0 in every similarity
                matched += min(entry[0], count)
                shared[n].append((weight, entry[1]))
        correct[n] = matched
    reflen = min((abs(ref_len - testlen), ref_len) for ref_len in side.bleu_reflens[i])[1]  # option "closest"
    cached = ((testlen, reflen, guess, tuple(correct), _bleu_image(testlen, reflen, guess, correct)),
              cider_image(shared, norm, length, side.cider_refs[i]), rouge_image(side.rouge_bits[i], tokens))
    if len(side.images) >= CANDIDATE_CACHE_SIZE:
        side.images.clear()
    side.images[key] = cached
    return cached


def bleu(side: ReferenceSide, res: dict[int, list[str]]) -> tuple[list[float], list[list[float]]]:
    """``Bleu(4).compute_score(gts, res)`` (option ``closest``): corpus BLEU-1..4 and per-image values.

    ``BleuScorer.compute_score`` line for line: the per-image values depend on the image's integer statistics alone
    (:func:`_image`), the corpus value on their integer sums."""
    testlen_sum, reflen_sum = 0, 0
    guess_sum, correct_sum = [0] * N, [0] * N
    bleu_list: list[list[float]] = [[] for _ in range(N)]
    for i in range(len(side.bleu_reflens)):
        testlen, reflen, guess, correct, values = _image(side, i, res[i][0])[0]
        testlen_sum += testlen
        reflen_sum += reflen
        for k in range(N):
            guess_sum[k] += guess[k]
            correct_sum[k] += correct[k]
            bleu_list[k].append(values[k])
    bleus = []
    score = 1.
    for k in range(N):
        score *= float(correct_sum[k] + BLEU_TINY) / (guess_sum[k] + BLEU_SMALL)
        bleus.append(score ** (1. / (k + 1)))
    ratio = (testlen_sum + BLEU_TINY) / (reflen_sum + BLEU_SMALL)
    if ratio < 1:
        for k in range(N):
            bleus[k] *= math.exp(1 - 1 / ratio)
    return bleus, bleu_list


def _bleu_image(testlen: int, reflen: int, guess: tuple[int, ...], correct: list[int]) -> tuple[float, ...]:
    """One image's BLEU-1..4 as ``BleuScorer.compute_score`` appends them to ``bleu_list``."""
    values = []
    score = 1.
    for k in range(N):
        score *= (float(correct[k]) + BLEU_TINY) / (float(guess[k]) + BLEU_SMALL)
        values.append(score ** (1. / (k + 1)))
    ratio = (testlen + BLEU_TINY) / (reflen + BLEU_SMALL)
    if ratio < 1:
        for k in range(N):
            values[k] *= math.exp(1 - 1 / ratio)
    return tuple(values)


def cider(side: ReferenceSide, res: dict[int, list[str]]) -> tuple[Any, np.ndarray]:
    """``Cider().compute_score(gts, res)``: CIDEr-D, the mean and per-image values (:func:`_image`)."""
    if side.cider_max_df is None:
        raise ValueError("max() arg is an empty sequence")  # CiderScorer.compute_score's assert, no reference n-gram
    assert len(res) >= side.cider_max_df  # as CiderScorer.compute_score
    scores = [_image(side, i, res[i][0])[1] for i in range(len(side.cider_refs))]
    return np.mean(np.array(scores)), np.array(scores)


def rouge_l(side: ReferenceSide, res: dict[int, list[str]]) -> tuple[Any, np.ndarray]:
    """``Rouge().compute_score(gts, res)``: ROUGE-L F (beta 1.2), the mean and per-image values (:func:`_image`)."""
    scores = [_image(side, i, res[i][0])[2] for i in range(len(side.rouge_bits))]
    average = np.mean(np.array(scores))
    return average, np.array(scores)
