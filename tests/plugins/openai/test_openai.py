"""The ``openai`` model plugin against a real OpenAI-compatible server on 127.0.0.1 serving a tiny HF MoE VLM.

The server (``tests/openai_server.py``) answers with the project's own ``HFModel``, so generations, logprobs and
routed experts are checked against what that model produces in process.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TESTS
from openai_server import HFBackend, OpenAIServer, State
from PIL import Image

sys.path.insert(0, str(TESTS.parent / "plugins"))

import vleval_openai.plugin  # noqa: E402
from vleval.api import Capability, MCItem, Prompt, extract_choice, mc_prompt  # noqa: E402
from vleval.engine.latency import LatencyRecorder  # noqa: E402
from vleval.registry.discovery import Registry  # noqa: E402
from vleval_openai.client import ServerError, public_url, retry_after_s  # noqa: E402
from vleval_openai.routing import decode_payload  # noqa: E402

ARCH = "qwen3_vl_moe"
SECRET = "sk-test-0123456789abcdef"


def _build(arch: str, out: Path) -> Path:
    try:
        from fixtures.tiny_hf import build
    except ImportError:  # before the fixture move
        from vleval_models.hf.tiny import build
    return build(arch, out)


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    from vleval_models.hf.model import HFModel

    return HFModel(path=str(_build(ARCH, tmp_path_factory.mktemp("openai") / ARCH)))


@pytest.fixture(scope="module")
def backend(hf):
    return HFBackend(hf)


@pytest.fixture
def server(backend):
    with OpenAIServer(backend, State()) as srv:
        yield srv


@pytest.fixture(scope="module")
def registry():
    return Registry.discover(extra_plugins=[vleval_openai.plugin], entry_points=False)


def make(registry, server, **args):
    model = registry.create("model", "openai", {"base_url": server.url, "backoff_s": 0.01, "timeout_s": 20, **args})
    return model


def image(seed: int):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8))


PROMPTS = [Prompt("what color is the cat ?", image(0), 6), Prompt("describe this picture", image(1), 5),
           Prompt("which shape is left ?", None, 4)]
ITEMS = [MCItem(index=i, image=image(10 + i), question=q, options={"A": "red", "B": "blue", "C": "cat", "D": "dog"},
                answer="A") for i, q in enumerate(["what color is it ?", "what is in the picture ?"])]


# --------------------------------------------------------------------------------------------- registration


def test_registered(registry):
    reg = registry.get("model", "openai")
    assert reg.version == "0.1.0"


# ------------------------------------------------------------------------------------------------ generation


def test_generation_equals_the_hf_models_own(registry, server, hf):
    model = make(registry, server)
    got = model.generate(PROMPTS)
    assert got == [hf.generate([p])[0] for p in PROMPTS]
    assert any(got)  # not trivially empty
    bodies = {b["messages"][0]["content"][-1]["text"]: b for b in (r["body"] for r in server.state.chat_requests())}
    assert all(b["stream"] is True and b["temperature"] == 0.0 for b in bodies.values())
    parts = bodies[PROMPTS[0].text]["messages"][0]["content"]
    assert parts[0]["type"] == "image_url" and parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(parts[0]["image_url"]["url"].split(",", 1)[1])))
    np.testing.assert_array_equal(np.asarray(sent), np.asarray(PROMPTS[0].image))  # lossless
    assert len(bodies[PROMPTS[2].text]["messages"][0]["content"]) == 1  # no image, no image part
    assert model.capabilities == frozenset({Capability.GENERATE})


def test_streaming_timings_reach_the_latency_protocol(registry, server):
    server.state.token_delay_s = 0.02
    model = make(registry, server, concurrency=1)
    recorder = LatencyRecorder()
    with recorder.measure(len(PROMPTS)):
        model.generate(PROMPTS)
    done = [c for c in model.completions if c.streamed]
    assert len(done) == 3
    for c in done:
        assert 0 < c.ttft_s <= c.e2e_s
        assert c.chunk_s == sorted(c.chunk_s) and all(c.ttft_s <= t <= c.e2e_s for t in c.chunk_s)
        assert c.completion_tokens >= 2
    summary = recorder.summary()
    assert summary["time_to_first_token_ms"]["p50"] >= 20  # the first token waits one token delay
    assert recorder.phase_tokens["decode"] == sum(c.completion_tokens - 1 for c in done)
    assert summary["time_per_output_token_ms"] >= 15  # ~20 ms per streamed token
    client = model.latency_summary()
    assert client["requests"] == 3 and client["concurrency"] == 1
    assert client["ttft_ms"]["p50"] <= client["e2e_ms"]["p50"]
    tpot = [(c.e2e_s - c.ttft_s) / (c.completion_tokens - 1) for c in done]
    assert client["tpot_ms"]["mean"] == pytest.approx(np.mean(tpot) * 1e3)


def test_multiple_choice_by_generation(registry, server, hf):
    model = make(registry, server)
    scores = model.score_options(ITEMS)
    answers = [hf.generate([Prompt(mc_prompt(item), item.image, 8)])[0] for item in ITEMS]
    expected = [[1.0 if k == extract_choice(a, item.options) else 0.0 for k in item.options]
                for a, item in zip(answers, ITEMS, strict=True)]
    assert scores == expected


def test_multiple_choice_by_logprobs_equals_hf_loglikelihood(registry, server, hf):
    model = make(registry, server, mc_mode="logprobs", top_logprobs=1000)
    assert Capability.SCORE_OPTIONS in model.capabilities
    got = np.asarray(model.score_options(ITEMS))
    expected = np.asarray(hf.score_options(ITEMS))  # log p(letter | prompt), one forward without cache
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert all(b["max_tokens"] == 1 and b["logprobs"] for b in (r["body"] for r in server.state.chat_requests()))


def test_logprobs_mode_needs_logprobs(registry, server):
    model = make(registry, server, mc_mode="logprobs", top_logprobs=0)
    with pytest.raises(RuntimeError, match="no logprobs"):
        model.score_options(ITEMS[:1])


# --------------------------------------------------------------------------------------------------- routing


def _by_key(events):
    out = {}
    for e in events:
        assert (e.layer, e.phase) not in out
        out[(e.layer, e.phase)] = e
    return out


@pytest.mark.parametrize("fmt", ["sglang", "vllm"])
def test_routing_from_the_server_equals_the_hf_trace(registry, server, hf, fmt):
    server.state.vllm_routing = fmt == "vllm"
    info = hf.info()
    model = make(registry, server, routing=fmt, num_experts=info.experts_per_layer[0], top_k=info.top_k,
                 moe_layers=list(range(info.num_layers)), image_token_ids=list(hf.image_token_ids))
    for prompt in PROMPTS[:2]:
        with model.trace_routing() as got:
            model.generate([prompt])
        with hf.trace_routing() as want:
            hf.generate([prompt])
        got_e, want_e = _by_key(got.events), _by_key(want.events)
        assert set(got_e) == set(want_e) and {p for _, p in got_e} == {"prefill", "decode"}
        for key, w in want_e.items():
            g = got_e[key]
            assert g.num_experts == w.num_experts
            np.testing.assert_array_equal(g.experts, w.experts)
            np.testing.assert_array_equal(g.modality, w.modality)
        assert want_e[(0, "prefill")].modality.sum() > 0  # the image tokens are told apart
    body = server.state.chat_requests()[-1]["body"]
    assert body["stream"] is False  # the traced pass asks for the routing, unstreamed
    assert body.get("return_routed_experts", False) is (fmt == "sglang")
    assert model.info().extra["routing"].startswith("from the server")


def test_routing_unavailable(registry, server):
    model = make(registry, server)
    with model.trace_routing() as trace:
        model.generate(PROMPTS[:1])
    assert trace.events == []
    assert model.info().extra["routing"].startswith("unavailable")
    vllm = make(registry, server, routing="vllm", num_experts=4, top_k=2)  # server without the flag
    with pytest.raises(RuntimeError, match="--enable-return-routed-experts"), vllm.trace_routing():
        vllm.generate(PROMPTS[:1])


def test_sglang_payload_needs_a_consistent_shape():
    import base64

    payload = base64.b64encode(np.arange(12, dtype="<i4").tobytes()).decode()
    assert decode_payload(payload, "sglang", tokens=3, top_k=2).shape == (3, 2, 2)
    with pytest.raises(ValueError, match="not \\[tokens=5"):
        decode_payload(payload, "sglang", tokens=5, top_k=2)


# ---------------------------------------------------------------------------------------- retries and errors


def test_retries_recover_from_429_5xx_and_drops(registry, server, hf):
    server.state.faults.extend(["429", "500", "drop", "drop_mid", "503"])
    server.state.retry_after = "0.5"
    model = make(registry, server, max_retries=5)
    assert model.generate(PROMPTS[:1]) == hf.generate([PROMPTS[0]])
    sent = [r["t"] for r in server.state.chat_requests()]
    assert len(sent) == 6
    assert sent[1] - sent[0] >= 0.5  # Retry-After honoured over the 0.01 s backoff
    assert sent[2] - sent[1] < 0.4  # then exponential backoff from 0.01 s (0.02 s before the third try)
    assert model.transport.attempts == 7  # GET /v1/models (the model id) + 6 POSTs


def test_retries_give_up_with_a_clear_error(registry, server, caplog, monkeypatch):
    monkeypatch.setenv("VLEVAL_TEST_KEY", SECRET)
    server.state.faults.extend(["503"] * 3)
    model = make(registry, server, max_retries=2, api_key_env="VLEVAL_TEST_KEY")
    with caplog.at_level(logging.DEBUG), pytest.raises(ServerError) as err:
        model.generate(PROMPTS[:1])
    message = str(err.value)
    assert server.url in message and "503" in message and "3 attempt" in message
    assert err.value.status == 503
    assert len(server.state.chat_requests()) == 3
    assert SECRET not in message and SECRET not in caplog.text


def test_client_errors_are_not_retried(registry, server):
    server.state.faults.append("400")
    model = make(registry, server, max_retries=3)
    with pytest.raises(ServerError, match="HTTP 400") as err:
        model.generate(PROMPTS[:1])
    assert err.value.status == 400 and len(server.state.chat_requests()) == 1


def test_api_key_is_sent_but_never_recorded_or_logged(registry, server, caplog, monkeypatch):
    monkeypatch.setenv("VLEVAL_TEST_KEY", SECRET)
    server.state.faults.extend(["500", "500"])
    server.state.leak_auth = True  # the injected errors echo the Authorization header, as a careless server might
    model = make(registry, server, api_key_env="VLEVAL_TEST_KEY", max_retries=1)
    with caplog.at_level(logging.DEBUG), pytest.raises(ServerError) as err:
        model.generate(PROMPTS[:1])
    assert "***" in str(err.value) and SECRET not in str(err.value)
    assert "***" in caplog.text and SECRET not in caplog.text
    model.generate(PROMPTS[:1])
    assert {r["authorization"] for r in server.state.requests} == {f"Bearer {SECRET}"}
    assert SECRET not in json.dumps(model.info().__dict__, default=str)
    with pytest.raises(ValueError, match="VLEVAL_MISSING_KEY") as missing:
        make(registry, server, api_key_env="VLEVAL_MISSING_KEY")
    assert SECRET not in str(missing.value)


# ------------------------------------------------------------------------------------- cache and concurrency


def test_cache_answers_repeats_but_never_a_timed_call(registry, server, tmp_path):
    model = make(registry, server, cache_dir=str(tmp_path))
    first = model.generate(PROMPTS)
    assert model.generate(PROMPTS) == first
    assert len(server.state.chat_requests()) == 3
    resumed = make(registry, server, cache_dir=str(tmp_path))  # a resumed run: a new process, the same cache
    assert resumed.generate(PROMPTS) == first and len(server.state.chat_requests()) == 3
    assert resumed.cache_hits == 3 and all(c.cached for c in resumed.completions)
    assert resumed.latency_summary()["cached_requests_excluded"] == 3
    with LatencyRecorder().measure(3):  # timed: always the live server
        assert resumed.generate(PROMPTS) == first
    assert len(server.state.chat_requests()) == 6
    changed = make(registry, server, cache_dir=str(tmp_path), max_new_tokens=2)  # other request: other key
    changed.generate(PROMPTS[:1])
    assert len(server.state.chat_requests()) == 7


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_bound(registry, server, concurrency):
    server.state.hold_s = 0.15
    model = make(registry, server, concurrency=concurrency)
    prompts = [Prompt(f"what color is the {w} ?", None, 2) for w in ("cat", "dog", "car", "tree", "sky", "sea")]
    model.generate(prompts)
    assert server.state.max_in_flight == concurrency
    assert model.latency_summary()["concurrency"] == model.info().extra["concurrency"] == concurrency


# ----------------------------------------------------------------------------------------------------- info


def test_info_from_the_server_and_arguments(registry, server, backend):
    model = make(registry, server, num_experts=4, top_k=2, moe_layers=[0, 1], total_params=1000,
                 active_params_per_token=600)
    info = model.info()
    assert info.architecture == "openai-compatible"
    assert info.name == f"openai:{backend.name}"
    assert (info.moe_layers, info.experts_per_layer, info.top_k) == ([0, 1], [4, 4], 2)
    assert info.extra["server_models"][0]["owned_by"] == "vleval-tests"
    assert info.extra["base_url"] == server.url


def test_url_and_retry_after_helpers():
    assert public_url("https://user:pw@example.org:8443/v1/?x=1") == "https://example.org:8443/v1"
    assert retry_after_s("2.5") == 2.5 and retry_after_s(None) is None and retry_after_s("soon") is None
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= retry_after_s(date) <= 31


def test_body_encoding_is_canonical_json_and_images_are_encoded_once():
    from vleval_openai import bodies
    from vleval_openai.cache import request_key

    picture = image(7)
    body = bodies.chat_body("m", 'say "hi" \\ now', picture, 4, stream=True)
    data = bodies.encode(body)
    assert json.loads(data) == body
    assert data == json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert bodies.image_url(picture) is bodies.image_url(picture)  # memoised per image object
    assert bodies.image_url(image(7)) == bodies.image_url(picture)  # same pixels, same URL
    keys = {request_key(u, m, data) for u in ("http://a/v1", "http://b/v1") for m in ("m", "n")}
    assert len(keys) == 4


@pytest.mark.parametrize("mc_mode", ["generate", "logprobs"])
def test_conformance_kit(registry, server, hf, mc_mode):
    from vleval.testing import check_model

    info = hf.info()
    model = make(registry, server, mc_mode=mc_mode, routing="sglang", num_experts=info.experts_per_layer[0],
                 top_k=info.top_k, moe_layers=list(range(info.num_layers)), image_token_ids=list(hf.image_token_ids),
                 max_new_tokens=4)
    check_model(model, name="openai", scaling=False)  # inference-time expert scaling is the server's business


# ------------------------------------------------------------------------------------------------- pipeline


def test_a_benchmark_runs_through_the_server_and_resumes_from_the_cache(server, hf, tmp_path):
    from conftest import explicit_registry

    from vleval.executors.runner import run_benchmark
    from vleval.results.store import read_records

    info = hf.info()
    args = {"base_url": server.url, "cache_dir": str(tmp_path / "cache"), "concurrency": 2, "max_new_tokens": 3,
            "routing": "sglang", "num_experts": info.experts_per_layer[0], "top_k": info.top_k,
            "moe_layers": list(range(info.num_layers)), "image_token_ids": list(hf.image_token_ids)}
    bench = {"models": [{"name": "openai", "args": args}], "datasets": [{"name": "toy-questions", "args": {"n": 2}}],
             "batch_sizes": [4], "latency": {"warmup": 1, "repetitions": 1}}
    registry = explicit_registry(vleval_openai.plugin)
    run_benchmark("served", bench, tmp_path / "out", registry=registry)
    ((_, record),) = read_records(tmp_path / "out" / "served.jsonl")
    assert record["status"] == "ok", record.get("error")
    (domain,) = record["domains"].values()
    latency = domain["latency"]
    assert latency["time_to_first_token_ms"]["p50"] > 0 and latency["time_per_output_token_ms"] > 0
    assert domain["routing"]["tokens"]["image"] > 0 and domain["routing"]["tokens"]["text"] > 0
    assert record["model_info"]["architecture"] == "openai-compatible"
    first = len(server.state.chat_requests())
    run_benchmark("served", bench, tmp_path / "out2", registry=registry)
    ((_, again),) = read_records(tmp_path / "out2" / "served.jsonl")
    assert again["status"] == "ok"
    timed = len(server.state.chat_requests()) - first  # warmup and the traced pass came from the cache
    assert timed == latency["timed_samples"]
