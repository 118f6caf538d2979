"""The post-run's early figures (:mod:`vleval.cli.post_run`, :func:`vleval.report.parallel.start`): figures that need
no board are started in a forked child while the boards are computed, then what is left of them is shared with the
board figures; every job runs once, a dead child's jobs run in the caller, and the printed boards/summaries, the
page and every PNG are the bytes of the one-process path, with or without :func:`vleval.cli.post_run.preload`.

The fork paths run in fresh interpreters (one Python thread, which a test session need not have)."""

from __future__ import annotations

import gc
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import toy_benchmark
from rich.console import Console

from vleval.executors.runner import RunSummary, run_benchmark

FORKS = sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1
needs_fork = pytest.mark.skipif(not FORKS, reason="figures are drawn in two processes only on Linux with 2+ CPUs")

JOBS = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from vleval.report import parallel

    folder, mode = Path(sys.argv[1]), sys.argv[2]
    out = {"caller": os.getpid(), "can_fork": parallel._can_fork()}
    phase = ["early"]  # what the early child keeps (forked before it changes)

    def job(i):
        def draw():
            if mode == "early-child-dies" and phase[0] == "early" and os.getpid() != out["caller"]:
                os._exit(3)
            if mode == "early-fails" and i == 2:
                raise ValueError("cannot draw this figure")
            time.sleep(0.05)
            if i % 4 == 3:
                return None  # nothing to draw
            path = folder / f"{i}.txt"
            with open(path, "a") as handle:  # appended: a job run twice would show
                handle.write(f"{i} {os.getpid()}\\n")
            return path
        return draw

    started = parallel.start([job(i) for i in range(6)], [1.0] * 6)
    phase[0] = "late"
    out["early_pid"] = started.pid
    if mode == "cancel":
        started.cancel()
        try:
            os.waitpid(started.pid, os.WNOHANG)
            out["reaped"] = False
        except ChildProcessError:
            out["reaped"] = True
    else:
        time.sleep(0.15)  # the caller computes its boards meanwhile
        try:
            results = parallel.run([job(i) for i in range(6, 12)], [1.0] * 6, started=started)
            out["results"] = [None if p is None else str(p) for p in results]
        except ValueError as exc:
            out["error"] = str(exc)
        try:
            os.waitpid(-1, os.WNOHANG)
            out["children_left"] = True
        except ChildProcessError:
            out["children_left"] = False
    print(json.dumps(out))
""")


def _jobs(folder: Path, mode: str = "") -> dict:
    script = folder / "jobs.py"
    script.write_text(JOBS)
    done = subprocess.run([sys.executable, str(script), str(folder), mode or "-"], capture_output=True, text=True,
                          timeout=120, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["can_fork"], "a fresh interpreter on Linux with 2+ CPUs must take the fork path"
    return out


def _expected(folder: Path) -> list[str | None]:
    return [None if i % 4 == 3 else str(folder / f"{i}.txt") for i in range(12)]


@needs_fork
def test_started_jobs_and_the_rest_come_back_in_order_each_run_once(tmp_path):
    out = _jobs(tmp_path)
    assert out["results"] == _expected(tmp_path) and not out["children_left"]
    lines = [Path(p).read_text().splitlines() for p in out["results"] if p is not None]
    assert all(len(written) == 1 for written in lines)  # each job ran once
    pids = {int(line[0].split()[1]) for line in lines}
    assert out["early_pid"] in pids and out["caller"] in pids  # the early child drew, and the caller helped
    assert len(pids) <= 3


@needs_fork
def test_jobs_of_an_early_child_that_dies_run_elsewhere(tmp_path):
    out = _jobs(tmp_path, "early-child-dies")
    assert out["results"] == _expected(tmp_path) and not out["children_left"]
    written = {Path(p).read_text() for p in out["results"] if p is not None}
    assert all(line.split()[1] != str(out["early_pid"]) for line in written)
    assert all(len(text.splitlines()) == 1 for text in written)


@needs_fork
def test_an_early_job_that_fails_raises_its_own_error_in_the_caller(tmp_path):
    out = _jobs(tmp_path, "early-fails")
    assert out["error"] == "cannot draw this figure" and not out["children_left"]


@needs_fork
def test_cancel_stops_and_reaps_the_child(tmp_path):
    assert _jobs(tmp_path, "cancel")["reaped"]


def test_paused_gc_restores_the_collector_as_it_was():
    from vleval.report.parallel import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from conftest import explicit_registry

    folder = tmp_path_factory.mktemp("early")
    bench = toy_benchmark(datasets=[], models=[{"name": "toy-moe", "sweep": {"experts": [2, 4]},
                                                "scaling": [{}, {"top_k": 1}]}])
    return run_benchmark("toy", bench, folder, registry=explicit_registry()).path


POST_RUN = textwrap.dedent("""
    import io, sys
    from pathlib import Path
    from rich.console import Console
    from vleval.cli.post_run import PostRun, preload
    from vleval.results.store import load
    from vleval.report import parallel, write_report
    from vleval.cli.console import print_report
    from vleval.executors.runner import RunSummary

    results, out = Path(sys.argv[1]), Path(sys.argv[2])
    if sys.argv[3] == "preload":
        preload()
    assert parallel._can_fork(), "the fork path must be taken"
    console = Console(file=io.StringIO(), width=200)
    with PostRun(results, out) as post:
        boards, sections = print_report(console, RunSummary(path=results, results=load([results])), 0.0,
                                        loaded=post.loaded)
        assert post.started is not None, "the figures needing no board must start early"
        write_report(results, out, boards=boards, sections=sections, started=post.started)
    sys.stdout.write(console.file.getvalue())
