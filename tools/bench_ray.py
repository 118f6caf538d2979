"""Cells/s with the Ray executor (a local cluster, 2 CPUs: 2 worker processes) vs in-process, on CPU-bound cells.

    python tools/bench_ray.py [--cells 16] [--cell-s 2.0] [--repeats 3]

Each cell evaluates a toy colour-matching model (``tests/toy_plugins.py``) whose image calls burn a fixed amount of
CPU (a pure-Python loop, ``--cell-s`` CPU seconds per cell in all, calibrated in CPU time, best of 5 tries: see
:func:`loop_rate`), so the work does not depend on the executor. Both sides run the same benchmark through
``run_benchmark`` from this process; the wall time of a whole run (planning, identities, every cell, every append;
for Ray also connecting and starting its workers, but not starting the cluster) gives cells/s.
Prints the medians over ``--repeats`` runs and their ratio (goal: >= 1.7 on 2 cores), and the load average: other
processes on the cores take from the 2 workers first, so the figure means something only on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before ray is imported: the cluster lives on 127.0.0.1

SPIN = '''
from toy_plugins import ToyMoE
from vleval import hookimpl


class SpinMoE(ToyMoE):
    """The toy model; each image call first runs ``spin`` iterations of a pure-Python loop (fixed CPU work)."""

    def __init__(self, spin=100000, **kwargs):
        super().__init__(**kwargs)
        self.spin = spin

    def embed_images(self, images):
        x = 0
        for i in range(self.spin):
            x += i & 7
        return super().embed_images(images)


@hookimpl
def register_models(register):
    register(SpinMoE, name="spin-moe", version="0.1.0", description="burns CPU per image call")
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(root: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = root / "ray-start.log"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
         "--port", str(port), "--num-cpus", "2", "--num-gpus", "0", "--object-store-memory", str(100 * 2**20),
         "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", str(root / "t"),
         "--ray-client-server-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port()),
         "--dashboard-port", str(free_port())],
        stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)  # noqa: SIM115
    deadline = time.monotonic() + 120
    while "Ray runtime started" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"ray start failed:\n{log.read_text()}")
        time.sleep(0.3)
    return proc, f"127.0.0.1:{port}"


def loop_rate(tries: int = 5) -> float:
    """Iterations per CPU second of the spin loop, measured in CPU time, the best of ``tries``: a process sharing the
    core (or its sibling hyper-thread) slows the loop per CPU second too, and a rate measured then would make every
    cell shorter than ``--cell-s`` (by a quarter, seen), so the fixed costs of a run would weigh more."""
    rates = []
    for _ in range(tries):
        start, x, n = time.process_time(), 0, 500_000
        for i in range(n):
            x += i & 7
        rates.append(n / (time.process_time() - start))
    return max(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=16)
    parser.add_argument("--cell-s", type=float, default=2.0, help="CPU seconds of model work per cell")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from vleval.executors.in_process import InProcessExecutor
    from vleval.executors.ray_executor import RayExecutor, RayOptions, worker_env
    from vleval.executors.runner import run_benchmark
    from vleval.registry.discovery import Registry

    root = Path(tempfile.mkdtemp(prefix="vleval-bench-ray-"))
    site = root / "site"
    info = site / "spin_dist-0.1.0.dist-info"
    info.mkdir(parents=True)
    (site / "spin_plugin.py").write_text(SPIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: spin-dist\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[vleval]\ntoy = toy_plugins\nspin = spin_plugin\n")
    sys.path[:0] = [str(site), str(TESTS)]
    os.environ.setdefault("VLEVAL_CACHE", str(root / "cache"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import spin_plugin
    import toy_plugins

    import vleval_metrics.plugin

    registry = Registry.discover(extra_plugins=[toy_plugins, spin_plugin, vleval_metrics.plugin], entry_points=False)
    calls = 2 * 2 * 2  # 2 domains x (traced pass + 1 timed pass) x 2 batches of 4 images
    spin = int(args.cell_s / calls * loop_rate())
    bench = {"models": [{"name": "spin-moe", "args": {"spin": spin},
                         "sweep": {"experts": list(range(2, 2 + args.cells))}}],
             "shifts": [{"name": "toy-noise", "args": {"n": 8}}], "batch_sizes": [4],
             "latency": {"warmup": 0, "repetitions": 1}}
    env = {**worker_env(os.environ), "PYTHONPATH": os.pathsep.join([str(site), str(TESTS)])}
    proc, address = start_cluster(root)
    times: dict[str, list[float]] = {"in-process": [], "ray (2 workers)": []}
    try:
        for r in range(args.repeats):
            for name, executor in (("in-process", lambda: InProcessExecutor(registry)),
                                   ("ray (2 workers)", lambda: RayExecutor(RayOptions(address=address, env=env),
                                                                           registry=registry))):
                start = time.perf_counter()
                summary = run_benchmark("bench", bench, root / f"{name[:3]}-{r}", executor=executor())
                times[name].append(time.perf_counter() - start)
                if summary.failed or len(summary.results) != args.cells:
                    sys.exit(f"{name}: {summary.failed} failed cell(s) of {len(summary.results)}")
                print(f"  {name:16s} run {r + 1}: {times[name][-1]:6.2f} s", flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    rates = {name: args.cells / statistics.median(t) for name, t in times.items()}
    print(json.dumps({"load_average_1m_at_end": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
                      "cells": args.cells, "cpu_s_per_cell": args.cell_s, "repeats": args.repeats,
                      "median_s": {k: round(statistics.median(t), 2) for k, t in times.items()},
                      "cells_per_s": {k: round(v, 3) for k, v in rates.items()},
                      "ratio": round(rates["ray (2 workers)"] / rates["in-process"], 2)}, indent=2))


if __name__ == "__main__":
    main()
