"""Test doubles: a tiny numpy MoE "model" over colour features and small generated colour datasets.

They compute real outputs (colour matching really retrieves the right captions) so that runner, records and
leaderboard are tested on honest numbers without loading torch models. Registered in-process or through a
generated ``.dist-info`` entry point.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import zlib

import numpy as np
from PIL import Image

from vleval import hookimpl
from vleval.api import (
    IMAGE,
    TEXT,
    Capability,
    DatasetSpec,
    MCItem,
    MetricValue,
    Model,
    ModelInfo,
    RetrievalItem,
    Shift,
    Task,
)
from vleval.api import Dataset as BaseDataset

VLEVAL_API_VERSION = "1"
COLORS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220), "yellow": (230, 220, 30),
          "purple": (150, 30, 180), "cyan": (30, 210, 210)}


class ToyMoE(Model):
    """Embeds an image as its mean colour and a text as the colour it names; routes colour vectors to experts."""

    capabilities = frozenset({Capability.EMBED, Capability.SCORE_OPTIONS})
    name, version, description = "toy-moe", "0.1.0", "numpy colour-matching MoE test double"

    def __init__(self, experts: int = 4, top_k: int = 2, delay: float = 0.0, fail: bool = False,
                 jitter: float = 0.0, training_seed: int = 0):
        if fail:
            raise RuntimeError("toy model asked to fail")
        self.experts, self.top_k, self.delay, self.jitter = experts, top_k, delay, jitter
        self.router = np.random.default_rng(training_seed).normal(size=(experts, 3))  # "trained" with this seed
        self.keep: dict[int, list[int]] | None = None

    def info(self) -> ModelInfo:
        return ModelInfo(name="toy-moe", architecture="toy", total_params=self.router.size,
                         active_params_per_token=3 * self.top_k, num_layers=2, moe_layers=[0, 1],
                         experts_per_layer=[self.experts] * 2, top_k=self.top_k)

    def _route(self, vectors: np.ndarray, modality: int) -> None:
        for layer in (0, 1):
            logits = vectors @ self.router.T + layer
            k = self.top_k
            if self.keep is not None:
                mask = np.full(self.experts, -np.inf)
                mask[self.keep[layer]] = 0
                logits = logits + mask
                k = min(k, len(self.keep[layer]))  # a pruned expert is never chosen
            chosen = np.argsort(-logits, axis=1, kind="stable")[:, :k]
            self.record_routing(layer, self.experts, chosen, modality)

    def embed_images(self, images):
        if self.delay:
            time.sleep(self.delay)
        vectors = np.stack([np.asarray(im, dtype=np.float32).reshape(-1, 3).mean(0) / 255 for im in images])
        if self.jitter:  # a worse model: deterministic noise on the image embeddings
            vectors = vectors + self.jitter * np.random.default_rng(len(images)).normal(size=vectors.shape)
        self._route(vectors, IMAGE)
        return vectors - 0.4

    def embed_texts(self, texts):
        vectors = np.stack([self._text_vector(t) for t in texts])
        self._route(vectors, TEXT)
        return vectors - 0.4

    @staticmethod
    def _text_vector(text: str) -> np.ndarray:
        for word, rgb in COLORS.items():
            if word in text.lower():
                return np.asarray(rgb, dtype=np.float32) / 255
        return np.full(3, 0.4, dtype=np.float32)

    def score_options(self, items):
        images = self.embed_images([item.image for item in items])
        return [[float(-np.abs(image + 0.4 - self._text_vector(o)).sum()) for o in item.options.values()]
                for image, item in zip(images, items, strict=True)]

    @contextlib.contextmanager
    def scale_experts(self, *, top_k=None, keep_experts=None):
        if top_k is not None and not 1 <= top_k <= self.experts:
            raise ValueError(f"top_k must be in 1..{self.experts}, got {top_k}")
        saved = self.top_k, self.keep
        self.top_k = top_k or self.top_k
        self.keep = keep_experts or None
        try:
            yield
        finally:
            self.top_k, self.keep = saved


class TextOnly(Model):
    capabilities = frozenset({Capability.GENERATE})

    def info(self) -> ModelInfo:
        return ModelInfo(name="toy-text", architecture="toy", total_params=0, active_params_per_token=0,
                         num_layers=0)


def _image(rgb: tuple[int, int, int], noise: float, rng: np.random.Generator) -> Image.Image:
    pixels = np.clip(np.asarray(rgb, dtype=np.float32) + rng.normal(0, noise, size=(8, 8, 3)), 0, 255)
    return Image.fromarray(pixels.astype(np.uint8))


class ColorRetrieval(BaseDataset):
    task = Task.RETRIEVAL

    def __init__(self, n: int = 24, noise: float = 0.0, seed: int = 0, split: str = "test"):
        rng = np.random.default_rng([seed, n, int(noise * 10), zlib.crc32(split.encode())])
        names = list(COLORS)
        self.items = []
        for i in range(n):
            color = names[i % len(names)]
            self.items.append(RetrievalItem(f"{split}-{i}", _image(COLORS[color], noise, rng),
                                            [f"a {color} square", f"{color} patch", f"it is {color}",
                                             f"something {color}", f"the {color} one"]))
        self.id = f"toy-colors:{split}/noise={noise}"
        self._hash = hashlib.sha256(b"".join(it.image.tobytes() for it in self.items)).hexdigest()

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def content_hash(self):
        return self._hash


class ColorQuestions(ColorRetrieval):
    task = Task.MULTIPLE_CHOICE

    def __init__(self, n: int = 12, noise: float = 0.0, seed: int = 0, split: str = "test"):
        super().__init__(n, noise, seed, split)
        names = list(COLORS)
        questions = []
        for i, item in enumerate(self.items):
            color = names[i % len(names)]
            options = [color, *[c for c in names if c != color][:3]]
            for r in range(4):
                rotated = options[r:] + options[:r]
                letters = dict(zip("ABCD", rotated, strict=True))
                answer = next(k for k, v in letters.items() if v == color)
                questions.append(MCItem(index=i + r * 1_000_000, image=item.image, question="Which colour?",
                                        options=letters, answer=answer, category="color"))
        self.items = questions
        self.id = f"toy-questions:{split}/noise={noise}"


class NoiseShift(Shift):
    def __init__(self, dataset: str = "toy-colors", noise: float = 90.0, n: int = 24):
        self.dataset, self.noise, self.n = dataset, noise, n

    def source(self):
        return DatasetSpec(self.dataset, {"n": self.n})

    def target(self):
        return DatasetSpec(self.dataset, {"n": self.n, "noise": self.noise})


@hookimpl
def register_models(register):
    register(ToyMoE)
    register(TextOnly, name="toy-text", version="0.1.0", description="generation-only test double")


@hookimpl
def register_datasets(register):
    register(ColorRetrieval, name="toy-colors", version="0.1.0", description="solid colour squares + captions")
    register(ColorQuestions, name="toy-questions", version="0.1.0", description="colour questions, 4 rotations")


@hookimpl
def register_shifts(register):
    register(NoiseShift, name="toy-noise", version="0.1.0", description="clean -> noisy colour squares")


class MeanRank:
    """A lower-is-better retrieval metric: the mean rank of each caption's image."""

    task = Task.RETRIEVAL
    primary = "mean_rank"
    higher_is_better = False

    def compute(self, outputs):
        sim, owner = outputs.similarity, outputs.text_image
        ranks = [1 + int((sim[:, t] > sim[owner[t], t]).sum()) for t in range(sim.shape[1])]
        return {"mean_rank": MetricValue(value=float(sum(ranks) / len(ranks)))}


class MeanRankPlugin:
    """Registers :class:`MeanRank` as ``aaa-mean-rank``: a third-party metric that is discovered (and sorts) first."""

    @hookimpl
    def register_metrics(self, register):
        register(MeanRank, name="aaa-mean-rank", version="0.1.0", description="mean rank of the right image")
