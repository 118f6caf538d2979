"""``HFModel``: any local transformers checkpoint (text MoE or VLM) as a :class:`vleval.api.Model`."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from vleval.api import Capability, Model, ModelInfo, RoutingTrace, extract_choice, mc_prompt, phase
from vleval_models.hf.routing import (
    RoutingCapture,
    UnsupportedMoEError,
    compute_notes,
    find_routers,
    member,
    moe_config_values,
    router_top_k,
    scale_routers,
    token_context,
    token_tensor,
    unsupported_message,
)

if TYPE_CHECKING:
    from PIL.Image import Image

    from vleval.api import MCItem, Prompt

log = logging.getLogger(__name__)

_VISION_ATTRS = ("visual", "vision_tower", "vision_model", "vision_encoder")
_IMAGE_TOKEN_KEYS = ("image_token_id", "image_token_index", "video_token_id", "video_token_index")


def _torch_dtype(dtype: str) -> Any:
    if dtype == "auto":
        return "auto"
    value = getattr(torch, str(dtype).replace("torch.", ""), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"hf: unknown dtype {dtype!r} (use 'auto', 'float32', 'bfloat16' or 'float16')")
    return value


def _is_vlm(config: Any) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    return getattr(config, "vision_config", None) is not None or (
        config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES and hasattr(config, "text_config")
    )


def _patch_llama4_output(model: nn.Module) -> None:
    """Work around a transformers 5.24 bug in ``Llama4ForConditionalGeneration.forward``.

    It builds its output with ``image_outputs=outputs.image_outputs``, where ``outputs`` is the language model's
    ``MoeCausalLMOutputWithPast``, which has no such field, so every forward with ``return_dict=True`` raises
    ``AttributeError`` whatever the inputs (reproduced on a bare model built from a config, without vleval). A forward
    hook on the language model gives its output an ``image_outputs = None`` attribute (vleval never reads that field
    of the result); releases without the bug never read it, and the hook is only installed on Llama 4 models.
    """
    if type(model).__name__ != "Llama4ForConditionalGeneration":
        return
    language_model = getattr(model, "language_model", None)
    if not isinstance(language_model, nn.Module):
        return

    def add_image_outputs(module: nn.Module, inputs: Any, output: Any) -> Any:
        if not isinstance(output, tuple) and not hasattr(output, "image_outputs"):
            object.__setattr__(output, "image_outputs", None)
        return output

    language_model.register_forward_hook(add_image_outputs)


class HFModel(Model):
    """A local Hugging Face checkpoint: generation, multiple choice, embeddings, routing capture, expert scaling.

    ``path`` is a checkpoint directory or a repo id already in the local HF cache (never downloaded). Weights are
    read from safetensors only; ``trust_remote_code`` must be enabled explicitly.
    """

    name = "hf"
    version = "0.1.0"
    description = "Any local transformers checkpoint (MoE VLM or text MoE): routing capture, top-k and pruning"

    @staticmethod
    def fingerprint(path: str, **_: Any) -> str:
        """Identifies a checkpoint without reading all of it: sha256 over ``config.json`` and, per safetensors
        shard, its name, size, header and first and last MiB. ``unresolved`` if ``path`` is not found locally."""
        import hashlib

        folder = Path(path)
        if not folder.is_dir():
            try:
                from huggingface_hub import snapshot_download

                folder = Path(snapshot_download(str(path), local_files_only=True))
            except Exception:
                return "unresolved"
        digest = hashlib.sha256()
        for file in [folder / "config.json", *sorted(folder.glob("*.safetensors"))]:
            if not file.is_file():
                continue
            size = file.stat().st_size
            digest.update(f"{file.name}:{size}".encode())
            with open(file, "rb") as handle:
                digest.update(handle.read(1 << 20))
                if size > 2 << 20:
                    handle.seek(-(1 << 20), 2)
                    digest.update(handle.read())
        return digest.hexdigest()

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
        from transformers import AutoConfig

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
        load = {"trust_remote_code": self.trust_remote_code, "local_files_only": True}
        self.config = AutoConfig.from_pretrained(self.path, **load)
        self.is_vlm = _is_vlm(self.config)
        self.model = self._load_model(load, dtype, attn_implementation)
        self.processor = self._load_processor(load) if self.is_vlm else None
        self.tokenizer = self.processor.tokenizer if self.processor is not None else self._load_tokenizer(load)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.takes_images = self.processor is not None
        self.capabilities = frozenset(
            {Capability.EMBED, Capability.SCORE_OPTIONS, Capability.GENERATE}
            if self.takes_images else {Capability.SCORE_OPTIONS, Capability.GENERATE}
        )
        self.image_token_ids = self._image_token_ids()
        self.stop_token_ids = self._stop_token_ids()
        self.sites = find_routers(self.model)
        self.moe_keys = moe_config_values(self.config)
        self.unsupported = None if self.sites or not self.moe_keys else unsupported_message(self.model, self.config)
        if self.unsupported and require_routing:
            raise UnsupportedMoEError(self.unsupported)
        self._capture: RoutingCapture | None = None
        self._phase_cm: Any = None
        self._phase_name: str | None = None
        self._in_forward = False
        #: forwards run so far by the innermost ``generate()`` in progress (None outside generation): the first
        #: forward of a generation is its prefill, every later one a decode step. This is the adapter's own loop
        #: state, so it does not depend on what transformers names its cache arguments.
        self._generation_forwards: int | None = None
        self._generation_prompt: int | None = None  # tokens per sequence of the prompt given to that generate()
        self._install_hooks()
        self._track_generation()
        _patch_llama4_output(self.model)

    # ------------------------------------------------------------------------------------------------ loading

    def _load_model(self, load: dict[str, Any], dtype: str, attn_implementation: str | None) -> nn.Module:
        from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

        kwargs: dict[str, Any] = {**load, "dtype": _torch_dtype(dtype), "use_safetensors": True}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        auto = AutoModelForImageTextToText if self.is_vlm else AutoModelForCausalLM
        if str(self.device) != "cpu" and importlib.util.find_spec("accelerate") is not None:
            kwargs["device_map"] = self.device  # load straight onto the device instead of through host memory
        model = auto.from_pretrained(self.path, **kwargs)
        return model.to(self.device).eval()

    def _load_tokenizer(self, load: dict[str, Any]) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.path, **load)

    def _load_processor(self, load: dict[str, Any]) -> Any:
        from transformers import AutoProcessor

        try:
            processor = AutoProcessor.from_pretrained(self.path, **load)
        except Exception as err:  # noqa: BLE001 - e.g. a video processor needing torchvision
            try:
                processor = self._image_only_processor(load, err)
            except Exception as err2:  # noqa: BLE001
                log.warning("hf: %s: no usable processor (%s); images are not supported", self.path, err2)
                return None
        if getattr(processor, "image_processor", None) is None:
            log.warning("hf: %s: processor %s handles no images", self.path, type(processor).__name__)
            return None
        return processor

    def _image_only_processor(self, load: dict[str, Any], err: Exception) -> Any:
        """The checkpoint's processor class built from its tokenizer and image processor only (no video/audio)."""
        import transformers
        from transformers import AutoImageProcessor, AutoTokenizer
        from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

        saved: dict[str, Any] = {}
        cfg_file = Path(self.path) / "processor_config.json"
        if cfg_file.is_file():
            saved = json.loads(cfg_file.read_text())
        name = saved.get("processor_class") or PROCESSOR_MAPPING_NAMES.get(self.config.model_type)
        cls = getattr(transformers, name, None) if name else None
        if cls is None:
            raise ValueError(f"hf: cannot load the processor of {self.path}: {err}") from err

        class ImageOnly(cls):  # type: ignore[misc, valid-type]
            def check_argument_for_proper_class(self, argument_name: str, argument: Any) -> Any:
                return None if argument is None else super().check_argument_for_proper_class(argument_name, argument)

        tokenizer = AutoTokenizer.from_pretrained(self.path, **load)
        params = inspect.signature(cls.__init__).parameters
        parts: dict[str, Any] = {k: v for k, v in saved.items() if k in params and k != "chat_template"}
        for attr in cls.get_attributes():
            if attr == "tokenizer":
                parts[attr] = tokenizer
            elif attr == "image_processor":
                parts[attr] = AutoImageProcessor.from_pretrained(self.path, **load)
            else:
                parts[attr] = None
        try:
            processor = ImageOnly(**parts, chat_template=tokenizer.chat_template)
        except Exception as err2:
            raise ValueError(f"hf: cannot load the processor of {self.path}: {err}; image-only: {err2}") from err2
        log.warning("hf: %s: full processor unavailable (%s); using its image-only part", self.path, err)
        return processor

    def _image_token_ids(self) -> list[int]:
        ids: set[int] = set()
        for source in (self.config, self.processor):
            for key in _IMAGE_TOKEN_KEYS:
                value = getattr(source, key, None)
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    ids.add(value)
        return sorted(ids)

    def _stop_token_ids(self) -> list[int]:
        ids: set[int] = set()
        gen = getattr(self.model, "generation_config", None)
        for value in (getattr(gen, "eos_token_id", None), self.tokenizer.eos_token_id, self.tokenizer.pad_token_id):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        return sorted(ids)

    # ---------------------------------------------------------------------------------------- hooks and phases

    def _vision_module(self) -> nn.Module | None:
        for owner in (self.model, getattr(self.model, "model", None)):
            for attr in _VISION_ATTRS:
                module = getattr(owner, attr, None) if owner is not None else None
                if isinstance(module, nn.Module):
                    return module
        return None

    def _install_hooks(self) -> None:
        self.model.register_forward_pre_hook(self._pre_forward, with_kwargs=True)
        self.model.register_forward_hook(self._post_forward)
        vision = self._vision_module() if self.is_vlm else None
        if vision is not None:
            vision.register_forward_pre_hook(self._pre_vision)
            vision.register_forward_hook(self._post_vision)

    def _track_generation(self) -> None:
        """Wrap the model's ``generate`` (whoever calls it: this adapter, lm-eval or a user) to count its forwards."""
        original = self.model.generate

        @functools.wraps(original)
        def generate(*args: Any, **kwargs: Any) -> Any:
            prompt = token_tensor(args, kwargs)
            width = int(prompt.shape[1]) if isinstance(prompt, torch.Tensor) and prompt.dim() >= 2 else None
            outer = self._generation_forwards, self._generation_prompt
            self._generation_forwards, self._generation_prompt = 0, width
            try:
                return original(*args, **kwargs)
            finally:
                self._generation_forwards, self._generation_prompt = outer

        self.model.generate = generate

    def _step_phase(self, args: tuple, kwargs: dict) -> str:
        """"prefill" or "decode" for a top-level forward, from the generation-loop state.

        A decode step feeds exactly one new token per sequence; anything else (assisted or speculative decoding,
        chunked prefill) would be mis-attributed, so it is refused with an error instead of being recorded wrongly.
        """
        step = self._generation_forwards
        if step is None:
            return "prefill"
        tokens = token_tensor(args, kwargs)
        expected = self._generation_prompt if step == 0 else 1
        if step == 0 and (expected is None or tokens is None or tokens.shape[1] == expected):
            return "prefill"
        if tokens is None or tokens.dim() < 2 or tokens.shape[1] != expected:
            shape = None if tokens is None else tuple(tokens.shape)
            raise RuntimeError(
                f"hf: forward {step + 1} of a generate() call received token input of shape {shape}, expected "
                f"{expected} token(s) per sequence: the adapter expects the prompt at the first step and one new token "
                "per sequence at every later step (plain greedy/beam/sampling decoding). Assisted or speculative "
                "decoding and chunked prefill are not supported by its phase and routing accounting."
            )
        return "decode"

    def _enter_phase(self, name: str, tokens: int = 0) -> None:
        self._exit_phase()
        cm = phase(name, tokens=tokens)
        cm.__enter__()
        self._phase_cm, self._phase_name = cm, name

    def _exit_phase(self) -> None:
        cm, self._phase_cm, self._phase_name = self._phase_cm, None, None
        if cm is not None:
            cm.__exit__(None, None, None)

    def _pre_forward(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self._in_forward = True
        step_phase = self._step_phase(args, kwargs)
        capture = self._capture
        if capture is not None:
            capture.context = token_context(args, kwargs, step_phase, self.image_token_ids, self.stop_token_ids)
        if step_phase == "decode":
            ids = token_tensor(args, kwargs)
            tokens = int(ids.shape[0])
            if ids.dim() == 2 and not ids.is_floating_point():  # finished sequences keep being fed EOS / padding
                tokens = int((~member(ids[:, -1].detach().cpu().numpy(), self.stop_token_ids)).sum())
            self._enter_phase("decode", tokens=tokens)
        elif any(k.startswith("pixel_values") and v is not None for k, v in kwargs.items()) and self.is_vlm:
            self._enter_phase("vision")
        else:
            self._enter_phase("prefill")

    def _pre_vision(self, module: nn.Module, inputs: Any) -> None:
        if not self._in_forward:  # generate() may encode the images before the first forward
            self._enter_phase("vision")

    def _post_vision(self, module: nn.Module, inputs: Any, output: Any) -> None:
        if not self._in_forward:
            self._exit_phase()
        elif self._phase_name == "vision":
            self._enter_phase("prefill")

    def _post_forward(self, module: nn.Module, inputs: Any, output: Any) -> None:
        self._in_forward = False
        if self._generation_forwards is not None:
            self._generation_forwards += 1
        self._exit_phase()
        if self._capture is not None:
            self._capture.end_forward()

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """Around each public call: no gradients; routing reported at the end; no state left behind by an error."""
        try:
            with torch.inference_mode():
                yield
        except BaseException:
            if self._capture is not None:
                self._capture.discard()
            raise
        else:
            if self._capture is not None:
                self._capture.flush()
        finally:
            self._in_forward = False
            self._exit_phase()

    # ------------------------------------------------------------------------------------------------ routing

    @contextlib.contextmanager
    def trace_routing(self) -> Iterator[RoutingTrace]:
        if self.unsupported:
            raise UnsupportedMoEError(self.unsupported)
        with super().trace_routing() as trace:
            capture = RoutingCapture(self.sites, self.record_routing)
            capture.attach()
            self._capture = capture
            try:
                yield trace
                capture.flush()
            finally:
                capture.detach()
                self._capture = None

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

    # ------------------------------------------------------------------------------------------------ inputs

    def _chat(self, text: str, image: bool, generation_prompt: bool = True) -> tuple[str, bool]:
        """The prompt string for one user turn, and whether it already holds the special tokens."""
        template_owner = self.processor if self.processor is not None else self.tokenizer
        if getattr(template_owner, "chat_template", None):
            if self.processor is not None:
                content: Any = [{"type": "image"}] if image else []
                content += [{"type": "text", "text": text}] if text else []
            else:
                content = text
            rendered = template_owner.apply_chat_template(
                [{"role": "user", "content": content}], add_generation_prompt=generation_prompt, tokenize=False
            )
            return rendered, True
        if image:
            token = getattr(self.processor, "image_token", None)
            if token is None:
                raise ValueError(f"hf: {self.path} has no chat template and no image token to place the image")
            text = f"{token}\n{text}"
        return text, False

    def _encode(self, texts: Sequence[str], images: Sequence[Image | None], templated: bool, side: str) -> Any:
        """Tokenised batch on the model's device; ``side`` is the padding side."""
        old = self.tokenizer.padding_side
        self.tokenizer.padding_side = side
        try:
            kwargs: dict[str, Any] = {"padding": True, "return_tensors": "pt", "add_special_tokens": not templated}
            if any(img is not None for img in images):
                if self.processor is None:
                    raise ValueError(
                        f"hf: {self.path} cannot take images (text-only model, or no usable image processor)"
                    )
                if not all(img is not None for img in images):
                    raise ValueError("hf: a batch must have an image for every prompt or for none")
                # one list per prompt: processors that expect nested images need it, the others accept it
                batch = self.processor(text=list(texts), images=[[img] for img in images], **kwargs)
            elif self.processor is not None:
                batch = self.processor(text=list(texts), **kwargs)
            else:
                batch = self.tokenizer(list(texts), **kwargs)
        finally:
            self.tokenizer.padding_side = old
        return batch.to(self.device)

    def _groups(self, images: Sequence[Image | None]) -> list[list[int]]:
        """Indices split into runs with and without images (a processor call takes one kind)."""
        with_img = [i for i, img in enumerate(images) if img is not None]
        without = [i for i, img in enumerate(images) if img is None]
        return [g for g in (with_img, without) if g]

    def _forward(self, batch: Any, **kwargs: Any) -> Any:
        return self.model(**batch, use_cache=False, **kwargs)

    # ------------------------------------------------------------------------------------------- generation

    def _generate_texts(
        self, texts: Sequence[str], images: Sequence[Image | None], budgets: Sequence[int], templated: bool
    ) -> list[str]:
        out: list[str] = [""] * len(texts)
        for group in self._groups(images):
            batch = self._encode([texts[i] for i in group], [images[i] for i in group], templated, "left")
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
        prepared = [self._chat(p.text, p.image is not None) for p in prompts]
        budgets = [self.max_new_tokens or p.max_new_tokens for p in prompts]
        templated = all(t for _, t in prepared)
        with self._session():
            return self._generate_texts([p for p, _ in prepared], [p.image for p in prompts], budgets, templated)

    # ------------------------------------------------------------------------------------------ multiple choice

    def score_options(self, items: Sequence[MCItem]) -> list[list[float]]:
        if self.mc_mode == "generate":
            budget = self.max_new_tokens or 8
            prepared = [self._chat(mc_prompt(item), item.image is not None) for item in items]
            templated = all(t for _, t in prepared)
            with self._session():
                answers = self._generate_texts(
                    [p for p, _ in prepared], [it.image for it in items], [budget] * len(items), templated
                )
            scores = []
            for item, answer in zip(items, answers, strict=True):
                choice = extract_choice(answer, item.options)
                scores.append([1.0 if k == choice else 0.0 for k in item.options])
            return scores
        with self._session():
            return self._score_loglikelihood(items)

    def _score_loglikelihood(self, items: Sequence[MCItem]) -> list[list[float]]:
        prepared = [self._chat(mc_prompt(item), item.image is not None) for item in items]
        templated = all(t for _, t in prepared)
        images = [item.image for item in items]
        scores: list[list[float]] = [[] for _ in items]
        for group in self._groups(images):
            batch = self._encode([prepared[i][0] for i in group], [images[i] for i in group], templated, "left")
            logits = self._forward(batch, **self._keep_last()).logits[:, -1].float()
            logp = torch.log_softmax(logits, dim=-1)
            for row, i in enumerate(group):
                for letter in items[i].options:
                    cont = self.tokenizer(letter, add_special_tokens=False)["input_ids"]
                    if len(cont) == 1:
                        scores[i].append(float(logp[row, cont[0]]))
                    else:
                        single = self._encode([prepared[i][0]], [images[i]], templated, "left")
                        scores[i].append(self._continuation_logprob(single, cont)[0])
        return scores

    def _keep_last(self) -> dict[str, Any]:
        params = inspect.signature(self.model.forward).parameters
        return {"logits_to_keep": 1} if "logits_to_keep" in params else {}

    def _continuation_logprob(self, batch: Any, cont: Sequence[int]) -> tuple[float, bool]:
        """Log-probability of ``cont`` after a batch-of-one prompt, and whether it is the greedy continuation."""
        n = len(cont)
        extended = {}
        for key, value in batch.items():
            if isinstance(value, torch.Tensor) and value.dim() == 2 and value.shape[1] == batch["input_ids"].shape[1]:
                if key == "input_ids":
                    tail = torch.tensor([list(cont)], dtype=value.dtype, device=value.device)
                elif key == "attention_mask":
                    tail = torch.ones(1, n, dtype=value.dtype, device=value.device)
                else:
                    tail = torch.zeros(1, n, dtype=value.dtype, device=value.device)
                extended[key] = torch.cat([value, tail], dim=1)
            else:
                extended[key] = value
        logits = self._forward(extended).logits[0, -n - 1:-1].float()
        logp = torch.log_softmax(logits, dim=-1)
        target = torch.tensor(list(cont), device=logp.device)
        total = float(logp.gather(1, target[:, None]).sum())
        greedy = bool((logp.argmax(-1) == target).all())
        return total, greedy

    # ------------------------------------------------------------------------------------- plain-text requests

    @property
    def max_length(self) -> int:
        """Longest token sequence a plain-text request may feed the model at once."""
        text = self.config.get_text_config() if hasattr(self.config, "get_text_config") else self.config
        limit = getattr(text, "max_position_embeddings", None) or 2048
        tok_limit = getattr(self.tokenizer, "model_max_length", None)
        return int(min(limit, tok_limit)) if isinstance(tok_limit, int) and tok_limit < 10**9 else int(limit)

    def _prefix_token(self) -> int:
        bos = self.tokenizer.bos_token_id
        return int(bos if bos is not None else self.stop_token_ids[0])

    def loglikelihood_tokens(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[tuple[float, bool]]:
        """``(sum log p(continuation | context), is greedy)`` per pair of token lists (context left-truncated)."""
        out = []
        with self._session():
            for context, cont in pairs:
                context = list(context) or [self._prefix_token()]
                keep = max(self.max_length - len(cont), 1)
                ids = context[-keep:]
                batch = {
                    "input_ids": torch.tensor([ids], device=self.device),
                    "attention_mask": torch.ones(1, len(ids), dtype=torch.long, device=self.device),
                }
                out.append(self._continuation_logprob(batch, list(cont)))
        return out

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        """``(sum log p(continuation | context), is greedy)`` per request, on raw text (no chat template)."""
        pairs = []
        for context, continuation in requests:
            spaces = len(context) - len(context.rstrip())
            if spaces:  # lm-eval convention: trailing context whitespace belongs to the continuation
                context, continuation = context[:-spaces], context[-spaces:] + continuation
            whole = self.tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
            ctx = self.tokenizer(context, add_special_tokens=False)["input_ids"] if context else []
            n = max(len(whole) - len(ctx), 1)
            pairs.append((whole[:-n], whole[-n:]))
        return self.loglikelihood_tokens(pairs)

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        """Sum of log p over every token of each text, in windows of :attr:`max_length` (first token after BOS)."""
        out = []
        for text in texts:
            tokens = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            pairs, done, n = [], 0, self.max_length
            while done < len(tokens):
                end = min(done + n, len(tokens))
                context = [self._prefix_token()] if done == 0 else tokens[max(0, end - n - 1):done]
                pairs.append((context, tokens[done:end]))
                done = end
            out.append(sum(lp for lp, _ in self.loglikelihood_tokens(pairs)))
        return out

    def generate_until(self, contexts: Sequence[str], until: Sequence[Sequence[str]], max_new_tokens: int) -> list[str]:
        """Greedy continuations of raw-text contexts, cut at the first stop string."""
        with self._session():
            n = len(contexts)
            texts = self._generate_texts(list(contexts), [None] * n, [max_new_tokens] * n, False)
        out = []
        for text, stops in zip(texts, until, strict=True):
            cut = min((text.find(s) for s in stops if s and s in text), default=len(text))
            out.append(text[:cut])
        return out

    # --------------------------------------------------------------------------------------------- embeddings

    def _embed(self, texts: Sequence[str], images: Sequence[Image | None]) -> np.ndarray:
        pairs = zip(texts, images, strict=True)
        prepared = [self._chat(t, img is not None, generation_prompt=False) for t, img in pairs]
        templated = all(t for _, t in prepared)
        rows: list[np.ndarray] = [np.zeros(0)] * len(texts)
        with self._session():
            for group in self._groups(images):
                batch = self._encode([prepared[i][0] for i in group], [images[i] for i in group], templated, "left")
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
