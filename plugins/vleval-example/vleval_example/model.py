"""``example-colour-moe``: an honest, training-free, numpy-only MoE baseline that needs no download.

Images and texts meet in a small *concept space* of colour and texture words:

- an image becomes a grid of patch tokens; each token is the soft histogram of its pixels over fixed colour
  prototypes, plus a striped/plain texture cue from the patch's gradient energy;
- a text becomes one token per word; a word of the fixed vocabulary (colours, their synonyms, texture words) is the
  one-hot vector of its concept, any other word the zero vector.

Every token then passes ``layers`` MoE layers: a fixed, seeded linear router picks the ``top_k`` of ``experts``
experts, and the token is multiplied by the softmax-gated mix of the chosen experts' (seeded, positive, diagonal)
gains. The mean of the tokens is the embedding. Nothing is learned: it retrieves colours and stripes, nothing else.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image

from vleval.api import IMAGE, TEXT, Capability, MCItem, Model, ModelInfo

#: Colour concepts and their RGB prototypes.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "orange": (240, 140, 20), "yellow": (230, 220, 30), "green": (30, 170, 40),
    "cyan": (30, 210, 210), "blue": (30, 60, 220), "purple": (140, 40, 180), "pink": (240, 130, 190),
    "brown": (130, 80, 40), "black": (15, 15, 15), "gray": (128, 128, 128), "white": (240, 240, 240),
}
TEXTURES = ("striped", "plain")
CONCEPTS = (*COLOURS, *TEXTURES)
#: Words that name a concept: each concept's own name plus these synonyms.
SYNONYMS: dict[str, str] = {
    "grey": "gray", "silver": "gray", "violet": "purple", "magenta": "purple", "crimson": "red", "scarlet": "red",
    "navy": "blue", "azure": "blue", "teal": "cyan", "turquoise": "cyan", "lime": "green", "gold": "yellow",
    "golden": "yellow", "rose": "pink", "tan": "brown", "dark": "black",
    "stripe": "striped", "stripes": "striped", "stripy": "striped", "lined": "striped",
    "solid": "plain", "uniform": "plain", "flat": "plain",
}
TEXTURE_WEIGHT = 0.5  # texture dimensions count half as much as colour in the embedding
STRIPE_ENERGY = 0.15  # mean absolute luminance gradient at which a patch counts as fully striped
SOFTNESS = 0.01  # temperature of the soft colour assignment (squared RGB distance, RGB in [0, 1])
WORD = re.compile(r"[a-z]+")


class ColourMoE(Model):
    """Colour/texture histogram image embedder + bag-of-words text embedder, joined by a seeded top-k MoE."""

    capabilities = frozenset({Capability.EMBED, Capability.SCORE_OPTIONS})

    def __init__(self, experts: int = 8, top_k: int = 2, layers: int = 2, grid: int = 4, max_side: int = 64,
                 seed: int = 0) -> None:
        if experts < 1 or layers < 1 or grid < 1 or max_side < 1:
            raise ValueError("experts, layers, grid and max_side must be >= 1")
        if not 1 <= top_k <= experts:
            raise ValueError(f"top_k must be in [1, experts={experts}], got {top_k}")
        self.experts, self.top_k, self.layers, self.grid, self.max_side = experts, top_k, layers, grid, max_side
        dim = len(CONCEPTS)
        self.prototypes = np.asarray(list(COLOURS.values()), dtype=np.float32) / 255  # [colours, 3]
        self.vocabulary = {**{c: c for c in CONCEPTS}, **SYNONYMS}
        words = list(self.vocabulary)
        self.word_index = {w: i for i, w in enumerate(words)}
        self.word_table = np.zeros((len(words), dim), dtype=np.float32)  # [words, concepts], one-hot rows
        for i, word in enumerate(words):
            self.word_table[i, CONCEPTS.index(self.vocabulary[word])] = 1.0
        rng = np.random.default_rng(seed)
        self.routers = rng.normal(size=(layers, experts, dim)).astype(np.float32)
        self.router_bias = rng.normal(scale=0.1, size=(layers, experts)).astype(np.float32)
        self.gains = rng.uniform(0.5, 1.5, size=(layers, experts, dim)).astype(np.float32)  # diagonal experts
        self._keep: dict[int, list[int]] | None = None

    # -- model info -------------------------------------------------------------------------------------------------
    def info(self) -> ModelInfo:
        expert_params = int(self.gains[0].size)  # per layer: experts x concepts
        shared = int(self.prototypes.size + self.word_table.size + self.routers.size + self.router_bias.size)
        return ModelInfo(
            name="example-colour-moe", architecture="colour-histogram + bag-of-words, diagonal-expert MoE (numpy)",
            total_params=shared + self.layers * expert_params,
            active_params_per_token=shared + self.layers * self.top_k * len(CONCEPTS),
            num_layers=self.layers, moe_layers=list(range(self.layers)),
            experts_per_layer=[self.experts] * self.layers, top_k=self.top_k, dtype="float32", device="cpu",
            extra={"concepts": list(CONCEPTS), "vocabulary_size": len(self.vocabulary), "grid": self.grid,
                   "shared_params": shared, "expert_params_per_layer": expert_params},
        )

    # -- tokens -----------------------------------------------------------------------------------------------------
    def image_tokens(self, image: Image.Image) -> np.ndarray:
        """``[grid * grid, concepts]`` patch tokens of one image (fewer grid cells if the image is tinier)."""
        image = image.convert("RGB")
        scale = self.max_side / max(image.size)
        if scale < 1:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.NEAREST)  # keeps stripes crisp
        pixels = np.asarray(image, dtype=np.float32) / 255  # [H, W, 3]
        distance = ((pixels[:, :, None, :] - self.prototypes) ** 2).sum(-1)  # [H, W, colours]
        weights = np.exp(-(distance - distance.min(-1, keepdims=True)) / SOFTNESS)
        weights /= weights.sum(-1, keepdims=True)
        luminance = pixels.mean(-1)
        energy = np.zeros_like(luminance)
        energy[:, 1:] += np.abs(np.diff(luminance, axis=1))
        energy[1:, :] += np.abs(np.diff(luminance, axis=0))
        tokens = []
        rows = np.array_split(np.arange(pixels.shape[0]), min(self.grid, pixels.shape[0]))
        cols = np.array_split(np.arange(pixels.shape[1]), min(self.grid, pixels.shape[1]))
        for r in rows:
            for c in cols:
                patch = np.ix_(r, c)
                striped = min(float(energy[patch].mean()) / STRIPE_ENERGY, 1.0)
                texture = TEXTURE_WEIGHT * np.asarray([striped, 1.0 - striped], dtype=np.float32)
                tokens.append(np.concatenate([weights[patch].reshape(-1, len(COLOURS)).mean(0), texture]))
        return np.stack(tokens).astype(np.float32)

    def text_tokens(self, text: str) -> np.ndarray:
        """``[words, concepts]``: the vocabulary row of each word, zeros for unknown words (one zero token if empty)."""
        rows = [self.word_index.get(w) for w in WORD.findall(text.lower())] or [None]
        zero = np.zeros(len(CONCEPTS), dtype=np.float32)
        return np.stack([self.word_table[i] if i is not None else zero for i in rows])

    # -- the MoE ----------------------------------------------------------------------------------------------------
    def _moe(self, tokens: np.ndarray, modality: int) -> np.ndarray:
        """Route ``[tokens, concepts]`` through every MoE layer, recording each layer's routing."""
        for layer in range(self.layers):
            logits = tokens @ self.routers[layer].T + self.router_bias[layer]  # [tokens, experts]
            k = self.top_k
            if self._keep is not None:  # pruned experts can never be chosen
                mask = np.full(self.experts, -np.inf, dtype=np.float32)
                mask[self._keep[layer]] = 0.0
                logits = logits + mask
                k = min(k, len(self._keep[layer]))
            chosen = np.argsort(-logits, axis=1, kind="stable")[:, :k]  # [tokens, k]
            top = np.take_along_axis(logits, chosen, axis=1)
            gates = np.exp(top - top.max(1, keepdims=True))
            gates /= gates.sum(1, keepdims=True)
            self.record_routing(layer, self.experts, chosen, modality)
            tokens = tokens * np.einsum("tk,tkd->td", gates, self.gains[layer][chosen])
        return tokens

    def _embed(self, token_sets: list[np.ndarray], modality: int) -> np.ndarray:
        """One batched MoE pass over all tokens of all inputs; mean-pool per input."""
        lengths = [len(t) for t in token_sets]
        routed = self._moe(np.concatenate(token_sets), modality)
        bounds = np.cumsum([0, *lengths])
        return np.stack([routed[a:b].mean(0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])

    # -- Capability.EMBED -------------------------------------------------------------------------------------------
    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self._embed([self.image_tokens(im) for im in images], IMAGE)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.text_tokens(t) for t in texts], TEXT)

    # -- Capability.SCORE_OPTIONS -----------------------------------------------------------------------------------
    def score_options(self, items: Sequence[MCItem]) -> list[list[float]]:
        """Cosine similarity between the image and each option's text (all zeros for an item without an image)."""
        with_image = [item for item in items if item.image is not None]
        images = _normalise(self.embed_images([item.image for item in with_image])) if with_image else None
        options = [text for item in with_image for text in item.options.values()]
        texts = _normalise(self.embed_texts(options)) if options else None
        scores, row, offset = [], 0, 0
        for item in items:
            if item.image is None:
                scores.append([0.0] * len(item.options))
                continue
            n = len(item.options)
            scores.append((texts[offset:offset + n] @ images[row]).astype(float).tolist())
            row, offset = row + 1, offset + n
        return scores

    # -- inference-time expert scaling ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def scale_experts(self, *, top_k: int | None = None,
                      keep_experts: dict[int, list[int]] | None = None) -> Iterator[None]:
        """Override top-k and/or keep only ``keep_experts[layer]``; weights are never touched, so restore is exact."""
        if top_k is not None and not 1 <= top_k <= self.experts:
            raise ValueError(f"top_k must be in [1, {self.experts}], got {top_k}")
        keep = None
        if keep_experts:
            keep = {int(layer): sorted({int(e) for e in experts}) for layer, experts in keep_experts.items()}
            for layer, experts in keep.items():
                if not 0 <= layer < self.layers:
                    raise ValueError(f"keep_experts: no MoE layer {layer} (layers 0..{self.layers - 1})")
                if not experts or not all(0 <= e < self.experts for e in experts):
                    raise ValueError(f"keep_experts[{layer}] must name some of experts 0..{self.experts - 1}")
            keep = {layer: keep.get(layer, list(range(self.experts))) for layer in range(self.layers)}
        saved = self.top_k, self._keep
        self.top_k = top_k if top_k is not None else self.top_k
        self._keep = keep if keep is not None else self._keep
        try:
            yield
        finally:
            self.top_k, self._keep = saved


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
