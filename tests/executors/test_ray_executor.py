"""The Ray executor on a real local cluster (``ray start --head`` on 127.0.0.1, 2 CPUs: 2 worker processes), started
once for the module and stopped at teardown: same numbers as in-process, a worker killed mid-cell retried and
recorded once, every try failing recorded as failed, per-cell resources and exclusive latency nodes respected, a
driver SIGKILLed mid-run completed by ``--resume`` with each cell exactly once."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import TESTS, explicit_registry, make_distribution, toy_benchmark

from vleval.config.load import ConfigError
from vleval.executors.errors import ExecutorError
from vleval.executors.runner import run_benchmark
from vleval.results.store import scan

LOCAL = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # Ray's node IP = 127.0.0.1: no traffic leaves loopback
os.environ.update(LOCAL)  # before ray is imported: it reads this once, and the driver must see the cluster's IP
ray = pytest.importorskip("ray", reason="the Ray executor's tests need pip install 'vleval[ray]'")
from vleval.executors.ray_executor import RayExecutor, RayOptions, import_ray, worker_env  # noqa: E402

PROBE = '''
import os, time
from toy_plugins import ToyMoE
from vleval import hookimpl


class ProbeMoE(ToyMoE):
    """The toy model; logs each image call (experts, pid, start, end) to ``log``; with ``hang_once``, the first
    call anywhere writes its pid to that file and sleeps (a test kills it), later calls run normally."""

    def __init__(self, log="", hang_once="", **kwargs):
        super().__init__(**kwargs)
        self.log, self.hang_once = log, hang_once

    def embed_images(self, images):
        if self.hang_once and not os.path.exists(self.hang_once):
            with open(self.hang_once + ".tmp", "w") as handle:
                handle.write(str(os.getpid()))
            os.replace(self.hang_once + ".tmp", self.hang_once)
            time.sleep(600)
        start = time.time()
        out = super().embed_images(images)
        if self.log:
            with open(self.log, "a") as handle:
                handle.write(f"{self.experts} {os.getpid()} {start} {time.time()}\\n")
        return out


@hookimpl
def register_models(register):
    register(ProbeMoE, name="ray-probe", version="0.1.0", description="logs its calls; hangs once on demand")
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def no_driver_left_behind():
    """Every test leaves this process disconnected: Ray ends a driver whose cluster has gone away (some time after
    the module's cluster stops), which would kill the whole test session."""
    yield
    if "ray" in sys.modules:
        assert not sys.modules["ray"].is_initialized(), "a test left this process connected to the Ray cluster"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``(address, site)``: a local Ray cluster (2 CPUs, a custom resource ``toy_slot = 1``, 100 MiB object store)
    and a site directory whose entry points register the toy, fault and probe plugins on the workers."""
    root = tmp_path_factory.mktemp("ray")
    site = make_distribution(root / "site", "ray-test-dist",
                             {"toy": "toy_plugins", "faults": "fault_plugins", "probe": "ray_probe"},
                             {"ray_probe": PROBE})
    port = free_port()
    log = open(root / "ray-start.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
         "--port", str(port), "--num-cpus", "2", "--num-gpus", "0", "--resources", json.dumps({"toy_slot": 1}),
         "--object-store-memory", str(100 * 2**20), "--memory", str(2 * 2**30), "--include-dashboard=false",
         "--disable-usage-stats", "--temp-dir", str(root / "t"), "--ray-client-server-port", str(free_port()),
         "--dashboard-agent-listen-port", str(free_port()),
         "--dashboard-port", str(free_port())],
        env={**os.environ, **LOCAL}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in (root / "ray-start.log").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, (root / "ray-start.log").read_text()
            time.sleep(0.3)
        sys.path.insert(0, str(site))
        yield f"127.0.0.1:{port}", site
    finally:
        if str(site) in sys.path:
            sys.path.remove(str(site))
        proc.send_signal(signal.SIGTERM)  # --block: stops every process of this cluster
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def on_ray(cluster, **kw) -> RayExecutor:
    """The Ray executor on the module's cluster; the driver's preflight uses the toy, fault and probe plugins."""
    address, site = cluster
    env = {**worker_env(os.environ), "PYTHONPATH": os.pathsep.join([str(site), str(TESTS)])}
    return RayExecutor(RayOptions(address=address, env=env, **kw), registry=registry())


def registry():
    import fault_plugins
    import ray_probe

    return explicit_registry(fault_plugins, ray_probe)


def probe_bench(log: Path, experts: list[int], **overrides):
    model = {"name": "ray-probe", "args": {"log": str(log), "delay": 0.15}, "sweep": {"experts": experts}}
    return {"models": [model], "shifts": [{"name": "toy-noise", "args": {"n": 8}}], "batch_sizes": [4],
            "latency": {"warmup": 0, "repetitions": 1}, **overrides}


def intervals(log: Path) -> dict[int, tuple[float, float]]:
    """Per cell (its ``experts``): from its first model call's start to its last call's end."""
    spans: dict[int, list[float]] = {}
    for line in log.read_text().splitlines():
        experts, _, start, end = line.split()
        span = spans.setdefault(int(experts), [float(start), float(end)])
        span[0], span[1] = min(span[0], float(start)), max(span[1], float(end))
    return {k: (a, b) for k, (a, b) in spans.items()}


def overlapping(spans: dict[int, tuple[float, float]], cells: list[int]) -> list[tuple[int, int]]:
    return [(a, b) for a, b in itertools.combinations(cells, 2)
            if spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]]


class Workers:
    """The plain progress callback: cells done per worker, and the cells reported started."""

    def __init__(self):
        from vleval.engine.progress import Progress

        workers = self

        class Recording(Progress):
            def worker_done(self, worker: str, done: int) -> None:
                workers.done[worker] = done

            def cell(self, label: str) -> None:
                workers.started.append(label)

        self.progress, self.done, self.started = Recording(), {}, []


def comparable(record) -> dict:
    return {"status": record.status, "task": record.task, "model_info": record.model_info,
            "scaling": record.scaling, "drop": record.drop,
            "metrics": {name: d.metrics for name, d in record.domains.items()}}


@pytest.mark.slow
def test_records_match_in_process_and_say_where_they_ran(cluster, tmp_path):
    bench = toy_benchmark(latency={"warmup": 0, "repetitions": 1})
    local = run_benchmark("toy", bench, tmp_path / "local", registry=registry())
    workers = Workers()
    remote = run_benchmark("toy", bench, tmp_path / "ray", executor=on_ray(cluster), progress=workers.progress)
    assert len(remote.results) == len(local.results) == 12 and remote.failed == 0
    by_key = {r.cell_key: r for r in local.results}
    assert {r.cell_key for r in remote.results} == set(by_key)  # the same identities, so --resume matches them
    for record in remote.results:
        assert comparable(record) == comparable(by_key[record.cell_key])
        env = record.environment
        assert len(env["ray_node_id"]) == 56 and env["ray_node_ip"] == "127.0.0.1"
        assert env["ray_worker"].startswith("127.0.0.1:") and env["hardware_id"] and env["exclusive_node"] is False
    assert sum(workers.done.values()) == 12  # each record counted once, for the worker that produced it
    assert set(workers.done) == {r.environment["ray_worker"] for r in remote.results}
    # each cell reported started once, naming the worker that then produced its record
    assert sorted(workers.started) == sorted(f"{r.label} on {r.environment['ray_worker']}" for r in remote.results)
    assert scan(remote.path).problems == [] and len(scan(remote.path).records) == 12


@pytest.mark.slow
def test_worker_killed_mid_cell_is_retried_and_recorded_once(cluster, tmp_path):
    mark = tmp_path / "hung-pid"
    bench = probe_bench(tmp_path / "calls.log", [2, 3])
    bench["models"][0]["args"]["hang_once"] = str(mark)
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(summary=run_benchmark(
        "probe", bench, tmp_path / "r", executor=on_ray(cluster, max_retries=1))))
    thread.start()
    deadline = time.monotonic() + 60
    while not mark.exists():
        assert time.monotonic() < deadline and thread.is_alive(), "no cell started"
        time.sleep(0.1)
    killed = int(mark.read_text())
    os.kill(killed, signal.SIGKILL)  # the worker process, mid-cell
    thread.join(120)
    summary = out["summary"]
    assert [r.status for r in summary.results] == ["ok", "ok"]
    keys = [json.loads(line)["cell_key"] for line in summary.path.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 2  # the killed cell recorded once
    assert all(r.environment["ray_worker"] != f"127.0.0.1:{killed}" for r in summary.results)


@pytest.mark.slow
def test_every_try_failing_gives_one_failed_record(cluster, tmp_path):
    bench = {"models": [{"name": "crashing-moe", "args": {"fault": "exit"}}, {"name": "toy-moe"}],
             "shifts": [{"name": "toy-noise", "args": {"n": 8}}], "batch_sizes": [4], "max_retries": 2,
             "latency": {"warmup": 0, "repetitions": 1}}
    summary = run_benchmark("crash", bench, tmp_path, executor=on_ray(cluster))
    by_model = {r.cell["model"]: r for r in summary.results}
    assert len(summary.results) == 2 and by_model["toy-moe"].status == "ok"
    failed = by_model["crashing-moe"]
    assert failed.status == "failed"
    assert "every try failed (3, max_retries = 2)" in failed.error["message"]
    assert failed.error["message"].count("WorkerCrashedError") == 3


@pytest.mark.slow
def test_cell_timeout_fails_the_cell_without_retrying(cluster, tmp_path):
    bench = {"models": [{"name": "crashing-moe", "args": {"fault": "hang"}}],
             "shifts": [{"name": "toy-noise", "args": {"n": 8}}], "batch_sizes": [4], "cell_timeout_s": 3,
             "latency": {"warmup": 0, "repetitions": 1}}
    start = time.monotonic()
    summary = run_benchmark("hang", bench, tmp_path, executor=on_ray(cluster, max_retries=3))
    (record,) = summary.results
    assert record.status == "failed" and "timed out" in record.error["message"]
    assert time.monotonic() - start < 60  # one try of about 3 s, not four


@pytest.mark.slow
def test_resources_are_respected(cluster, tmp_path):
    log = tmp_path / "calls.log"
    bench = probe_bench(log, [2, 3, 4])
    bench["models"][0]["resources"] = {"toy_slot": 1}  # the cluster has one: these cells run one at a time
    bench["models"].append({**bench["models"][0], "sweep": {"experts": [5, 6, 7]}})
    del bench["models"][1]["resources"]
    summary = run_benchmark("res", bench, tmp_path, executor=on_ray(cluster))
    assert [r.status for r in summary.results] == ["ok"] * 6
    spans = intervals(log)
    assert overlapping(spans, [2, 3, 4]) == []
    assert overlapping(spans, [2, 3, 4, 5, 6, 7]), "two cells never ran at once: the check above means nothing"


@pytest.mark.slow
def test_a_request_no_node_can_meet_is_refused_before_any_work(cluster, tmp_path):
    bench = probe_bench(tmp_path / "calls.log", [2])
    bench["models"][0]["resources"] = {"num_gpus": 1}
    with pytest.raises(ConfigError, match=r"benchmarks\.nogpu\.models\[0\]\.resources: no node .* GPU=1"):
        run_benchmark("nogpu", bench, tmp_path, executor=on_ray(cluster))
    assert not (tmp_path / "nogpu.jsonl").exists()


@pytest.mark.slow
def test_exclusive_latency_cells_never_share_the_node(cluster, tmp_path):
    log = tmp_path / "calls.log"
    summary = run_benchmark("excl", probe_bench(log, [2, 3, 4], exclusive_latency=True), tmp_path,
                            executor=on_ray(cluster))
    assert [r.environment["exclusive_node"] for r in summary.results] == [True] * 3
    assert overlapping(intervals(log), [2, 3, 4]) == []


def test_identities_are_computed_in_one_task_per_cpu():
    from vleval.executors.ray_executor import _split

    for count in range(1, 8):
        cells = list(range(count))
        for cpus in range(0, 6):
            parts = _split(cells, cpus)  # type: ignore[arg-type]
            assert [c for part in parts for c in part] == cells  # every cell once, in plan order
            assert len(parts) == max(1, min(cpus, count)) and all(parts)
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.slow
def test_workers_take_the_driver_environment_before_numpy_loads(monkeypatch, tmp_path):
    # the task module loads nothing heavy, so a task sets thread counts before numpy or torch read them
    code = "import sys, vleval.executors.ray_worker; print(sorted({'numpy', 'torch', 'ray'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
    from vleval.executors import ray_worker

    monkeypatch.setattr(sys, "path", ["first", *sys.path])
    monkeypatch.setattr(ray_worker, "_ENV", None)
    for name in ("VLEVAL_RAY_TEST_MARK", "PYTHONPATH"):  # restored at teardown
        monkeypatch.delenv(name, raising=False)
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]), "VLEVAL_RAY_TEST_MARK": "1"}
    ray_worker.apply_env(env)
    ray_worker.apply_env(env)  # once only
    assert sys.path[:3] == ["first", str(tmp_path / "a"), str(tmp_path / "b")] and sys.path.count("first") == 1
    assert os.environ["VLEVAL_RAY_TEST_MARK"] == "1" and os.environ["PYTHONPATH"] == env["PYTHONPATH"]


@pytest.mark.slow
def test_missing_ray_and_misused_flags_are_clear_errors(monkeypatch, toy_cli):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(ExecutorError, match=r"pip install 'vleval\[ray\]'"):
        import_ray()
    argv, env, _ = toy_cli
    for extra, message in ((["--address", "127.0.0.1:1"], "--address needs --executor ray"),
                           (["--executor", "ray", "--in-process"], "exclude each other")):
        done = subprocess.run([*argv, *extra], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_driver_killed_mid_run_then_resume_runs_each_cell_once(cluster, toy_cli):
    argv, env, results = toy_cli
    address, _ = cluster
    env = {**env, **LOCAL}  # its PYTHONPATH (the toy plugins' entry points) reaches the workers
    argv = [*argv, "--executor", "ray", "--address", address, "--resume"]
    for wait_for in (1, 2):  # SIGKILL the driver right after its first (then second) record: cells are in flight
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while not results.exists() or len(results.read_bytes().splitlines()) < wait_for:
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    final = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "worker 127.0.0.1:" in final.stdout  # cells done per worker
    read = scan(results)
    assert read.problems == [] and len(read.records) == 4
    keys = [json.loads(line)["cell_key"] for line in results.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 4  # every cell exactly once
