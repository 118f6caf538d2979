"""``vleval report``: the HTML page renders in headless Chromium with every figure loaded and not blank; and
``vleval summary`` regenerates the research summaries from results files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import toy_benchmark
from PIL import Image

from vleval.cli import main
from vleval.executors.runner import run_benchmark

CHECK = ("<script>window.addEventListener('load', () => document.body.setAttribute('data-widths', "
         "JSON.stringify([...document.images].map(i => i.naturalWidth))));</script>")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from conftest import explicit_registry

    folder = tmp_path_factory.mktemp("report")
    bench = toy_benchmark(datasets=[], models=[{"name": "toy-moe", "sweep": {"experts": [2, 4]},
                                                "scaling": [{}, {"top_k": 1}]}])
    return run_benchmark("toy", bench, folder, registry=explicit_registry()).path


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:  # never a silent skip: CI must have it
        pytest.fail("headless Chromium not found (`chromium` on PATH): run `bash tools/install_chromium.sh`")
    return found


@pytest.mark.slow
def test_report_renders_every_figure_in_chromium(results, tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(results), "-o", str(out)]) == 0
    page = (out / "index.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    kinds = {"pareto", "drops", "latency", "shift-vs-drop", "share"}
    assert {k for k in kinds if any(s.endswith(f"-{k}.png") for s in sources)} == kinds
    boards = page.count("<table>")  # one image-share figure per board, a panel per variant (not a PNG per variant)
    assert boards >= 1 and sum(s.endswith("-share.png") for s in sources) == boards
    (out / "check.html").write_text(page.replace("</body>", CHECK + "</body>"))
    dom = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                          "--dump-dom", (out / "check.html").as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    widths = json.loads(re.search(r'data-widths="([^"]*)"', dom).group(1).replace("&quot;", '"'))
    assert len(widths) == len(sources) and all(w > 0 for w in widths), (sources, widths)
    for name in sources:
        pixels = np.asarray(Image.open(out / name).convert("L"))
        background = np.bincount(pixels.ravel()).argmax()
        assert (pixels != background).mean() > 0.01, f"{name} is blank"


def test_figures_drawn_in_two_processes_are_the_bytes_drawn_in_one(results, tmp_path, monkeypatch):
    """Two processes in a fresh interpreter (one Python thread: the test session may hold others), one here."""
    import subprocess
    import sys

    from vleval.report import parallel, write_report

    if not (sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1):
        pytest.skip("figures are drawn in two processes only on Linux with 2+ CPUs")
    script = ("import sys; from pathlib import Path; from vleval.report import parallel, write_report; "
              "assert parallel._can_fork(), 'the two-process path must be taken'; "
              "write_report(Path(sys.argv[1]), Path(sys.argv[2]))")
    subprocess.run([sys.executable, "-c", script, str(results), str(tmp_path / "two")], check=True, timeout=300)
    monkeypatch.setattr(parallel, "_can_fork", lambda: False)
    write_report(results, tmp_path / "one")
    one, two = sorted((tmp_path / "one").iterdir()), sorted((tmp_path / "two").iterdir())
    assert [p.name for p in one] == [p.name for p in two] and len(one) > 5
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, two, strict=True))


def test_report_and_summary_errors_name_the_file(tmp_path, capsys):
    missing = tmp_path / "nope.jsonl"
    assert main(["report", str(missing), "-o", str(tmp_path / "r")]) == 2
    assert main(["summary", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_summary_regenerates_the_run_summaries(results, capsys):
    from vleval.boards import summaries as summary
    from vleval.results.store import load

    assert main(["summary", str(results)]) == 0
    printed = capsys.readouterr().out
    for line in summary.expert_scaling(load([results])):
        assert line in printed
    assert "routing shift" in printed
