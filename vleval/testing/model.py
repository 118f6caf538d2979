"""``check_model``: capabilities, output shapes, ``info()``, routing traces and inference-time expert scaling."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vleval.api import IMAGE, TEXT, Capability, LayerRouting, Model, ModelInfo
from vleval.testing.common import Report, call, describe_difference, expect, fail, identical, to_numpy
from vleval.testing.inputs import sample_images, sample_mc_items, sample_prompts, sample_texts

_METHODS = {Capability.EMBED: ("embed_images", "embed_texts"), Capability.SCORE_OPTIONS: ("score_options",),
            Capability.GENERATE: ("generate",)}
PHASES = ("prefill", "decode")


def check_model(model: Model, *, name: str | None = None, images: Sequence[Any] | None = None,
                texts: Sequence[str] | None = None, text_only: bool = False, scaling: bool = True,
                top_k: int | None = None, keep_experts: dict[int, list[int]] | None = None) -> Report:
    """Check ``model`` against the contract of :class:`vleval.api.Model`; raise :class:`AssertionError` on the first
    violation, naming the plugin, the method, what was expected and what was found.

    ``images``/``texts``: inputs (default: small generated ones); ``text_only``: questions and prompts come without
    images (for models that cannot see, e.g. text-only MoE LMs). ``scaling=False`` skips the expert-scaling checks;
    ``top_k`` / ``keep_experts``: the scaling requests tried (default: chosen from ``info()``).
    """
    probe = _Probe(model, name, list(images) if images is not None else sample_images(),
                   list(texts) if texts is not None else sample_texts(), text_only)
    info = probe.check_info()
    probe.check_capabilities()
    baseline = probe.check_outputs()
    if info.moe_layers:
        probe.check_routing(info)
    else:
        probe.report.skip("routing", "dense model: info().moe_layers is empty")
    probe.check_scaling(info, baseline, scaling, top_k, keep_experts)
    return probe.report


class _Probe:
    def __init__(self, model: Model, name: str | None, images: list[Any], texts: list[str], text_only: bool) -> None:
        self.model, self.images, self.texts = model, images, texts
        self.name = name or type(model).__name__
        self.report = Report(self.name)
        self.items = sample_mc_items(images, with_images=not text_only)
        self.prompts = sample_prompts([] if text_only else images)

    def expect(self, condition: bool, method: str, expected: str, actual: Any) -> None:
        expect(condition, self.name, method, expected, actual)

    def check_info(self) -> ModelInfo:
        info = call(self.name, "info", self.model.info)
        self.expect(isinstance(info, ModelInfo), "info", "a vleval.api.ModelInfo", type(info).__name__)
        self.expect(isinstance(info.name, str) and bool(info.name), "info", "a non-empty name", repr(info.name))
        for attr in ("total_params", "active_params_per_token", "num_layers"):
            value = getattr(info, attr)
            self.expect(isinstance(value, int) and value >= 0, "info", f"{attr}: an int >= 0", value)
        self.expect(info.active_params_per_token <= info.total_params, "info",
                    "active_params_per_token <= total_params",
                    f"{info.active_params_per_token} > {info.total_params}")
        layers, experts = list(info.moe_layers), list(info.experts_per_layer)
        self.expect(len(layers) == len(set(layers)), "info", "moe_layers without repeats", layers)
        self.expect(all(0 <= layer < info.num_layers for layer in layers), "info",
                    f"moe_layers within 0..num_layers-1 = 0..{info.num_layers - 1}", layers)
        self.expect(len(experts) == len(layers), "info", f"experts_per_layer: one count per MoE layer ({len(layers)})",
                    experts)
        if layers:
            self.expect(all(isinstance(e, int) and e >= 1 for e in experts), "info",
                        "experts_per_layer: counts >= 1", experts)
            self.expect(isinstance(info.top_k, int) and 1 <= info.top_k <= max(experts), "info",
                        f"top_k in 1..{max(experts)} (experts per layer) for an MoE model", info.top_k)
        self.report.ok("info")
        return info

    def check_capabilities(self) -> None:
        caps = self.model.capabilities
        self.expect(isinstance(caps, (set, frozenset)) and bool(caps) and all(isinstance(c, Capability) for c in caps),
                    "capabilities", "a non-empty frozenset of vleval.api.Capability", caps)
        for capability in caps:
            for method in _METHODS[capability]:
                implemented = getattr(type(self.model), method, None) is not getattr(Model, method)
                self.expect(implemented, method, f"an implementation (capability {capability.value!r} is declared)",
                            "the base class's NotImplementedError")
        self.report.ok("capabilities")

    def run_all(self) -> dict[str, Any]:
        """Every declared capability's methods on the inputs: ``{method: result}`` (arrays as numpy)."""
        caps, out = self.model.capabilities, {}
        if Capability.EMBED in caps:
            out["embed_images"] = to_numpy(call(self.name, "embed_images", self.model.embed_images, self.images))
            out["embed_texts"] = to_numpy(call(self.name, "embed_texts", self.model.embed_texts, self.texts))
        if Capability.SCORE_OPTIONS in caps:
            out["score_options"] = call(self.name, "score_options", self.model.score_options, self.items)
        if Capability.GENERATE in caps:
            out["generate"] = call(self.name, "generate", self.model.generate, self.prompts)
        return out

    def check_outputs(self) -> dict[str, Any]:
        out = self.run_all()
        if "embed_images" in out:
            images, texts = out["embed_images"], out["embed_texts"]
            for method, array, n in (("embed_images", images, len(self.images)),
                                     ("embed_texts", texts, len(self.texts))):
                self.expect(array.ndim == 2 and array.shape[0] == n, method,
                            f"an array [N={n}, D] (one row per input)", f"shape {array.shape}")
                self.expect(bool(np.isfinite(array).all()), method, "finite values", "NaN or infinity")
            self.expect(images.shape[1] == texts.shape[1], "embed_texts",
                        f"dimension D={images.shape[1]} of embed_images (one shared space)", texts.shape[1])
            self.report.ok("embed")
        if "score_options" in out:
            scores = out["score_options"]
            want = [len(item.options) for item in self.items]
            got = [len(row) for row in scores] if isinstance(scores, list) else type(scores).__name__
            self.expect(got == want, "score_options", f"one list per item, one score per option: lengths {want}",
                        got)
            flat = [s for row in scores for s in row]
            self.expect(all(isinstance(s, (int, float)) and not isinstance(s, bool) and np.isfinite(s)
                            for s in flat), "score_options", "finite float scores", flat)
            self.report.ok("score_options")
        if "generate" in out:
            texts = out["generate"]
            self.expect(isinstance(texts, list) and len(texts) == len(self.prompts), "generate",
                        f"a list of {len(self.prompts)} strings (one per prompt)", texts)
            self.expect(all(isinstance(t, str) for t in texts), "generate", "strings",
                        [type(t).__name__ for t in texts])
            self.report.ok("generate")
        again = self.run_all()
        for method, value in out.items():
            self.expect(identical(value, again[method]), method, "identical outputs for identical inputs "
                        "(determinism, which exact restore after scale_experts relies on)",
                        describe_difference(value, again[method]))
        self.report.ok("deterministic")
        return out

    def traced(self, run: Callable[[], Any]) -> list[LayerRouting]:
        with self.model.trace_routing() as trace:
            run()
        return list(trace.events)

    def check_trace(self, events: list[LayerRouting], info: ModelInfo, method: str, k: int | None,
                    allowed: dict[int, set[int]] | None = None) -> None:
        """Every MoE layer appears; ids in range, distinct per token, ``k`` wide; modality tags valid."""
        per_layer = dict(zip(info.moe_layers, info.experts_per_layer, strict=True))
        seen = {e.layer for e in events}
        self.expect(seen >= set(per_layer), f"{method} (routing trace)",
                    f"events for every MoE layer {sorted(per_layer)}", f"layers {sorted(seen)}")
        for event in events:
            where = f"{method} (routing trace, layer {event.layer})"
            self.expect(event.layer in per_layer, where, f"a layer of info().moe_layers {sorted(per_layer)}",
                        event.layer)
            experts = event.experts
            self.expect(experts.ndim == 2 and experts.shape[0] == event.modality.shape[0], where,
                        "experts [tokens, k] and modality [tokens]",
                        f"shapes {experts.shape} and {event.modality.shape}")
            if experts.size:
                low, high = int(experts.min()), int(experts.max())
                self.expect(low >= 0 and high < event.num_experts, where,
                            f"expert ids in 0..{event.num_experts - 1}", f"ids {low}..{high}")
                rows = np.sort(experts, axis=1)
                self.expect(not bool((rows[:, 1:] == rows[:, :-1]).any()), where,
                            "distinct experts per token", "a token routed twice to the same expert")
            if k is not None:
                self.expect(experts.shape[1] == k, where, f"k = {k} experts per token", experts.shape[1])
            if allowed is not None and experts.size:
                used = set(np.unique(experts).tolist())
                self.expect(used <= allowed[event.layer], where, f"only kept experts {sorted(allowed[event.layer])}",
                            f"also {sorted(used - allowed[event.layer])}")
            probs = getattr(event, "probs", None)
            if probs is not None and probs.size:
                self.expect(bool((probs >= 0).all()) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3), where,
                            "probs: router probabilities >= 0, each token's row summing to 1",
                            f"row sums {float(probs.sum(axis=1).min()):.4f}..{float(probs.sum(axis=1).max()):.4f}")
                if allowed is not None:
                    pruned = [e for e in range(event.num_experts) if e not in allowed[event.layer]]
                    self.expect(not pruned or float(probs[:, pruned].max()) == 0.0, where,
                                "probs: 0 for pruned experts", f"up to {float(probs[:, pruned].max()):.4g}")
            tags = set(np.unique(event.modality).tolist())
            self.expect(tags <= {TEXT, IMAGE}, where, f"modality tags TEXT={TEXT} / IMAGE={IMAGE}", sorted(tags))
            self.expect(event.phase in PHASES, where, f"phase in {PHASES}", repr(event.phase))

    def check_routing(self, info: ModelInfo) -> None:
        caps = self.model.capabilities
        if Capability.EMBED in caps:
            image_events = self.traced(lambda: self.model.embed_images(self.images))
            text_events = self.traced(lambda: self.model.embed_texts(self.texts))
            self.check_trace(image_events, info, "embed_images", info.top_k)
            self.check_trace(text_events, info, "embed_texts", info.top_k)
            self.expect(any((e.modality == IMAGE).any() for e in image_events), "embed_images (routing trace)",
                        "tokens tagged IMAGE", "none")
            self.expect(not any((e.modality == IMAGE).any() for e in text_events), "embed_texts (routing trace)",
                        "only TEXT tokens for texts", "tokens tagged IMAGE")
        else:
            events = self.traced(self.run_all)
            self.check_trace(events, info, "routing trace", info.top_k)
        with self.model.trace_routing() as trace:
            pass
        self.run_all()
        self.expect(not trace.events, "trace_routing", "no events recorded after the block exits",
                    f"{len(trace.events)} events")
        self.report.ok("routing")

    def check_restored(self, baseline: dict[str, Any], request: str) -> None:
        after = self.run_all()
        for method, value in baseline.items():
            self.expect(identical(value, after[method]), method,
                        f"bitwise-identical outputs after scale_experts({request}) exits",
                        describe_difference(value, after[method]))

    def check_scaling(self, info: ModelInfo, baseline: dict[str, Any], scaling: bool, top_k: int | None,
                      keep_experts: dict[int, list[int]] | None) -> None:
        with self.model.scale_experts():
            inside = self.run_all()
        for method, value in baseline.items():
            self.expect(identical(value, inside[method]), method, "scale_experts() with no request to change nothing",
                        describe_difference(value, inside[method]))
        self.report.ok("scale_experts()")
        if not info.moe_layers or not scaling:
            why = "dense model" if not info.moe_layers else "scaling=False"
            self.report.skip("scale_experts(top_k)", why)
            self.report.skip("scale_experts(keep_experts)", why)
            return
        fewest = min(info.experts_per_layer)
        if top_k is None and fewest >= 2:
            top_k = 1 if info.top_k != 1 else 2
        if top_k is None:
            self.report.skip("scale_experts(top_k)", "one expert per layer: no other top-k")
        else:
            with self.model.scale_experts(top_k=top_k):
                events = self.traced(self.run_all)
            self.check_trace(events, info, f"scale_experts(top_k={top_k})", top_k)
            self.check_restored(baseline, f"top_k={top_k}")
            self.report.ok("scale_experts(top_k)")
        if keep_experts is None and fewest >= 2:
            keep_experts = {layer: list(range(max(n // 2, 1))) for layer, n
                            in zip(info.moe_layers, info.experts_per_layer, strict=True)}
        if keep_experts is None:
            self.report.skip("scale_experts(keep_experts)", "one expert per layer: nothing to prune")
            return
        allowed = {layer: set(keep_experts.get(layer, range(n)))
                   for layer, n in zip(info.moe_layers, info.experts_per_layer, strict=True)}
        with self.model.scale_experts(keep_experts=keep_experts):
            events = self.traced(self.run_all)
        self.check_trace(events, info, "scale_experts(keep_experts)", None, allowed)
        self.check_restored(baseline, "keep_experts=...")
        try:
            with self.model.scale_experts(keep_experts=keep_experts):
                raise _Interrupt
        except _Interrupt:
            pass
        self.check_restored(baseline, "keep_experts=...; the block raised")
        self.report.ok("scale_experts(keep_experts)")
        too_many = max(info.experts_per_layer) + 1
        try:
            with self.model.scale_experts(top_k=too_many):
                pass
        except ValueError:
            self.report.ok("scale_experts rejects")
        except Exception as exc:
            fail(self.name, "scale_experts", f"ValueError for top_k={too_many} (more than the experts per layer)",
                 f"{type(exc).__name__}: {exc}")
        else:
            fail(self.name, "scale_experts", f"ValueError for top_k={too_many} (more than the experts per layer)",
                 "no error")
        self.check_restored(baseline, f"top_k={too_many}")


class _Interrupt(Exception):
    pass


__all__ = ["check_model"]
