"""Plugin outputs checked at the boundary: a misbehaving model fails its cell with a message, never a wrong number."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import explicit_registry
from toy_plugins import ToyMoE

from vleval import hookimpl
from vleval.api import Capability, MCItem
from vleval.engine.checks import PluginOutputError, check_generations, check_scores
from vleval.executors.runner import run_benchmark


class FaultyMoE(ToyMoE):
    """The toy model with one fault injected into its outputs."""

    def __init__(self, fault: str = "none", **kwargs):
        super().__init__(**kwargs)
        self.fault = fault

    def embed_images(self, images):
        out = super().embed_images(images)
        if self.fault == "nan-images":
            return np.full_like(out, np.nan)
        return out[:-1] if self.fault == "rows" else out

    def embed_texts(self, texts):
        out = super().embed_texts(texts)
        return np.hstack([out, out[:, :1]]) if self.fault == "dims" else out

    def score_options(self, items):
        scores = super().score_options(items)
        if self.fault == "nan-scores":
            scores[0][1] = float("nan")
        if self.fault == "few-scores":
            scores = [s[:-1] for s in scores]
        return scores


class FaultyGenerator(ToyMoE):
    capabilities = frozenset({Capability.GENERATE})

    def generate(self, prompts):
        return ["A"] * (len(prompts) - 1)


class FaultyPlugin:
    @hookimpl
    def register_models(self, register):
        register(FaultyMoE, name="faulty-moe", version="0.1.0", description="toy model with injected faults")
        register(FaultyGenerator, name="faulty-gen", version="0.1.0", description="one text short")


CASES = [  # fault, evaluation, words the error must contain
    ("nan-images", {"shifts": [{"name": "toy-noise", "args": {"n": 8}}]},
     ["embed_images", "nan at [0, 0]", "expected finite embeddings"]),
    ("rows", {"shifts": [{"name": "toy-noise", "args": {"n": 8}}]},
     ["embed_images", "returned shape (3, 3) for 4 images", "expected (4, D)"]),
    ("dims", {"shifts": [{"name": "toy-noise", "args": {"n": 8}}]},
     ["embed_texts", "returned dimension 4", "expected 3"]),
    ("nan-scores", {"datasets": [{"name": "toy-questions", "args": {"n": 2}}]},
     ["score_options", "returned nan for option B of item 0", "expected a finite score per option"]),
    ("few-scores", {"datasets": [{"name": "toy-questions", "args": {"n": 2}}]},
     ["score_options", "returned 3 scores for item 0 (4 options A, B, C, D)", "expected one score per option"]),
]


@pytest.mark.parametrize(("fault", "evaluation", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_faulty_output_fails_its_cell_and_the_run_goes_on(tmp_path, fault, evaluation, words):
    bench = {"models": [{"name": "faulty-moe", "args": {"fault": fault}}, {"name": "faulty-moe"}],
             "batch_sizes": [4], "latency": {"warmup": 0, "repetitions": 1}, **evaluation}
    summary = run_benchmark("faults", bench, tmp_path, registry=explicit_registry(FaultyPlugin()))
    bad, good = summary.records
    assert bad["status"] == "failed" and not bad["domains"] and "primary_metric" not in bad
    assert bad["error"]["type"] == "PluginOutputError"
    message = bad["error"]["message"]
    assert message.startswith("model plugin 'faulty-moe': ")
    for word in words:
        assert word in message, message
    assert good["status"] == "ok" and good["domains"]


def test_too_few_generations_fail_the_cell(tmp_path):
    bench = {"models": [{"name": "faulty-gen"}], "datasets": [{"name": "toy-questions", "args": {"n": 2}}],
             "batch_sizes": [4], "latency": {"warmup": 0, "repetitions": 1}}
    (record,) = run_benchmark("gen", bench, tmp_path, registry=explicit_registry(FaultyPlugin())).records
    assert record["status"] == "failed"
    assert record["error"]["message"] == ("model plugin 'faulty-gen': generate returned 3 texts for 4 prompts; "
                                          "expected one string per prompt")


def item(options: int = 4) -> MCItem:
    return MCItem(index=7, image=None, question="?", options=dict(zip("ABCD", "wxyz"[:options], strict=False)),
                  answer="A")


@pytest.mark.parametrize(("scores", "expected"), [
    ([[1.0, 2.0, 3.0, 4.0]], None),
    ([[1.0, 2.0, float("inf"), 4.0]], "returned inf for option C of item 7"),
    ([[1.0, 2.0, 3.0, 4.0, 5.0]], "returned 5 scores for item 7"),
    ([["a", "b", "c", "d"]], "expected 4 numbers"),
    ([], "returned 0 score lists for 1 items"),
    (None, "returned NoneType for 1 items"),
])
def test_option_scores(scores, expected):
    if expected is None:
        check_scores("m", [item()], scores)
    else:
        with pytest.raises(PluginOutputError, match=expected):
            check_scores("m", [item()], scores)


@pytest.mark.parametrize(("texts", "expected"), [
    (["a", "b"], None), ("ab", "returned str for 2 prompts"), (["a", 3], "returned int at position 1"),
])
def test_generations(texts, expected):
    if expected is None:
        check_generations("m", 2, texts)
    else:
        with pytest.raises(PluginOutputError, match=expected):
            check_generations("m", 2, texts)
