"""Routing-capture overhead: median forward time with and without capture on a tiny-but-not-trivial MoE.

    python tools/bench_hf_capture.py [--arch qwen3_moe] [--path CKPT] [--batch 1] [--seq 128] [--reps 40]

Without ``--path`` it builds a random ``bench``-scale checkpoint (8 layers, hidden 256, 16 experts, top-4) in a
temporary directory with the test fixtures' builders (``tests/fixtures/tiny_hf``). Whole public calls are timed (so
the copy of the routing to the trace is included), alternating capture on and off so that drift affects both equally.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

TESTS = Path(__file__).resolve().parents[1] / "tests"


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _time(fn: Callable[[], Any], device: str) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def measure(model: Any, batch: int, seq: int, new_tokens: int, reps: int) -> dict[str, dict[str, float]]:
    """Median seconds of whole model calls with and without routing capture (flush to the trace included).

    ``prefill``: one forward over ``batch`` x ``seq`` tokens (``loglikelihood_tokens``); ``generate``: ``batch``
    greedy generations of ``new_tokens`` tokens from ``seq``-token prompts (prefill + decode steps).
    """
    from vleval.api import Prompt

    gen = torch.Generator().manual_seed(0)
    vocab = len(model.tokenizer)
    ids = [torch.randint(5, vocab, (seq,), generator=gen).tolist() for _ in range(batch)]
    words = model.tokenizer.convert_ids_to_tokens(ids[0])
    prompts = [Prompt(" ".join(words[i:] + words[:i]), max_new_tokens=new_tokens) for i in range(batch)]

    def prefill() -> None:
        model.loglikelihood_tokens([(row[:-1], row[-1:]) for row in ids])

    def generate() -> None:
        model.generate(prompts)

    results: dict[str, dict[str, float]] = {}
    for name, fn in (("prefill", prefill), ("generate", generate)):
        off: list[float] = []
        on: list[float] = []
        for _ in range(2):  # warmup
            fn()
        for _ in range(reps):
            off.append(_time(fn, model.device))
            with model.trace_routing():
                on.append(_time(fn, model.device))
        m_off, m_on = statistics.median(off), statistics.median(on)
        paired = statistics.median(b - a for a, b in zip(off, on, strict=True))
        results[name] = {"off_ms": m_off * 1e3, "on_ms": m_on * 1e3, "overhead_pct": 100 * (m_on / m_off - 1),
                         "paired_diff_ms": paired * 1e3}
    return results


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="qwen3_moe", help="tiny builder to use when --path is not given")
    parser.add_argument("--path", help="an existing local checkpoint instead of a random one")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: least timing noise)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    sys.path.insert(0, str(TESTS))
    from fixtures import tiny_hf

    from vleval_models.hf.model import HFModel

    with tempfile.TemporaryDirectory() as tmp:
        path = args.path or str(tiny_hf.build(args.arch, Path(tmp) / args.arch, scale="bench"))
        model = HFModel(path=path, dtype=args.dtype, device=args.device)
        info = model.info()
        print(f"model {info.architecture}: {info.total_params / 1e6:.1f}M params, {len(info.moe_layers)} MoE layers x "
              f"{info.experts_per_layer[0]} experts, top-{info.top_k}; batch {args.batch} x {args.seq} tokens, "
              f"{args.reps} reps, {torch.get_num_threads()} threads, device {args.device}")
        results = measure(model, args.batch, args.seq, args.new_tokens, args.reps)
    for name, r in results.items():
        print(f"{name:8s} median without capture {r['off_ms']:8.2f} ms   with capture {r['on_ms']:8.2f} ms   "
              f"overhead {r['overhead_pct']:+.2f} % (median paired difference {r['paired_diff_ms']:+.3f} ms)")
    return results


if __name__ == "__main__":
    main()
