"""The model interface: capabilities, MoE model info, routing traces and inference-time expert scaling."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

from vleval.api.items import MCItem, Prompt

if TYPE_CHECKING:
    from PIL.Image import Image

TEXT = 0
IMAGE = 1
MODALITY_NAMES = {TEXT: "text", IMAGE: "image"}


class Capability(str, Enum):
    """What a model can do; datasets name the one they need and the runner pairs only compatible ones."""

    EMBED = "embed"  # embed_images / embed_texts: image-text retrieval
    SCORE_OPTIONS = "score_options"  # score_options: multiple choice by log-likelihood or similarity
    GENERATE = "generate"  # generate: captioning, and multiple choice by generation + choice extraction


@dataclass
class ModelInfo:
    """Static facts about a model. MoE fields are ``None``/empty for dense models."""

    name: str
    architecture: str
    total_params: int
    active_params_per_token: int
    num_layers: int
    moe_layers: list[int] = field(default_factory=list)
    experts_per_layer: list[int] = field(default_factory=list)
    top_k: int | None = None
    dtype: str = "float32"
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class LayerRouting:
    """Routing of one batch of tokens through one MoE layer.

    ``experts``: int array ``[tokens, k]`` of the experts actually selected (after any bias, grouping or pruning);
    ``modality``: int array ``[tokens]`` of ``TEXT``/``IMAGE``; ``phase``: ``"prefill"`` or ``"decode"``;
    ``probs``: optional float32 ``[tokens, num_experts]``, the router's probabilities over all experts (rows sum
    to 1, masked or pruned experts 0), ``None`` when the model does not report them. ``item``: optional int array
    ``[tokens]``, each token's position in the batch (its item), ``None`` when tokens are laid out item-major in equal
    runs (the per-item routing then splits them evenly).
    """

    layer: int
    num_experts: int
    experts: np.ndarray
    modality: np.ndarray
    phase: str = "prefill"
    probs: np.ndarray | None = None
    item: np.ndarray | None = None


@dataclass
class RoutingTrace:
    """All routing events recorded while a trace was active, in call order."""

    events: list[LayerRouting] = field(default_factory=list)

    def add(self, layer: int, num_experts: int, experts: Any, modality: Any, phase: str = "prefill", *,
            probs: Any = None, item: Any = None) -> None:
        experts = np.asarray(_numpy(experts), dtype=np.int64)
        if experts.ndim == 1:
            experts = experts[:, None]
        modality = np.broadcast_to(np.asarray(_numpy(modality), dtype=np.int8), (experts.shape[0],)).copy()
        if probs is not None:
            detach = getattr(probs, "detach", None)  # torch: one host copy, bf16/fp16 widened first
            probs = np.asarray(detach().float().cpu().numpy() if detach is not None else probs, dtype=np.float32)
            expected = (experts.shape[0], num_experts)
            if probs.shape != expected:
                raise ValueError(f"routing of layer {layer}: probs must be [tokens, num_experts] = {list(expected)} "
                                 f"(one row of router probabilities over all experts per routed token), got "
                                 f"{list(probs.shape)}")
        if item is not None:
            item = np.asarray(_numpy(item), dtype=np.int64)
        self.events.append(LayerRouting(layer, num_experts, experts, modality, phase, probs, item))


def _numpy(x: Any) -> Any:
    detach = getattr(x, "detach", None)
    return detach().cpu().numpy() if detach is not None else x


class Model:
    """Base class for model plugins. Override the methods of the capabilities you declare.

    Array results may be ``numpy.ndarray`` or ``torch.Tensor``. MoE models call :meth:`record_routing` from their
    router (it is a no-op unless the runner is tracing) and implement :meth:`scale_experts`.
    """

    capabilities: frozenset[Capability] = frozenset()
    device: str = "cpu"
    #: ``False`` for a model that cannot take images (a text-only checkpoint): cells whose items have images are
    #: then skipped with the reason instead of failing inside the model
    accepts_images: bool = True

    def info(self) -> ModelInfo:
        raise NotImplementedError

    # Capability.EMBED
    def embed_images(self, images: Sequence[Image]) -> Any:
        """L2-normalisable embeddings ``[N, D]``."""
        raise NotImplementedError

    def embed_texts(self, texts: Sequence[str]) -> Any:
        """Embeddings ``[N, D]`` in the same space as :meth:`embed_images`."""
        raise NotImplementedError

    # Capability.SCORE_OPTIONS
    def score_options(self, items: Sequence[MCItem]) -> list[list[float]]:
        """One score per option (in ``item.options`` order) per item; higher is more likely."""
        raise NotImplementedError

    # Capability.GENERATE
    def generate(self, prompts: Sequence[Prompt]) -> list[str]:
        raise NotImplementedError

    # MoE: routing telemetry and inference-time expert scaling
    _trace: RoutingTrace | None = None

    @contextlib.contextmanager
    def trace_routing(self) -> Iterator[RoutingTrace]:
        """Collect a :class:`RoutingTrace` of every routing decision made inside the block."""
        self._trace = RoutingTrace()
        try:
            yield self._trace
        finally:
            self._trace = None

    def record_routing(self, layer: int, num_experts: int, experts: Any, modality: Any, phase: str = "prefill", *,
                       probs: Any = None, item: Any = None) -> None:
        """Report one routing decision: ``experts`` ``[tokens, k]``, ``modality`` ``[tokens]`` (or one value),
        optional ``probs`` ``[tokens, num_experts]`` (the router's probabilities over all experts) and ``item``
        ``[tokens]`` (each token's position in the batch, when tokens are not laid out item-major in equal runs).
        No-op unless tracing, so callers may pass device tensors: they are copied to the host only while a trace is
        active."""
        if self._trace is not None:
            self._trace.add(layer, num_experts, experts, modality, phase, probs=probs, item=item)

    @contextlib.contextmanager
    def scale_experts(
        self, *, top_k: int | None = None, keep_experts: dict[int, list[int]] | None = None
    ) -> Iterator[None]:
        """Run the block with ``top_k`` experts per token and/or only ``keep_experts[layer]`` in each MoE layer.

        The model must be restored exactly (bitwise-identical outputs) when the block exits.
        """
        if top_k is None and not keep_experts:
            yield
            return
        raise NotImplementedError(f"{type(self).__name__} does not support inference-time expert scaling")
        yield  # pragma: no cover
