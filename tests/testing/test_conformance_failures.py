"""Every check of the conformance kit (vleval.testing) fails, with a message naming plugin, method, expected and
actual, on a double broken in one way; the unbroken doubles pass."""

from __future__ import annotations

import contextlib
import re

import numpy as np
import pytest
import toy_plugins
from toy_plugins import ColorRetrieval, NoiseShift, ToyMoE

from vleval.api import Capability, DatasetSpec, MCItem, Metric, MetricValue, Model, ModelInfo, RetrievalOutputs, Task
from vleval.registry.discovery import LoadPolicy, Registry
from vleval.testing import (
    check_dataset,
    check_metric,
    check_model,
    check_shift,
    plugin_registry,
    sample_images,
    sample_outputs,
)

IMAGES = sample_images(2)
TEXTS = ["a red square", "blue", "something green"]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.discover(extra_plugins=[toy_plugins], entry_points=False, policy=LoadPolicy())


class Generator(Model):
    capabilities = frozenset({Capability.GENERATE})

    def info(self) -> ModelInfo:
        return ModelInfo(name="gen", architecture="dense", total_params=10, active_params_per_token=10, num_layers=1)

    def generate(self, prompts):
        return ["red"] * (len(prompts) - 1)


def broken(**overrides):
    """A ToyMoE (4 experts, top-2, MoE layers 0 and 1) with some methods replaced."""
    model = ToyMoE(experts=4)
    for attr, value in overrides.items():
        setattr(model, attr, value.__get__(model) if callable(value) and attr != "capabilities" else value)
    return model


def _route_with(transform):
    def _route(self, vectors, modality):
        for layer in (0, 1):
            chosen = np.argsort(-(vectors @ self.router.T), axis=1, kind="stable")[:, : self.top_k]
            layer, experts, modality_ = transform(layer, chosen, modality, self)
            if layer is not None:
                self.record_routing(layer, self.experts, experts, modality_)
    return _route


def _route_with_probs(transform):
    """Routes as ToyMoE does (pruning respected) and records router probabilities, changed by ``transform``."""
    def _route(self, vectors, modality):
        for layer in (0, 1):
            logits = vectors @ self.router.T + layer
            if self.keep is not None:
                mask = np.full(self.experts, -np.inf)
                mask[self.keep[layer]] = 0
                logits = logits + mask
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            k = self.top_k if self.keep is None else min(self.top_k, len(self.keep[layer]))
            chosen = np.argsort(-logits, axis=1, kind="stable")[:, :k]
            self.record_routing(layer, self.experts, chosen, modality, probs=transform(probs, self.keep))
    return _route


def _info(**changes):
    def info(self):
        base = vars(ToyMoE.info(self))
        return ModelInfo(**{**base, **changes})
    return info


calls = {"n": 0}


def _drifting_embed_texts(self, texts):
    calls["n"] += 1
    return ToyMoE.embed_texts(self, texts) + calls["n"]


@contextlib.contextmanager
def _leaky_scale_experts(self, *, top_k=None, keep_experts=None):
    with ToyMoE.scale_experts(self, top_k=top_k, keep_experts=keep_experts):
        yield
    if top_k is not None or keep_experts:
        self.drift = 1e-6  # "restored", but not exactly


@contextlib.contextmanager
def _ignoring_scale_experts(self, *, top_k=None, keep_experts=None):
    if top_k is not None and top_k > self.experts:
        raise ValueError("too many")
    yield


@contextlib.contextmanager
def _lenient_scale_experts(self, *, top_k=None, keep_experts=None):
    with ToyMoE.scale_experts(self, top_k=min(top_k, self.experts) if top_k else None, keep_experts=keep_experts):
        yield


