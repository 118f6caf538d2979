"""Client overhead of the ``openai`` plugin per request, against a loopback server that answers instantly.

``baseline``: a bare ``http.client`` loop POSTing the same pre-serialised body and reading the SSE stream to
``[DONE]`` without parsing. ``plugin``: ``OpenAIModel.generate`` on one prompt (body building, thread pool, SSE
parsing, timing bookkeeping and phase spans inside a core latency measurement). The difference of the medians is the
plugin's overhead per request (goal: <= 1 ms). The image is the same object every time, as in the core's timed
passes, so its PNG encoding is memoised; its one-off cost is printed separately.

    .venv/bin/python tools/bench_openai_client.py [-n 400] [--tokens 16]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "plugins")]

from openai_server import InstantBackend, OpenAIServer  # noqa: E402

from vleval.api import Prompt  # noqa: E402
from vleval.engine.latency import LatencyRecorder  # noqa: E402
from vleval_openai import bodies  # noqa: E402
from vleval_openai.model import OpenAIModel  # noqa: E402


def _connect(url: str) -> http.client.HTTPConnection:
    host, port = url.split("//")[1].split("/")[0].split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def baseline(conn: http.client.HTTPConnection, body: bytes, n: int) -> list[float]:
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
        resp = conn.getresponse()
        while resp.readline().strip() != b"data: [DONE]":
            pass
        resp.read()
        out.append(time.perf_counter() - t0)
    return out


def plugin(model: OpenAIModel, prompt: Prompt, n: int) -> list[float]:
    recorder = LatencyRecorder()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        with recorder.measure(1):
            model.generate([prompt])
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=400, help="timed requests per variant (after 30 warmup)")
    parser.add_argument("--tokens", type=int, default=16, help="streamed tokens per answer")
    args = parser.parse_args()
    import numpy as np
    from PIL import Image

    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (336, 336, 3), dtype=np.uint8))
    with OpenAIServer(InstantBackend(tokens=args.tokens)) as server:
        model = OpenAIModel(base_url=server.url, model="instant", concurrency=1)
        print(f"loopback server {server.url}, {args.tokens} streamed tokens per answer, n = {args.n}, medians:")
        for label, prompt in [("text only", Prompt("describe it", None, args.tokens)),
                              ("336x336 image", Prompt("describe it", image, args.tokens))]:
            body = bodies.chat_body("instant", prompt.text, prompt.image, args.tokens, stream=True)
            raw = bodies.encode(body)  # the very bytes the plugin sends
            conn = _connect(server.url)
            baseline(conn, raw, 30), plugin(model, prompt, 30)  # warmup
            pairs = [(baseline(conn, raw, 1)[0], plugin(model, prompt, 1)[0]) for _ in range(args.n)]  # interleaved
            conn.close()
            base = statistics.median(p[0] for p in pairs) * 1e3
            full = statistics.median(p[1] for p in pairs) * 1e3
            diff = statistics.median(p[1] - p[0] for p in pairs) * 1e3
            print(f"  {label:14s} baseline {base:7.3f} ms   plugin {full:7.3f} ms   overhead {full - base:+7.3f} ms "
                  f"(median of paired differences {diff:+.3f} ms)")
        cold = statistics.median(_time(lambda: bodies.encode_png(image), 50)) * 1e3
        print(f"  PNG encoding of the 336x336 image, once per image object (memoised): {cold:.3f} ms")
        model.close()


def _time(fn, n: int = 200) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


if __name__ == "__main__":
    main()
