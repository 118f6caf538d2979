"""``HFModel``: any local transformers checkpoint (text MoE or VLM) as a :class:`vleval.api.Model`.

It composes the plugin's parts: :mod:`~vleval_models.hf.loading` (checkpoint), :mod:`~vleval_models.hf.phases`
(latency phases, generation-loop state), :mod:`~vleval_models.hf.prompting` (chat templates, encoding),
:mod:`~vleval_models.hf.routers` / :mod:`~vleval_models.hf.capture` / :mod:`~vleval_models.hf.scaling` (routing),
:mod:`~vleval_models.hf.choice` (multiple choice) and :mod:`~vleval_models.hf.textlm` (plain-text protocol).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from vleval.api import Capability, Model, ModelInfo, RoutingTrace
from vleval_models.hf.capture import RoutingCapture
from vleval_models.hf.choice import score_by_generation, score_by_loglikelihood
from vleval_models.hf.loading import fingerprint, load_checkpoint
from vleval_models.hf.phases import PhaseTracker
from vleval_models.hf.prompting import Prompter, image_groups
from vleval_models.hf.routers import UnsupportedMoEError, find_routers, moe_config_values, unsupported_message
from vleval_models.hf.scaling import compute_notes, router_top_k, scale_routers
from vleval_models.hf.textlm import TextLMMixin

if TYPE_CHECKING:
    from PIL.Image import Image

    from vleval.api import MCItem, Prompt


class HFModel(TextLMMixin, Model):
    """A local Hugging Face checkpoint: generation, multiple choice, embeddings, routing capture, expert scaling.

    ``path`` is a checkpoint directory or a repo id already in the local HF cache (never downloaded). Weights are
    read from safetensors only; ``trust_remote_code`` must be enabled explicitly.
    """

    # name, version and description: registered in vleval_models.hf.plugin (the only place they are written)

    @staticmethod
    def fingerprint(path: str, **_: Any) -> str:
        """Identifies a checkpoint without reading all of it (see :func:`vleval_models.hf.loading.fingerprint`)."""
        return fingerprint(path)

    def __init__(
        self,
        path: str,
        dtype: str = "auto",
        device: str = "cpu",
        trust_remote_code: bool = False,
        pooling: str = "mean",
        mc_mode: str = "loglikelihood",
        max_new_tokens: int | None = None,
        attn_implementation: str | None = None,
        require_routing: bool = True,
    ):
        if pooling not in ("mean", "last"):
            raise ValueError(f"hf: pooling must be 'mean' or 'last', not {pooling!r}")
        if mc_mode not in ("loglikelihood", "generate"):
            raise ValueError(f"hf: mc_mode must be 'loglikelihood' or 'generate', not {mc_mode!r}")
        self.path = str(path)
        self.device = device
        self.pooling = pooling
        self.mc_mode = mc_mode
        self.max_new_tokens = max_new_tokens
        self.trust_remote_code = bool(trust_remote_code)
        ckpt = load_checkpoint(self.path, dtype, device, self.trust_remote_code, attn_implementation)
        self.config, self.model, self.is_vlm = ckpt.config, ckpt.model, ckpt.is_vlm
        self.tokenizer, self.processor = ckpt.tokenizer, ckpt.processor
        self.image_token_ids, self.stop_token_ids = ckpt.image_token_ids, ckpt.stop_token_ids
        self.takes_images = self.processor is not None
        self.accepts_images = self.takes_images
        self.capabilities = frozenset(
            {Capability.EMBED, Capability.SCORE_OPTIONS, Capability.GENERATE}
            if self.takes_images else {Capability.SCORE_OPTIONS, Capability.GENERATE}
        )
        self.prompter = Prompter(self.path, self.tokenizer, self.processor, device)
        self.sites = find_routers(self.model)
        self.moe_keys = moe_config_values(self.config)
        self.unsupported = None if self.sites or not self.moe_keys else unsupported_message(self.model, self.config)
        if self.unsupported and require_routing:
            raise UnsupportedMoEError(self.unsupported)
        self.phases = PhaseTracker(self.model, self.is_vlm, self.image_token_ids, self.stop_token_ids)
        self.phases.install()

    def _session(self) -> contextlib.AbstractContextManager[None]:
        return self.phases.session()

    def _forward(self, batch: Any, **kwargs: Any) -> Any:
        return self.model(**batch, use_cache=False, **kwargs)

    # ------------------------------------------------------------------------------------------------ routing

    @contextlib.contextmanager
    def trace_routing(self) -> Iterator[RoutingTrace]:
        if self.unsupported:
            raise UnsupportedMoEError(self.unsupported)
        with super().trace_routing() as trace:
            capture = RoutingCapture(self.sites, self.record_routing)
            capture.attach()
            self.phases.capture = capture
            try:
                yield trace
                capture.flush()
            finally:
                capture.detach()
                self.phases.capture = None

    @contextlib.contextmanager
    def scale_experts(
        self, *, top_k: int | None = None, keep_experts: dict[int, list[int]] | None = None
    ) -> Iterator[None]:
        if top_k is None and not keep_experts:
            yield
            return
        if self.unsupported:
            raise UnsupportedMoEError(self.unsupported)
        with scale_routers(self.sites, top_k=top_k, keep_experts=keep_experts):
            yield

    def info(self) -> ModelInfo:
        text = self.config.get_text_config() if hasattr(self.config, "get_text_config") else self.config
        total = sum(p.numel() for p in self.model.parameters())
        inactive = 0.0
        layers: dict[int, int] = {}
        for site in self.sites:
            layers[site.layer] = site.layer_experts
            parent = self.model.get_submodule(site.name.rsplit(".", 1)[0]) if "." in site.name else self.model
            experts = getattr(parent, "experts", None)
            if isinstance(experts, nn.Module):
                n = sum(p.numel() for p in experts.parameters())
                used = 0.0 if site.rows == "vision" else router_top_k(site) / site.num_experts
                inactive += n * (1 - used)
        top_ks = {router_top_k(s) for s in self.sites}
        extra: dict[str, Any] = {"path": self.path, "is_vlm": self.is_vlm, "takes_images": self.takes_images,
                                 "text_model_type": text.model_type}
        if self.sites:
            extra.update(compute_notes(self.sites, self.model))
        if self.unsupported:
            extra["routing_unsupported"] = self.unsupported
        dtype = next(self.model.parameters()).dtype
        return ModelInfo(
            name=f"hf:{Path(self.path).name}",
            architecture=self.config.model_type,
            total_params=int(total),
            active_params_per_token=int(round(total - inactive)),
            num_layers=int(getattr(text, "num_hidden_layers", 0) or 0),
            moe_layers=sorted(layers),
            experts_per_layer=[layers[k] for k in sorted(layers)],
            top_k=top_ks.pop() if len(top_ks) == 1 else None,
            dtype=str(dtype).replace("torch.", ""),
            device=str(self.device),
            extra=extra,
        )

    # ------------------------------------------------------------------------------- generation and choice

    def _generate_texts(
        self, texts: Sequence[str], images: Sequence[Image | None], budgets: Sequence[int], templated: bool
    ) -> list[str]:
        """Greedy answers, batched by image presence; each cut to its own budget."""
        out: list[str] = [""] * len(texts)
        for group in image_groups(images):
            batch = self.prompter.encode([texts[i] for i in group], [images[i] for i in group], templated, "left")
            n = max(budgets[i] for i in group)
            seqs = self.model.generate(
                **batch, max_new_tokens=n, do_sample=False, num_beams=1,
                pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.stop_token_ids or None,
            )
            new = seqs[:, batch["input_ids"].shape[1]:]
            for row, i in enumerate(group):
                ids = new[row, : budgets[i]].tolist()
                out[i] = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
        return out

    def generate(self, prompts: Sequence[Prompt]) -> list[str]:
        images = [p.image for p in prompts]
        texts, templated = self.prompter.chats([p.text for p in prompts], images)
        budgets = [self.max_new_tokens or p.max_new_tokens for p in prompts]
        with self._session():
            return self._generate_texts(texts, images, budgets, templated)

    def score_options(self, items: Sequence[MCItem]) -> list[list[float]]:
        with self._session():
            if self.mc_mode == "generate":
                return score_by_generation(items, self.prompter, self._generate_texts, self.max_new_tokens or 8)
            return score_by_loglikelihood(items, self.prompter, self.model, self._forward)

    # --------------------------------------------------------------------------------------------- embeddings

    def _embed(self, texts: Sequence[str], images: Sequence[Image | None]) -> np.ndarray:
        prepared, templated = self.prompter.chats(texts, images, generation_prompt=False)
        rows: list[np.ndarray] = [np.zeros(0)] * len(texts)
        with self._session():
            for group in image_groups(images):
                batch = self.prompter.encode([prepared[i] for i in group], [images[i] for i in group], templated,
                                             "left")
                hidden = self._forward(batch, output_hidden_states=True).hidden_states[-1].float()
                mask = batch["attention_mask"].to(hidden.dtype)
                if self.pooling == "mean":
                    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
                else:
                    pooled = hidden[:, -1]  # left padding: the last position is every row's last token
                for row, i in enumerate(group):
                    rows[i] = pooled[row].cpu().numpy()
        return np.stack(rows).astype(np.float32)

    def embed_images(self, images: Sequence[Image]) -> np.ndarray:
        if not self.takes_images:
            raise ValueError(f"hf: {self.path} cannot take images (text-only model, or no usable image processor)")
        return self._embed([""] * len(images), list(images))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(list(texts), [None] * len(texts))