MODEL_FAILURES = [
    (lambda: broken(embed_texts=lambda self, t: ToyMoE.embed_texts(self, t)[:-1]),
     r"embed_texts: expected an array \[N=3, D\] \(one row per input\); got shape \(2, 3\)"),
    (lambda: broken(embed_texts=lambda self, t: np.hstack([ToyMoE.embed_texts(self, t)] * 2)),
     r"embed_texts: expected dimension D=3 of embed_images \(one shared space\); got 6"),
    (lambda: broken(embed_images=lambda self, i: ToyMoE.embed_images(self, i) * np.nan),
     r"embed_images: expected finite values; got NaN or infinity"),
    (lambda: broken(score_options=lambda self, items: [s[:-1] for s in ToyMoE.score_options(self, items)]),
     r"score_options: expected one list per item, one score per option: lengths \[4, 3\]; got \[3, 2\]"),
    (lambda: Generator(), r"^Generator: generate: expected a list of 3 strings \(one per prompt\)"),
    (lambda: broken(capabilities=frozenset({Capability.EMBED, Capability.GENERATE})),
     r"generate: expected an implementation \(capability 'generate' is declared\)"),
    (lambda: broken(info=lambda self: "toy"), r"info: expected a vleval.api.ModelInfo; got str"),
    (lambda: broken(info=_info(experts_per_layer=[4])),
     r"info: expected experts_per_layer: one count per MoE layer \(2\); got \[4\]"),
    (lambda: broken(info=_info(top_k=5)),
     r"info: expected top_k in 1..4 \(experts per layer\) for an MoE model; got 5"),
    (lambda: broken(info=_info(active_params_per_token=10**6)), r"info: expected active_params_per_token <= total"),
    (lambda: broken(info=_info(moe_layers=[0, 2])), r"info: expected moe_layers within 0..num_layers-1 = 0..1"),
    (lambda: broken(embed_texts=_drifting_embed_texts), r"embed_texts: expected identical outputs for identical "
                                                        r"inputs \(determinism"),
    (lambda: broken(_route=_route_with(lambda layer, e, m, s: (layer, e + 3, m))),
     r"embed_images \(routing trace, layer 0\): expected expert ids in 0..3; got ids \d..[4-6]"),
    (lambda: broken(_route=_route_with(lambda layer, e, m, s: (layer if layer == 0 else None, e, m))),
     r"embed_images \(routing trace\): expected events for every MoE layer \[0, 1\]; got layers \[0\]"),
    (lambda: broken(_route=_route_with(lambda layer, e, m, s: (layer, e, 2))),
     r"expected modality tags TEXT=0 / IMAGE=1; got \[2\]"),
    (lambda: broken(_route=_route_with(lambda layer, e, m, s: (layer, e, 1))),
     r"embed_texts \(routing trace\): expected only TEXT tokens for texts; got tokens tagged IMAGE"),
    (lambda: broken(_route=_route_with(lambda layer, e, m, s: (layer, e[:, :1], m))),
     r"embed_images \(routing trace, layer 0\): expected k = 2 experts per token; got 1"),
    (lambda: broken(_route=_route_with(lambda layer, e, m, s: (layer, np.repeat(e[:, :1], 2, axis=1), m))),
     r"expected distinct experts per token"),
    (lambda: broken(scale_experts=_ignoring_scale_experts),
     r"scale_experts\(top_k=1\) \(routing trace, layer 0\): expected k = 1 experts per token; got 2"),
    (lambda: broken(scale_experts=_leaky_scale_experts,
                    embed_images=lambda self, i: ToyMoE.embed_images(self, i) + getattr(self, "drift", 0.0)),
     r"expected bitwise-identical outputs after scale_experts\(top_k=1\) exits; got \d+ of \d+ values differ"),
    (lambda: broken(_route=_route_with(lambda layer, e, m, s: (layer, e, m))),  # routes around the pruning mask
     r"scale_experts\(keep_experts\) \(routing trace, layer \d\): expected only kept experts \[0, 1\]; got also"),
    (lambda: broken(scale_experts=_lenient_scale_experts),
     r"scale_experts: expected ValueError for top_k=5 \(more than the experts per layer\); got no error"),
    (lambda: broken(_route=_route_with_probs(lambda p, keep: p * 2)),
     r"embed_images \(routing trace, layer 0\): expected probs: router probabilities >= 0, each token's row "
     r"summing to 1; got row sums 2.0000"),
    (lambda: broken(_route=_route_with_probs(lambda p, keep: np.full_like(p, 1 / p.shape[1]))),  # ignores pruning
     r"scale_experts\(keep_experts\) \(routing trace, layer \d\): expected probs: 0 for pruned experts"),
]


