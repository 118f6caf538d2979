"""COCO caption metrics: pycocoevalcap's numbers, checked against values worked out independently here."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from vleval.api import CaptionOutputs
from vleval_metrics.coco_caption import CocoCaption, java_available, python_ptb_tokenize, tokenize

CANDIDATES = ["a dog runs on the grass", "two cats sleep on a red sofa", "a man rides a bike"]
REFERENCES = [
    ["a dog is running on the grass", "the brown dog runs across a lawn"],
    ["two cats are sleeping on the sofa", "a pair of cats sleep on a red couch"],
    ["a person riding a bicycle down the street", "a man rides his bike"],
]


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def ref_cider_d(cands: list[str], refs: list[list[str]], sigma: float = 6.0) -> list[float]:
    """CIDEr-D from its definition (Vedantam et al. 2015, as in pycocoevalcap): tf-idf n-gram vectors with idf over
    the evaluated images' references, clipped candidate counts, a Gaussian length penalty, x10."""
    per_image = [[[_ngrams(r.split(), n) for n in range(1, 5)] for r in rs] for rs in refs]
    df = Counter()
    for image in per_image:
        for n in range(4):
            df.update({g for ref in image for g in ref[n]})
    log_n = math.log(float(len(refs)))

    def vec(counts: Counter) -> tuple[dict, float]:
        v = {g: c * (log_n - math.log(max(1.0, df[g]))) for g, c in counts.items()}
        return v, math.sqrt(sum(x * x for x in v.values()))

    scores = []
    for cand, image, texts in zip(cands, per_image, refs, strict=True):
        words = cand.split()
        total = 0.0
        for ref_grams, ref_text in zip(image, texts, strict=True):
            delta = len(words) - len(ref_text.split())
            sim = 0.0
            for n in range(4):
                vc, nc = vec(_ngrams(words, n + 1))
                vr, nr = vec(ref_grams[n])
                dot = sum(min(vc[g], vr[g]) * vr[g] for g in vc if g in vr)
                if nc and nr:
                    sim += dot / (nc * nr) * math.exp(-(delta ** 2) / (2 * sigma ** 2))
            total += sim / 4
        scores.append(10.0 * total / len(image))
    return scores


def ref_rouge_l(cand: str, refs: list[str], beta: float = 1.2) -> float:
    def lcs(a: list[str], b: list[str]) -> int:
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
        return table[-1][-1]

    words = cand.split()
    precision = max(lcs(words, r.split()) / len(words) for r in refs)
    recall = max(lcs(words, r.split()) / len(r.split()) for r in refs)
    return (1 + beta ** 2) * precision * recall / (recall + beta ** 2 * precision) if precision and recall else 0.0


def metric() -> CocoCaption:
    return CocoCaption(tokenizer="python", meteor=False)


def test_cider_d_and_rouge_l_match_their_definitions():
    m = metric()
    values = m.compute(CaptionOutputs(predictions=CANDIDATES, references=REFERENCES))
    cider = ref_cider_d(CANDIDATES, REFERENCES)
    rouge = [ref_rouge_l(c, r) for c, r in zip(CANDIDATES, REFERENCES, strict=True)]
    assert m.per_image()["cider"] == pytest.approx([100 * s for s in cider], rel=1e-9)
    assert values["cider"].value == pytest.approx(100 * sum(cider) / 3, rel=1e-9)
    assert m.per_image()["rouge_l"] == pytest.approx([100 * s for s in rouge], rel=1e-9)
    assert values["rouge_l"].value == pytest.approx(100 * sum(rouge) / 3, rel=1e-9)
    assert values["cider"].ci_low < values["cider"].value < values["cider"].ci_high


def test_bleu_is_a_corpus_value_with_the_closest_reference_length():
    """By hand: one candidate 'a cat sits' (3 words, all matched as 1-grams) against 'a cat sits on a mat' (6)."""
    values = metric().compute(CaptionOutputs(predictions=["a cat sits"], references=[["a cat sits on a mat"]]))
    assert values["bleu_1"].value == pytest.approx(100 * math.exp(1 - 6 / 3), rel=1e-6)
    # two images: corpus statistics are summed, so BLEU-1 is not the mean of the per-image values
    two = metric().compute(CaptionOutputs(predictions=["a cat sits", "the dog"],
                                          references=[["a cat sits on a mat"], ["the dog"]]))
    matched, total, cand_len, ref_len = 3 + 2, 3 + 2, 5, 6 + 2
    assert two["bleu_1"].value == pytest.approx(100 * matched / total * math.exp(1 - ref_len / cand_len), rel=1e-6)


