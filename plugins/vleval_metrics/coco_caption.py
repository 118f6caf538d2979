"""COCO caption metrics exactly as pycocoevalcap computes them: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D.

The scores are pycocoevalcap's (``Bleu(4)`` with option ``closest``: one corpus value from summed n-gram statistics,
not a mean of per-image values; ``Rouge``; ``Cider``, which is CIDEr-D: clipped n-gram counts, Gaussian length
penalty with sigma 6, x10, idf from the evaluated set's references; ``Meteor``, a Java jar, run as it is), bit for
bit: BLEU, ROUGE-L and CIDEr-D through :mod:`vleval_metrics.coco_reuse`, which computes the references' side once
per reference set with pycocoevalcap's own functions or line-for-line copies of them. Captions are tokenized as its
``COCOEvalCap`` does:

- ``tokenizer="ptb"``: pycocoevalcap's ``PTBTokenizer`` (Stanford CoreNLP 3.4.1 in Java, lower-cased, punctuation
  tokens removed); ``"python"``: :func:`python_ptb_tokenize`, a pure-Python approximation of it (same lower-casing,
  contraction splitting and punctuation removal; it differs on rare tokens such as abbreviations with inner dots);
  ``"auto"`` (default) takes ``ptb`` when ``java`` is on the PATH. The tokenizer used is named in the record.
- METEOR needs Java too: without it, ``meteor`` is left out and the record says why. SPICE needs Stanford models
  downloaded at first use, which vleval never does: it is always reported as unavailable, with the reason.

Values are reported x100 (as papers print them: Bleu_4 0.362 -> 36.2, CIDEr 1.205 -> 120.5). Per-image scores
(CIDEr, ROUGE-L, METEOR, and sentence BLEU-4) give the normal 95 % intervals of the means and are kept by
:meth:`CocoCaption.per_image` for paired statistics.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Sequence
from typing import Any

from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from vleval.api import CaptionOutputs, Metric, MetricValue, Task
from vleval_metrics import coco_reuse

TOKENIZERS = ("auto", "ptb", "python")
#: pycocoevalcap's ``PTBTokenizer`` drops these tokens after tokenizing
PUNCTUATIONS = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...",
                ";"}
SPICE_UNAVAILABLE = "SPICE downloads Stanford CoreNLP models at first use; vleval never downloads models"
_CONTRACTION = re.compile(r"(?i)(\w)(n't|'s|'re|'ve|'ll|'d|'m)\b")
_TOKEN = re.compile(r"n't|'(?:s|re|ve|ll|d|m)\b|\w+(?:[-'./]\w+)*|\.\.\.|--|[^\w\s]")
Z95 = 1.959964
#: :func:`python_ptb_tokenize`'s results by caption, started afresh beyond this many
TOKENIZED_CACHE_SIZE = 100_000
_TOKENIZED: dict[str, str] = {}


def java_available() -> bool:
    return shutil.which("java") is not None


#: PTB escapes brackets; with ``-lowerCase`` the escapes come out lower-cased, so pycocoevalcap's punctuation
#: filter (upper-case ``-LRB-``...) never removes them: "(really)" stays "-lrb- really -rrb-", a quirk kept here.
_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}


def python_ptb_tokenize(caption: str) -> str:
    """Lower-cased PTB-style tokens joined by spaces, punctuation tokens removed (``PTBTokenizer``'s output)."""
    text = _CONTRACTION.sub(r"\1 \2", caption.replace("\n", " ").lower())
    tokens = (_BRACKETS.get(t, t) for t in _TOKEN.findall(text) if t != '"')  # quotes become `` and '': dropped
    return " ".join(t for t in tokens if t not in PUNCTUATIONS)


def _tokenized(caption: str) -> str:
    _TOKENIZED[caption] = tokens = python_ptb_tokenize(caption)
    return tokens


def tokenize(captions: dict[int, list[str]], tokenizer: str) -> dict[int, list[str]]:
    """``{image: [caption, ...]}`` tokenized with ``"ptb"`` (Java) or ``"python"`` (each distinct caption once: the
    same captions recur across cells)."""
    if tokenizer == "python":
        if len(_TOKENIZED) > TOKENIZED_CACHE_SIZE:
            _TOKENIZED.clear()
        return {k: [_TOKENIZED.get(c) or _tokenized(c) for c in v] for k, v in captions.items()}
    return PTBTokenizer().tokenize({k: [{"caption": c} for c in v] for k, v in captions.items()})


def _mean_ci(values: Sequence[float], scale: float = 100.0) -> MetricValue:
    n = len(values)
    mean = scale * sum(values) / max(n, 1)
    if n < 2:
        return MetricValue(value=mean)
    var = sum((scale * v - mean) ** 2 for v in values) / (n - 1)
    stderr = math.sqrt(var / n)
    return MetricValue(value=mean, ci_low=mean - Z95 * stderr, ci_high=mean + Z95 * stderr, stderr=stderr)


class CocoCaption(Metric):
    """BLEU-1..4, METEOR, ROUGE-L and CIDEr-D of generated captions, identical to pycocoevalcap."""

    task = Task.CAPTIONING
    primary = "cider"

    def __init__(self, tokenizer: str = "auto", meteor: bool = True):
        if tokenizer not in TOKENIZERS:
            raise ValueError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, not {tokenizer!r}")
        java = java_available()
        if tokenizer == "ptb" and not java:
            raise ValueError("tokenizer='ptb' needs Java ('java' is not on the PATH); use 'python' or 'auto'")
        self.tokenizer = ("ptb" if java else "python") if tokenizer == "auto" else tokenizer
        self.meteor = meteor and java
        self._meteor_note = None if self.meteor else (
            "disabled by the metric arguments" if not meteor else "METEOR needs Java ('java' is not on the PATH)"
        )
        self.scores: dict[str, list[float]] = {}

    def describe(self) -> dict[str, Any]:
        """Settings and unavailable parts, recorded beside the values."""
        unavailable = {"spice": SPICE_UNAVAILABLE}
        if self._meteor_note:
            unavailable["meteor"] = self._meteor_note
        return {"tokenizer": self.tokenizer, "bleu_option": "closest", "scale": 100, "unavailable": unavailable}

    def per_image(self) -> dict[str, list[float]]:
        """Per-image scores of the last :meth:`compute` (x100), in item order, for paired statistics."""
        return self.scores

    def compute(self, outputs: CaptionOutputs) -> dict[str, MetricValue]:
        if len(outputs.predictions) != len(outputs.references):
            raise ValueError(f"{len(outputs.predictions)} predictions for {len(outputs.references)} reference sets")
        empty = [i for i, refs in enumerate(outputs.references) if not refs]
        if empty:
            raise ValueError(f"captioning needs at least one reference per image; none for items {empty[:5]}")
        side = coco_reuse.reference_side([list(refs) for refs in outputs.references], self.tokenizer, tokenize)
        res = tokenize({i: [str(p)] for i, p in enumerate(outputs.predictions)}, self.tokenizer)
        bleu, bleu_images = coco_reuse.bleu(side, res)
        out = {f"bleu_{n + 1}": MetricValue(value=100.0 * bleu[n]) for n in range(4)}
        self.scores = {"bleu_4": [100.0 * s for s in bleu_images[3]]}
        for name, scorer in (("rouge_l", coco_reuse.rouge_l), ("cider", coco_reuse.cider)):
            _, per_image = scorer(side, res)
            self.scores[name] = [100.0 * float(s) for s in per_image]
            out[name] = _mean_ci(per_image)
        if self.meteor:
            scorer = Meteor()
            value, per_image = scorer.compute_score(side.gts, res)
            del scorer  # its __del__ stops the Java process
            self.scores["meteor"] = [100.0 * float(s) for s in per_image]
            out["meteor"] = MetricValue(value=100.0 * float(value))  # the jar's corpus value, not a mean
        return out