@pytest.mark.parametrize(("make", "message"), MODEL_FAILURES, ids=range(len(MODEL_FAILURES)))
def test_check_model_fails_on_a_broken_model(make, message):
    model = make()
    with pytest.raises(AssertionError) as caught:
        check_model(model, name=None if isinstance(model, Generator) else "broken-moe", images=IMAGES, texts=TEXTS)
    text = str(caught.value)
    assert re.search(message, text), text
    assert text.startswith("Generator: " if isinstance(model, Generator) else "broken-moe: ")


class Questions(ColorRetrieval):
    task = Task.MULTIPLE_CHOICE

    def __getitem__(self, i):
        return MCItem(index=i, image=self.items[i].image, question="?", options={"A": "x", "B": "y"}, answer="C")


class Endless(ColorRetrieval):
    def __getitem__(self, i):
        return self.items[i % len(self.items)]


class Unserialisable(ColorRetrieval):
    def describe(self):
        return {"root": object()}


DATASET_FAILURES = [
    (lambda: _with(ColorRetrieval(4), task="retrieval"), {}, r"task: expected a vleval.api.Task; got 'retrieval'"),
    (lambda: _with(ColorRetrieval(4), task=Task.CAPTIONING), {},
     r"__getitem__\(0\): expected a vleval.api.CaptionItem \(task 'captioning'\); got RetrievalItem"),
    (lambda: _with(ColorRetrieval(4), items=[]), {}, r"__len__: expected at least one item; got 0"),
    (lambda: Questions(4), {}, r"__getitem__\(0\): expected answer among the option letters \['A', 'B'\]; got 'C'"),
    (lambda: Endless(4), {}, r"__getitem__\(4\): expected IndexError past the end \(Sequence protocol\); got an item"),
    (lambda: _with(ColorRetrieval(4), content_hash=lambda: "not hex"), {},
     r"content_hash: expected a lowercase hex digest \(>= 16 characters\); got 'not hex'"),
    (lambda: _with(ColorRetrieval(4), content_hash=iter(f"{i:032x}" for i in range(9)).__next__), {},
     r"content_hash: expected the same digest twice \(0+\); got 0+[1-9]"),
    (lambda: Unserialisable(4), {}, r"describe: expected JSON-serialisable facts"),
    (lambda: ColorRetrieval(4), {"fresh": lambda: ColorRetrieval(5)},
     r"content_hash: expected a second instance over the same data to hash [0-9a-f]+ with 4 items; got [0-9a-f]+ "
     r"with 5 items"),
    (lambda: ColorRetrieval(4), {"modified": lambda: ColorRetrieval(4)},
     r"content_hash: expected a different digest when the content changed; got the same digest"),
]


def _with(obj, **attrs):
    for key, value in attrs.items():
        setattr(obj, key, value)
    return obj


@pytest.mark.parametrize(("make", "kwargs", "message"), DATASET_FAILURES, ids=range(len(DATASET_FAILURES)))
def test_check_dataset_fails_on_a_broken_dataset(make, kwargs, message):
    with pytest.raises(AssertionError) as caught:
        check_dataset(make(), name="broken-data", **kwargs)
    assert str(caught.value).startswith("broken-data: ") and re.search(message, str(caught.value)), caught.value


SHIFT_FAILURES = [
    (lambda: _with(NoiseShift(), target=lambda: DatasetSpec("toy-colors", {"n": 24})),
     r"target: expected a domain other than the source"),
    (lambda: _with(NoiseShift(), source=lambda: ("toy-colors", {})), r"source: expected a vleval.api.DatasetSpec"),
    (lambda: _with(NoiseShift(), source=lambda: DatasetSpec("toy-colors", {"path": object()})),
     r"source: expected JSON-serialisable args"),
    (lambda: NoiseShift(dataset="toy-colours"), r"source: expected the name of a registered dataset; got PluginError"),
    (lambda: _with(NoiseShift(), target=lambda: DatasetSpec("toy-questions", {})),
     r"target: expected the source's task Task.RETRIEVAL; got Task.MULTIPLE_CHOICE"),
]


