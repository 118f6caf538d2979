"""Latency phases of a transformers model: hooks that mark vision / prefill / decode, and the generation-loop state.

Prefill vs decode is decided by the adapter's own loop state (a wrapper on ``model.generate`` counts its top-level
forwards), never from cache keyword arguments, whose names transformers changes between releases.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from vleval.api import phase
from vleval_models.hf.capture import RoutingCapture, member, token_context, token_tensor

_VISION_ATTRS = ("visual", "vision_tower", "vision_model", "vision_encoder")


def patch_llama4_output(model: nn.Module) -> None:
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


def vision_module(model: nn.Module) -> nn.Module | None:
    """The vision tower of a VLM (``visual``, ``vision_tower``...), on the model or its inner ``model``."""
    for owner in (model, getattr(model, "model", None)):
        for attr in _VISION_ATTRS:
            module = getattr(owner, attr, None) if owner is not None else None
            if isinstance(module, nn.Module):
                return module
    return None


class PhaseTracker:
    """Hooks on one model that mark latency phases and give each top-level forward its routing context.

    :attr:`capture` is set while routing is traced; :meth:`session` wraps every public call of the adapter.
    """

    def __init__(self, model: nn.Module, is_vlm: bool, image_token_ids: Sequence[int], stop_token_ids: Sequence[int]):
        self.model = model
        self.is_vlm = is_vlm
        self.image_token_ids = list(image_token_ids)
        self.stop_token_ids = list(stop_token_ids)
        self.capture: RoutingCapture | None = None
        self._phase_cm: Any = None
        self._phase_name: str | None = None
        self._in_forward = False
        #: forwards run so far by the innermost ``generate()`` in progress (None outside generation): the first
        #: forward of a generation is its prefill, every later one a decode step.
        self.generation_forwards: int | None = None
        self.generation_prompt: int | None = None  # tokens per sequence of the prompt given to that generate()

    def install(self) -> None:
        """Register the forward hooks and wrap ``model.generate`` (once per model)."""
        self.model.register_forward_pre_hook(self._pre_forward, with_kwargs=True)
        self.model.register_forward_hook(self._post_forward)
        vision = vision_module(self.model) if self.is_vlm else None
        if vision is not None:
            vision.register_forward_pre_hook(self._pre_vision)
            vision.register_forward_hook(self._post_vision)
        self._track_generation()
        patch_llama4_output(self.model)

    def _track_generation(self) -> None:
        """Wrap the model's ``generate`` (whoever calls it: this adapter, lm-eval or a user) to count its forwards."""
        original = self.model.generate

        @functools.wraps(original)
        def generate(*args: Any, **kwargs: Any) -> Any:
            prompt = token_tensor(args, kwargs)
            width = int(prompt.shape[1]) if isinstance(prompt, torch.Tensor) and prompt.dim() >= 2 else None
            outer = self.generation_forwards, self.generation_prompt
            self.generation_forwards, self.generation_prompt = 0, width
            try:
                return original(*args, **kwargs)
            finally:
                self.generation_forwards, self.generation_prompt = outer

        self.model.generate = generate

    def step_phase(self, args: tuple, kwargs: dict) -> str:
        """"prefill" or "decode" for a top-level forward, from the generation-loop state.

        A decode step feeds exactly one new token per sequence; anything else (assisted or speculative decoding,
        chunked prefill) would be mis-attributed, so it is refused with an error instead of being recorded wrongly.
        """
        step = self.generation_forwards
        if step is None:
            return "prefill"
        tokens = token_tensor(args, kwargs)
        expected = self.generation_prompt if step == 0 else 1
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

    def _enter(self, name: str, tokens: int = 0) -> None:
        self._exit()
        cm = phase(name, tokens=tokens)
        cm.__enter__()
        self._phase_cm, self._phase_name = cm, name

    def _exit(self) -> None:
        cm, self._phase_cm, self._phase_name = self._phase_cm, None, None
        if cm is not None:
            cm.__exit__(None, None, None)

    def _pre_forward(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self._in_forward = True
        step_phase = self.step_phase(args, kwargs)
        capture = self.capture
        if capture is not None:
            capture.context = token_context(args, kwargs, step_phase, self.image_token_ids, self.stop_token_ids)
        if step_phase == "decode":
            ids = token_tensor(args, kwargs)
            tokens = int(ids.shape[0])
            if ids.dim() == 2 and not ids.is_floating_point():  # finished sequences keep being fed EOS / padding
                tokens = int((~member(ids[:, -1].detach().cpu().numpy(), self.stop_token_ids)).sum())
            self._enter("decode", tokens=tokens)
        elif any(k.startswith("pixel_values") and v is not None for k, v in kwargs.items()) and self.is_vlm:
            self._enter("vision")
        else:
            self._enter("prefill")

    def _pre_vision(self, module: nn.Module, inputs: Any) -> None:
        if not self._in_forward:  # generate() may encode the images before the first forward
            self._enter("vision")

    def _post_vision(self, module: nn.Module, inputs: Any, output: Any) -> None:
        if not self._in_forward:
            self._exit()
        elif self._phase_name == "vision":
            self._enter("prefill")

    def _post_forward(self, module: nn.Module, inputs: Any, output: Any) -> None:
        self._in_forward = False
        if self.generation_forwards is not None:
            self.generation_forwards += 1
        self._exit()
        if self.capture is not None:
            self.capture.end_forward()

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Around each public call: no gradients; routing reported at the end; no state left behind by an error."""
        try:
            with torch.inference_mode():
                yield
        except BaseException:
            if self.capture is not None:
                self.capture.discard()
            raise
        else:
            if self.capture is not None:
                self.capture.flush()
        finally:
            self._in_forward = False
            self._exit()