def test_python_tokenizer_lowercases_splits_contractions_and_drops_punctuation():
    assert python_ptb_tokenize("A man's dog, running -- fast!") == "a man 's dog running fast"
    # PTB's bracket escapes survive pycocoevalcap's filter once lower-cased (a quirk of the reference, kept)
    assert python_ptb_tokenize("They don't (really) sleep.") == "they do n't -lrb- really -rrb- sleep"
    assert python_ptb_tokenize('a "stop" sign') == "a stop sign"
    assert python_ptb_tokenize("A well-known 3.5 km road") == "a well-known 3.5 km road"


@pytest.mark.slow
@pytest.mark.skipif(not java_available(), reason="pycocoevalcap's PTBTokenizer and METEOR need Java")
def test_python_tokenizer_agrees_with_the_ptb_tokenizer_on_captions():
    captions = {i: [c] for i, c in enumerate(CANDIDATES + [r for rs in REFERENCES for r in rs] + [
        "A man's dog, running -- fast!", "They don't (really) sleep.", "Two people; one holding a sign: \"STOP\"?",
    ])}
    assert tokenize(captions, "python") == tokenize(captions, "ptb")


@pytest.mark.slow
@pytest.mark.skipif(not java_available(), reason="METEOR needs Java")
def test_meteor_runs_with_java_and_ranks_a_closer_caption_higher():
    m = CocoCaption(tokenizer="ptb")
    values = m.compute(CaptionOutputs(predictions=["a dog is running on the grass", "a red sofa"],
                                      references=REFERENCES[:2]))
    assert m.describe()["tokenizer"] == "ptb" and "meteor" not in m.describe()["unavailable"]
    exact, poor = m.per_image()["meteor"]
    assert 0 < poor < exact <= 100 and 0 < values["meteor"].value <= 100


def test_spice_and_missing_meteor_are_reported_with_their_reason():
    described = metric().describe()
    assert "never downloads" in described["unavailable"]["spice"]
    assert described["unavailable"]["meteor"] == "disabled by the metric arguments"
    assert described["tokenizer"] == "python"


def test_bad_arguments_and_inputs_are_refused():
    with pytest.raises(ValueError, match="tokenizer must be one of"):
        CocoCaption(tokenizer="nltk")
    with pytest.raises(ValueError, match="none for items \\[1\\]"):
        metric().compute(CaptionOutputs(predictions=["a", "b"], references=[["a"], []]))


def _random_captions(seed: int, images: int) -> tuple[list[str], list[list[str]]]:
    import random

    rng = random.Random(seed)
    words = ["a", "the", "dog", "cat", "man", "woman", "red", "blue", "runs", "sits", "on", "in", "of", "near",
             "small", "large", "grass", "street", ",", ".", "two"]
    sentence = lambda: " ".join(rng.choice(words) for _ in range(rng.randint(0, 12)))  # noqa: E731 - may be empty
    refs = [[sentence() or "a" for _ in range(rng.randint(1, 5))] for _ in range(images)]
    return [sentence() for _ in range(images)], refs


@pytest.mark.parametrize("seed", range(6))
def test_reused_reference_side_is_bit_identical_to_pycocoevalcap(seed):
    """The reference side computed once and reused (coco_reuse) gives exactly pycocoevalcap's floats, also when the
    same references are scored again with other candidates (the cached path), empty candidates included."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    from vleval_metrics import coco_reuse

    cands, refs = _random_captions(seed, images=40)
    other, _ = _random_captions(seed + 100, images=40)
    for candidates in (cands, other, cands):  # later passes read the cached side; the third, cached candidates
        side = coco_reuse.reference_side(refs, "python", tokenize)
        gts = tokenize({i: r for i, r in enumerate(refs)}, "python")
        res = tokenize({i: [c] for i, c in enumerate(candidates)}, "python")
        assert coco_reuse.bleu(side, res) == Bleu(4).compute_score(gts, res, verbose=0)
        for ours, theirs in ((coco_reuse.cider, Cider()), (coco_reuse.rouge_l, Rouge())):
            mean, per_image = ours(side, res)
            ref_mean, ref_per_image = theirs.compute_score(gts, res)
            assert mean == ref_mean and per_image.tolist() == ref_per_image.tolist()


def test_bit_parallel_lcs_equals_the_dynamic_programme():
    import random

    from pycocoevalcap.rouge.rouge import my_lcs

    from vleval_metrics.coco_rouge import lcs_length

    rng = random.Random(7)
    for _ in range(2000):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 15))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 15))]
        assert lcs_length(a, b) == my_lcs(a, b)
