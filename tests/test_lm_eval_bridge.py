"""lm-eval bridge: local YAML tasks over local JSONL data through ``lm_eval.simple_evaluate``, no hub access."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


def write_tasks(root):
    rows = {
        "mc": [{"question": f"what color is the {w} ?", "choices": ["red", "blue", "green"], "answer": i % 3}
               for i, w in enumerate(["sky", "sea", "cat", "car"])],
        "gen": [{"question": "the cat is", "answer": "red"}, {"question": "the dog is", "answer": "blue"}],
        "ppl": [{"text": "the big red cat is on the left ."}, {"text": "a small blue car"}],
    }
    for name, docs in rows.items():
        (root / f"{name}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    for i, text in enumerate(TASKS.format(data=root).split("---\n")):
        (root / f"task{i}.yaml").write_text(text)


def test_local_tasks_run_through_simple_evaluate_with_routing_and_latency(tmp_path, monkeypatch):
    from vleval.lm_eval_bridge import evaluate
    from vleval_models.hf import tiny
    from vleval_models.hf.model import HFModel

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    write_tasks(tasks)
    model = HFModel(path=str(tiny.build("mixtral", tmp_path / "mixtral")))
    results, lm = evaluate(model, ["tiny_mc", "tiny_gen", "tiny_ppl"], include_path=str(tasks), batch_size=3,
                           bootstrap_iters=0, log_samples=False)
    assert 0.0 <= results["results"]["tiny_mc"]["acc,none"] <= 1.0
    assert "exact_match,none" in results["results"]["tiny_gen"]
    assert results["results"]["tiny_ppl"]["word_perplexity,none"] > 1.0
    phases = {e.phase for e in lm.trace.events}
    assert phases == {"prefill", "decode"}
    assert {e.layer for e in lm.trace.events} == {0, 1}
    summary = lm.latency.summary()
    # 12 option scorings in batches of 3, 2 generations in one batch, 2 rolling texts in one batch
    assert summary["timed_batches"] == 4 + 1 + 1 and summary["time_per_output_token_ms"] > 0


def test_bridge_matches_the_model_and_imports_lm_eval_lazily(tmp_path):
    from vleval.lm_eval_bridge import VlevalLM
    from vleval_models.hf import tiny
    from vleval_models.hf.model import HFModel

    model = HFModel(path=str(tiny.build("qwen3_moe", tmp_path / "q")))
    lm = VlevalLM(model, batch_size=2)

    class Req:
        def __init__(self, *args):
            self.args = args

    (ll, greedy), = lm.loglikelihood([Req("the cat is", " red")])
    assert ll == pytest.approx(model.loglikelihood([("the cat is", " red")])[0][0]) and ll < 0
    whole = model.loglikelihood_rolling(["the cat is red"])[0]
    parts = model.loglikelihood([("", "the cat is red")])[0][0]
    assert whole == pytest.approx(parts, abs=1e-4)
    code = "import sys, vleval.lm_eval_bridge; assert 'lm_eval' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
