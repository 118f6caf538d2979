"""Time and peak extra memory of retrieval recall: vleval, CLIP_benchmark's functions and a full-matrix baseline.

    python tools/bench_recall.py                     # 5,000 images x 25,000 captions, then 10,000 x 50,000
    python tools/bench_recall.py --sizes 1000 --clip # add CLIP_benchmark (pip install --no-deps clip_benchmark)

Each implementation runs in a fresh subprocess on the same seeded similarity matrix (dim 512, 5 captions per
image); "extra MiB" is the peak RSS during the call minus the RSS just before it (the matrix itself excluded).
The script checks that every implementation gives the same R@1/5/10 in both directions. Single-threaded BLAS and
torch, so the figures compare algorithms, not thread counts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KS = (1, 5, 10)


def similarity(n_images: int, captions: int = 5, dim: int = 512, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    images = rng.standard_normal((n_images, dim), dtype=np.float32)
    texts = np.repeat(images, captions, axis=0) + 12.0 * rng.standard_normal((n_images * captions, dim), np.float32)
    owner = np.repeat(np.arange(n_images), captions)
    return images @ texts.T, owner


def run_vleval(sim, owner) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "plugins"))
    from vleval.api import RetrievalOutputs
    from vleval_metrics.retrieval import RetrievalRecall

    values = RetrievalRecall().compute(RetrievalOutputs(similarity=sim, text_image=owner))
    return {k: v.value for k, v in values.items() if k != "rsum"}


def run_full_matrix(sim, owner) -> dict[str, float]:
    """Plain baseline: a full stable argsort of both directions."""
    import numpy as np

    order = np.argsort(-sim, axis=1, kind="stable")
    own = owner[order] == np.arange(len(sim))[:, None]
    i2t = own.argmax(axis=1)
    del order, own
    order_t = np.argsort(-sim.T, axis=1, kind="stable")
    t2i = (order_t == owner[:, None]).argmax(axis=1)
    out = {}
    for k in KS:
        out[f"i2t_r{k}"] = 100.0 * float((i2t < k).mean())
        out[f"t2i_r{k}"] = 100.0 * float((t2i < k).mean())
    return out


def run_clip_benchmark(sim, owner) -> dict[str, float]:
    """CLIP_benchmark's own ``recall_at_k`` + ``batchify``, called as its ``evaluate`` calls them (batch 64)."""
    import torch
    from clip_benchmark.metrics.zeroshot_retrieval import batchify, recall_at_k

    scores = torch.from_numpy(sim.T.copy())  # texts x images, as CLIP_benchmark builds it
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(scores)), torch.from_numpy(owner)] = True
    out = {}
    for k in KS:  # their per-query hits (recall > 0), averaged in float64 so that equal hits give equal figures
        out[f"t2i_r{k}"] = 100.0 * (batchify(recall_at_k, scores, positive, 64, "cpu", k=k) > 0).double().mean().item()
        hits = batchify(recall_at_k, scores.T, positive.T, 64, "cpu", k=k) > 0
        out[f"i2t_r{k}"] = 100.0 * hits.double().mean().item()
    return out


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(name: str, n_images: int) -> None:
    sim, owner = similarity(n_images)
    before = _rss_mib()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    values = {"vleval": run_vleval, "full-matrix": run_full_matrix, "clip_benchmark": run_clip_benchmark}[name](
        sim, owner
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    extra = max(peak - before, 0.0) if peak > peak_before else 0.0
    print(json.dumps({"seconds": seconds, "extra_mib": extra, "values": values}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000], help="numbers of images")
    parser.add_argument("--clip", action="store_true", help="also run CLIP_benchmark's functions")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    names = ["vleval", "full-matrix"] + (["clip_benchmark"] if args.clip else [])
    results: dict[tuple[str, int], dict] = {}
    print(f"{'implementation':<16} {'images x texts':>16} {'seconds':>9} {'extra MiB':>10}")
    for n in args.sizes:
        for name in names:
            proc = subprocess.run([sys.executable, __file__, "--child", name, str(n)], env=env, capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                print(f"{name:<16} {n:>7} x {5 * n:<7} failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            results[name, n] = result
            print(f"{name:<16} {n:>7} x {5 * n:<7} {result['seconds']:>9.2f} {result['extra_mib']:>10.0f}")
        reference = results.get(("vleval", n), {}).get("values")
        for name in names[1:]:
            other = results.get((name, n), {}).get("values")
            if reference and other:
                same = all(abs(reference[k] - other[k]) < 1e-9 for k in reference)
                print(f"  {name} recall values {'identical to' if same else 'DIFFER from'} vleval's: {other}")
    if len(args.sizes) > 1 and ("vleval", args.sizes[0]) in results and ("vleval", args.sizes[-1]) in results:
        ratio = results["vleval", args.sizes[-1]]["seconds"] / results["vleval", args.sizes[0]]["seconds"]
        pairs = (args.sizes[-1] / args.sizes[0]) ** 2
        print(f"vleval time x{ratio:.2f} for x{pairs:.0f} pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