@pytest.mark.parametrize(("make", "message"), SHIFT_FAILURES, ids=range(len(SHIFT_FAILURES)))
def test_check_shift_fails_on_a_broken_shift(registry, make, message):
    with pytest.raises(AssertionError) as caught:
        check_shift(make(), name="broken-shift", registry=registry, create=True)
    assert str(caught.value).startswith("broken-shift: ") and re.search(message, str(caught.value)), caught.value


class Recall(Metric):
    task, primary = Task.RETRIEVAL, "r1"

    def compute(self, outputs):
        best = np.asarray(outputs.similarity).argmax(0) == np.asarray(outputs.text_image)
        return {"r1": MetricValue(float(best.mean()), ci_low=0.0, ci_high=1.0)}


class Mutating(Recall):
    def compute(self, outputs):
        outputs.similarity[0, 0] += 1.0
        return super().compute(outputs)


METRIC_FAILURES = [
    (lambda: _with(Recall(), compute=lambda o: {"r1": MetricValue(float("nan"))}),
     r"compute\['r1'\]: expected a finite float value; got nan"),
    (lambda: _with(Recall(), compute=lambda o: {"r5": MetricValue(1.0)}),
     r"compute: expected the primary value 'r1' among the results; got \['r5'\]"),
    (lambda: _with(Recall(), higher_is_better=None), r"higher_is_better: expected True or False; got None"),
    (lambda: _with(Recall(), primary=""), r"primary: expected the name of a computed value; got ''"),
    (lambda: _with(Recall(), compute=lambda o: {"r1": MetricValue(0.5, ci_low=0.6, ci_high=0.9)}),
     r"compute\['r1'\]: expected ci_low <= value <= ci_high; got \(0.6, 0.5, 0.9\)"),
    (lambda: _with(Recall(), compute=lambda o: {"r1": MetricValue(0.5, stderr=-1.0)}), r"expected stderr >= 0"),
    (lambda: _with(Recall(), compute=lambda o: {"r1": 0.5}), r"compute\['r1'\]: expected a vleval.api.MetricValue"),
    (lambda: Mutating(), r"compute: expected its outputs argument left unmodified"),
    (lambda: _with(Recall(), compute=lambda o: {"r1": MetricValue(float(np.random.random()))}),
     r"compute: expected the same values for the same outputs"),
]


@pytest.mark.parametrize(("make", "message"), METRIC_FAILURES, ids=range(len(METRIC_FAILURES)))
def test_check_metric_fails_on_a_broken_metric(make, message):
    outputs = RetrievalOutputs(similarity=np.eye(3, 6), text_image=np.array([0, 0, 1, 1, 2, 2]))
    with pytest.raises(AssertionError) as caught:
        check_metric(make(), outputs, name="broken-metric")
    assert str(caught.value).startswith("broken-metric: ") and re.search(message, str(caught.value)), caught.value


def test_check_metric_refuses_outputs_of_another_task():
    with pytest.raises(AssertionError, match=r"^broken-metric: compute: expected outputs of type RetrievalOutputs"):
        check_metric(Recall(), sample_outputs(Task.CAPTIONING), name="broken-metric")


def test_the_good_doubles_pass_so_the_failures_above_are_the_breakage():
    check_model(ToyMoE(experts=4), images=IMAGES, texts=TEXTS)
    check_dataset(ColorRetrieval(4))
    outputs = RetrievalOutputs(similarity=np.eye(3, 6), text_image=np.array([0, 0, 1, 1, 2, 2]))
    assert check_metric(Recall(), outputs).passed == ["values", "deterministic"]


def test_plugin_registry_refuses_a_plugin_with_a_misspelled_hook():
    from vleval.api import hookimpl

    class Misspelled:
        __name__ = "misspelled"

        @hookimpl
        def register_model(self, register):
            register(ToyMoE)

    with pytest.raises(AssertionError, match=r"plugin 'misspelled'.*unknown hook 'register_model' \(did you mean "
                                             r"'register_models'\?\)"):
        plugin_registry(Misspelled())
    assert set(plugin_registry(toy_plugins).items["model"]) == {"toy-moe", "toy-text"}


def test_a_model_recording_correct_probs_passes():
    check_model(broken(_route=_route_with_probs(lambda p, keep: p)), name="probs-moe", images=IMAGES, texts=TEXTS)
