"""coco_reuse's caches (per caption, per (image, caption), per raw caption's tokens): the values of a cache hit are
those of a miss and pycocoevalcap's own, bit for bit, also when the same candidates meet other reference sets."""

from __future__ import annotations

import random

import pytest

from vleval.api import CaptionOutputs
from vleval_metrics import coco_caption, coco_reuse, coco_rouge
from vleval_metrics.coco_caption import CocoCaption, python_ptb_tokenize, tokenize

WORDS = ["a", "the", "dog", "cat", "man", "red", "runs", "sits", "on", "in", "near", "grass", "street", ",", ".",
         "two", "small", "Dog"]


def _sentence(rng: random.Random, low: int = 0) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, 14)))


def _references(rng: random.Random, images: int) -> list[list[str]]:
    """Every reference starts with "a": that n-gram has document frequency = images, idf 0.0, weight 0.0."""
    return [["a " + _sentence(rng) for _ in range(rng.randint(1, 5))] + [","] * (i % 7 == 0) for i in range(images)]


def _pycocoevalcap(refs: list[list[str]], candidates: list[str]) -> tuple:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    gts = {i: [python_ptb_tokenize(r) for r in rs] for i, rs in enumerate(refs)}
    res = {i: [python_ptb_tokenize(c)] for i, c in enumerate(candidates)}
    cider_mean, cider_images = Cider().compute_score(gts, res)
    rouge_mean, rouge_images = Rouge().compute_score(gts, res)
    return (Bleu(4).compute_score(gts, res, verbose=0), (cider_mean, cider_images.tolist()),
            (rouge_mean, rouge_images.tolist()))


def _ours(refs: list[list[str]], candidates: list[str]) -> tuple:
    side = coco_reuse.reference_side(refs, "python", tokenize)
    res = tokenize({i: [c] for i, c in enumerate(candidates)}, "python")
    cider_mean, cider_images = coco_reuse.cider(side, res)
    rouge_mean, rouge_images = coco_reuse.rouge_l(side, res)
    return coco_reuse.bleu(side, res), (cider_mean, cider_images.tolist()), (rouge_mean, rouge_images.tolist())


@pytest.fixture(autouse=True)
def _fresh_caches():
    coco_reuse._CACHE.clear()
    coco_caption._TOKENIZED.clear()
    yield
    coco_reuse._CACHE.clear()
    coco_caption._TOKENIZED.clear()


@pytest.mark.parametrize("seed", range(4))
def test_cache_hits_equal_misses_and_pycocoevalcap_across_reference_sets(seed, monkeypatch):
    """Candidates from a small pool (so they repeat across images and calls, empty ones included) scored against
    two reference sets that share half their images, interleaved: every call equals pycocoevalcap with ``==``, and
    a call whose (image, caption) pairs were all seen computes nothing new yet gives the same values again."""
    rng = random.Random(seed)
    images = 30
    refs_a = _references(rng, images)
    refs_b = [r if i % 2 else ["a " + _sentence(rng, 1), "the " + _sentence(rng)] for i, r in enumerate(refs_a)]
    pool = [_sentence(rng) for _ in range(6)] + ["", "A dog, runs!"]
    calls = [[rng.choice(pool) for _ in range(images)] for _ in range(3)]
    computed = []
    real = coco_reuse.cider_image
    monkeypatch.setattr(coco_reuse, "cider_image", lambda *args: computed.append(1) or real(*args))
    first: dict[tuple[int, int], tuple] = {}
    for rounds in range(2):
        for c, candidates in enumerate(calls):
            for r, refs in enumerate((refs_a, refs_b)):
                computed.clear()
                ours = _ours(refs, candidates)
                assert ours == _pycocoevalcap(refs, candidates)
                if rounds == 0:
                    first[c, r] = ours
                else:  # every pair cached: nothing recomputed, the same floats
                    assert not computed and ours == first[c, r]
    sides = list(coco_reuse._CACHE.values())
    assert len(sides) == 2 and all(side.images and side.candidates for side in sides)


def test_a_candidate_seen_with_other_references_is_scored_against_the_new_ones():
    """The same caption for the same image index under two reference sets gets each set's own values."""
    candidates = ["a dog runs on the grass", "two cats sit on a red sofa"]
    refs_a = [["a dog runs on the grass"], ["two cats sit on a red sofa"]]
    refs_b = [["a man sits near the street"], ["a small red car"]]
    for refs in (refs_a, refs_b, refs_a, refs_b):
        assert _ours(refs, candidates) == _pycocoevalcap(refs, candidates)
    assert _ours(refs_a, candidates)[1][0] > _ours(refs_b, candidates)[1][0]


def test_tiny_caches_start_afresh_and_keep_the_values(monkeypatch):
    monkeypatch.setattr(coco_reuse, "CANDIDATE_CACHE_SIZE", 3)
    monkeypatch.setattr(coco_caption, "TOKENIZED_CACHE_SIZE", 3)
    rng = random.Random(11)
    refs = _references(rng, 12)
    for _ in range(3):
        candidates = [_sentence(rng) for _ in range(12)]
        assert _ours(refs, candidates) == _pycocoevalcap(refs, candidates)
    assert all(len(side.images) <= 3 and len(side.candidates) <= 3 for side in coco_reuse._CACHE.values())


def test_metric_values_on_a_cache_hit_equal_those_of_a_fresh_computation():
    rng = random.Random(5)
    refs = _references(rng, 25)
    predictions = [rng.choice(["A dog runs.", "the red cat", "", "two men on the street"]) for _ in range(25)]
    outputs = CaptionOutputs(predictions=predictions, references=refs)
    metric = CocoCaption(tokenizer="python", meteor=False)
    miss = metric.compute(outputs), metric.per_image()
    hit = metric.compute(outputs), metric.per_image()
    coco_reuse._CACHE.clear()
    coco_caption._TOKENIZED.clear()
    fresh = metric.compute(outputs), metric.per_image()
    assert miss == hit == fresh


def test_tokenize_caches_each_caption_and_returns_what_the_tokenizer_does():
    captions = {0: ["A man's dog, running -- fast!", "..."], 1: ["A man's dog, running -- fast!"], 2: ["(Really)"]}
    expected = {k: [python_ptb_tokenize(c) for c in v] for k, v in captions.items()}
    assert tokenize(captions, "python") == expected == tokenize(captions, "python")
    assert expected[0][1] == "" and coco_caption._TOKENIZED["(Really)"] == "-lrb- really -rrb-"


def test_references_side_by_side_give_each_longest_common_subsequence():
    """lcs_lengths (all references in one bit vector with guard bits) against pycocoevalcap's dynamic programme,
    references longer than a machine word and empty tokens included."""
    from pycocoevalcap.rouge.rouge import my_lcs

    rng = random.Random(3)
    for _ in range(500):
        refs = [[rng.choice("abcde") for _ in range(rng.choice([1, 3, 10, 70]))] for _ in range(rng.randint(1, 5))]
        refs[0] = [""] if rng.random() < 0.1 else refs[0]
        cand = [rng.choice(["a", "b", "c", "d", "e", "f", ""]) for _ in range(rng.randint(0, 80))]
        bits = coco_rouge.rouge_bits(refs)
        assert coco_rouge.lcs_lengths(bits, cand) == [my_lcs(ref, cand) for ref in refs]
