"""lm-eval bridge: local YAML tasks over local JSONL data through ``lm_eval.simple_evaluate``, no hub access.

Expected metrics are recomputed here from the transformers model's own logits (plain forwards and ``generate``), not
through the plugin's ``TextLM`` methods, and compared with what lm-eval reports.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch

TASKS = """\
task: tiny_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}/mc.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: acc
---
task: tiny_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}/gen.jsonl
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["?"]
  max_gen_toks: 3
metric_list:
  - metric: exact_match
---
task: tiny_ppl
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}/ppl.jsonl
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{{{text}}}}"
metric_list:
  - metric: word_perplexity
"""


MC = [{"question": f"what color is the {w} ?", "choices": ["red", "blue", "green"], "answer": i % 3}
      for i, w in enumerate(["sky", "sea", "cat", "car"])]
GEN = ["the cat is", "the dog is"]
PPL = ["the big red cat is on the left .", "a small blue car"]


def write_tasks(root, gen_answers):
    rows = {
        "mc": MC,
        "gen": [{"question": q, "answer": a} for q, a in zip(GEN, gen_answers, strict=True)],
        "ppl": [{"text": t} for t in PPL],
    }
    for name, docs in rows.items():
        (root / f"{name}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    for i, text in enumerate(TASKS.format(data=root).split("---\n")):
        (root / f"task{i}.yaml").write_text(text)


# ------------------------------------------------------------------------ independent reference computations


def token_logprobs(model, prefix: list[int], tokens: list[int]) -> float:
    """sum log p(tokens | prefix) from one plain forward of the transformers model."""
    ids = torch.tensor([prefix + tokens])
    with torch.no_grad():
        logits = model.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits[0]
    logp = torch.log_softmax(logits.double(), dim=-1)
    return float(sum(logp[len(prefix) + i - 1, t] for i, t in enumerate(tokens)))


def ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def mc_loglikelihoods(model) -> list[list[float]]:
    """lm-eval's multiple choice: continuation " <choice>" after the question, scored by its summed log p."""
    tok = model.tokenizer
    out = []
    for doc in MC:
        context = ids(tok, doc["question"])
        out.append([token_logprobs(model, context, ids(tok, doc["question"] + " " + c)[len(context):])
                    for c in doc["choices"]])
    return out


def greedy_text(model, context: str, max_new_tokens: int, until: str) -> str:
    """Greedy continuation of the raw context (stops at EOS or padding), special tokens dropped, cut at ``until``."""
    tok = model.tokenizer
    input_ids = torch.tensor([ids(tok, context)])
    with torch.no_grad():
        out = model.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                   max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                                   eos_token_id=[tok.eos_token_id, tok.pad_token_id])
    text = tok.decode(out[0, input_ids.shape[1]:], skip_special_tokens=True).strip()
    return text.split(until)[0]


def rolling_loglikelihood(model, text: str) -> float:
    """Every token of the text, the first one after the tokenizer's BOS (the texts fit in one window)."""
    tok = model.tokenizer
    return token_logprobs(model, [tok.bos_token_id], ids(tok, text))


@pytest.mark.slow
def test_local_tasks_report_exactly_the_metrics_of_the_models_own_loglikelihoods(tmp_path, monkeypatch):
    from fixtures import tiny_hf

    from vleval.engine.latency import LatencyRecorder
    from vleval_models.hf.lm_eval_bridge import evaluate
    from vleval_models.hf.model import HFModel

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    model = HFModel(path=str(tiny_hf.build("mixtral", tmp_path / "mixtral")))
    mc = mc_loglikelihoods(model)
    generated = [greedy_text(model, q, 3, "?") for q in GEN]
    # the first answer is the model's own continuation, the second one it did not produce: exact match 0.5
    answers = [generated[0], "red" if generated[1] != "red" else "blue"]
    ppl = [rolling_loglikelihood(model, t) for t in PPL]
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    write_tasks(tasks, answers)

    recorder = LatencyRecorder()
    results, lm = evaluate(model, ["tiny_mc", "tiny_gen", "tiny_ppl"], include_path=str(tasks), batch_size=3,
                           latency=recorder, bootstrap_iters=0, log_samples=True)

    samples = {doc["doc_id"]: doc for doc in results["samples"]["tiny_mc"]}
    for i, want in enumerate(mc):
        got = [ll for ll, _ in samples[i]["filtered_resps"]]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    accuracy = np.mean([int(np.argmax(lls)) == doc["answer"] for lls, doc in zip(mc, MC, strict=True)])
    assert results["results"]["tiny_mc"]["acc,none"] == pytest.approx(accuracy)
    responses = {doc["doc_id"]: doc["filtered_resps"][0] for doc in results["samples"]["tiny_gen"]}
    assert [responses[i] for i in range(len(GEN))] == generated
    assert results["results"]["tiny_gen"]["exact_match,none"] == pytest.approx(0.5)
    n_words = sum(len(re.split(r"\s+", t)) for t in PPL)
    assert results["results"]["tiny_ppl"]["word_perplexity,none"] == pytest.approx(math.exp(-sum(ppl) / n_words),
                                                                                   rel=1e-5)

    assert {e.phase for e in lm.trace.events} == {"prefill", "decode"}
    assert {e.layer for e in lm.trace.events} == {0, 1}
    summary = recorder.summary()
    # 12 option scorings in batches of 3, 2 generations in one batch, 2 rolling texts in one batch
    assert summary["timed_batches"] == 4 + 1 + 1 and summary["time_per_output_token_ms"] > 0


class Req:
    def __init__(self, *args):
        self.args = args


class CharLM:
    """A TextLM that is not a vleval Model: log p = -(characters of the continuation)."""

    max_length = 64

    def loglikelihood(self, requests):
        return [(-float(len(cont)), False) for _, cont in requests]

    def loglikelihood_rolling(self, texts):
        return [-float(len(t)) for t in texts]

    def generate_until(self, contexts, until, max_new_tokens):
        return [c[::-1][:max_new_tokens] for c in contexts]


def test_bridge_runs_any_textlm_and_captures_routing_only_for_moe_models(tmp_path):
    from fixtures import tiny_hf

    from vleval_models.hf.lm_eval_bridge import VlevalLM
    from vleval_models.hf.model import HFModel

    plain = VlevalLM(CharLM(), batch_size=2)
    assert plain.routed is None and plain.latency is None
    assert plain.loglikelihood([Req("ab", " cd"), Req("x", "y"), Req("", "zzzz")]) == [
        (-3.0, False), (-1.0, False), (-4.0, False)]
    assert plain.generate_until([Req("abc", {"until": ["."], "max_gen_toks": 2})]) == ["cb"]
    with pytest.raises(TypeError, match="TextLM"):
        VlevalLM(object())

    model = HFModel(path=str(tiny_hf.build("qwen3_moe", tmp_path / "q")))
    lm = VlevalLM(model, batch_size=2)
    assert lm.routed is model
    (ll, greedy), = lm.loglikelihood([Req("the cat is", " red")])
    tok = model.tokenizer
    assert ll == pytest.approx(token_logprobs(model, ids(tok, "the cat is"), ids(tok, "red")), abs=1e-5) and ll < 0
    assert {e.phase for e in lm.trace.events} == {"prefill"} and {e.layer for e in lm.trace.events} == {0, 1}
    whole = model.loglikelihood_rolling(["the cat is red"])[0]
    assert whole == pytest.approx(rolling_loglikelihood(model, "the cat is red"), abs=1e-5)
    assert VlevalLM(model, trace=False).routed is None