""")


def _one_process(results: Path, out: Path, monkeypatch) -> str:
    from vleval.cli.console import print_report
    from vleval.report import parallel, write_report
    from vleval.results.store import load

    monkeypatch.setattr(parallel, "_can_fork", lambda: False)
    console = Console(file=io.StringIO(), width=200)
    boards, sections = print_report(console, RunSummary(path=results, results=load([results])), 0.0)
    write_report(results, out, boards=boards, sections=sections)
    return console.file.getvalue()


@needs_fork
@pytest.mark.parametrize("warm", ["preload", "cold"])
def test_early_figures_give_the_bytes_of_one_process(results, tmp_path, monkeypatch, warm):
    script = tmp_path / "post_run.py"
    script.write_text(POST_RUN)
    printed = subprocess.run([sys.executable, str(script), str(results), str(tmp_path / "early"), warm],
                             capture_output=True, text=True, check=True, timeout=300).stdout
    assert printed == _one_process(results, tmp_path / "one", monkeypatch)
    one, early = sorted((tmp_path / "one").iterdir()), sorted((tmp_path / "early").iterdir())
    assert [p.name for p in one] == [p.name for p in early] and len(one) > 5
    assert any(p.name.endswith("-share.png") for p in one) and any(p.name.endswith("-shift-vs-drop.png")
                                                                    for p in one)
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, early, strict=True))


def test_early_figures_are_keyed_by_the_boards_that_will_be_built(results, tmp_path, monkeypatch):
    """start_figures' boards are build's (same order, metric); a started batch for other boards is cancelled and
    its figures drawn with the rest."""
    from vleval.boards import build as leaderboard
    from vleval.report import page, write_report
    from vleval.results.store import load

    records = load([results])
    seen = {}

    def fake_start(jobs, costs, prepare=None, tag=None):
        seen["tag"], seen["jobs"] = tag, len(jobs)
        return None

    monkeypatch.setattr(page.parallel, "start", fake_start)
    assert page.start_figures(records, tmp_path / "r") is None
    boards = leaderboard.build(records)
    assert seen["tag"] == (tmp_path / "r", [(b.evaluation, b.task, b.metric) for b in boards])
    assert seen["jobs"] == 2 * len(boards) and boards

    class Stale:
        tag, cancelled = ("elsewhere", []), False

        def cancel(self) -> None:
            self.cancelled = True

    stale = Stale()
    monkeypatch.setattr(page.parallel, "_can_fork", lambda: False)
    write_report(results, tmp_path / "stale", started=stale)
    write_report(results, tmp_path / "plain")
    assert stale.cancelled
    assert sorted(p.name for p in (tmp_path / "stale").iterdir()) == sorted(p.name for p in
                                                                           (tmp_path / "plain").iterdir())


def test_groups_refuse_what_build_refuses(results):
    import dataclasses

    from vleval.boards import build as leaderboard
    from vleval.results.store import load

    records = load([results])
    other = dataclasses.replace(records[0], environment={**records[0].environment, "hardware_id": "elsewhere"})
    with pytest.raises(leaderboard.NotComparable) as grouped:
        leaderboard.groups([*records, other])
    with pytest.raises(leaderboard.NotComparable) as built:
        leaderboard.build([*records, other])
    assert str(grouped.value) == str(built.value)
    assert list(leaderboard.groups([*records, other], allow_mixed=True)) == [
        (b.evaluation, b.task) for b in leaderboard.build([*records, other], allow_mixed=True)]


def test_print_report_hands_the_records_over_before_the_boards(results, monkeypatch):
    from vleval.boards import build as leaderboard
    from vleval.cli import console as console_module
    from vleval.results.store import load

    calls = []
    build = leaderboard.build
    monkeypatch.setattr(leaderboard, "build", lambda *a, **k: calls.append("build") or build(*a, **k))
    console_module.print_report(Console(file=io.StringIO()), RunSummary(path=results, results=load([results])),
                                0.0, loaded=lambda records: calls.append(len(records)))
    assert calls == [len(load([results])), "build"]


REPORT_FAILS = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from vleval.boards import summaries as summary
    from vleval.report import parallel, write_report

    started = []
    start = parallel.start
    parallel.start = lambda *a, **k: started.append(start(*a, **k)) or started[-1]

    def broken(*a, **k):
        raise RuntimeError("summaries failed")

    summary.sections = broken
    out = {}
    try:
        write_report(Path(sys.argv[1]), Path(sys.argv[2]))
    except RuntimeError as exc:
        out["error"] = str(exc)
    out["started"] = bool(started and started[0] is not None)
    try:
        os.waitpid(-1, os.WNOHANG)
        out["children_left"] = True
    except ChildProcessError:
        out["children_left"] = False
    print(json.dumps(out))
""")


@needs_fork
def test_vleval_report_starts_early_figures_and_stops_them_on_an_error(results, tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(REPORT_FAILS)
    done = subprocess.run([sys.executable, str(script), str(results), str(tmp_path / "r")], capture_output=True,
                          text=True, check=True, timeout=300)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"error": "summaries failed", "started": True,
                                                                 "children_left": False}


def test_preload_leaves_matplotlib_settings_as_the_report_sets_them():
    """preload() may run at start-up: matplotlib's settings afterwards are those the report's own import gives."""
    script = ("import json, sys, matplotlib\n"
              "if sys.argv[1] == 'preload':\n"
              "    from vleval.cli.post_run import preload; preload()\n"
              "else:\n"
              "    from vleval.report import figures; figures.prepare()\n"
              "print(json.dumps({k: repr(v) for k, v in matplotlib.rcParams.items()}, sort_keys=True))")
    settings = [subprocess.run([sys.executable, "-c", script, how], capture_output=True, text=True, check=True,
                               timeout=120).stdout for how in ("preload", "report")]
    assert settings[0] == settings[1] and "agg" in settings[0].lower()
