"""``vleval report``: the HTML page renders in headless Chromium with every figure loaded, a PNG and not blank,
each figure under its own board and caption; the summaries are tables; drawing sets no global matplotlib state;
and ``vleval summary`` regenerates the research summaries from results files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import toy_benchmark
from PIL import Image

from vleval.cli import main
from vleval.executors.runner import run_benchmark

CHECK = ("<script>window.addEventListener('load', () => document.body.setAttribute('data-widths', "
         "JSON.stringify([...document.images].map(i => i.naturalWidth))));</script>")
# each figure's caption (alt text) and the end of its file name
KINDS = {"accuracy vs latency": "pareto", "drop per variant": "drops", "routing shift vs drop": "shift-vs-drop",
         "latency": "latency", "image-token share": "share"}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Two boards: a shift (every figure) and a dataset (no drop, so no drop or routing-shift figure)."""
    from conftest import explicit_registry

    folder = tmp_path_factory.mktemp("report")
    bench = toy_benchmark(datasets=[{"name": "toy-questions", "args": {"n": 6}}],
                          models=[{"name": "toy-moe", "sweep": {"experts": [2, 4]}, "scaling": [{}, {"top_k": 1}]}])
    return run_benchmark("toy", bench, folder, registry=explicit_registry()).path


@pytest.fixture(scope="module")
def report(results, tmp_path_factory):
    out = tmp_path_factory.mktemp("page") / "report"
    assert main(["report", str(results), "-o", str(out)]) == 0
    return out


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:  # never a silent skip: CI must have it
        pytest.fail("headless Chromium not found (`chromium` on PATH): run `bash tools/install_chromium.sh`")
    return found


def _boards(page: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per board section (an ``<h2>`` with a board ``<table>``): its title and its images as (src, alt)."""
    chunks = re.split(r"<h2>", page)[1:]
    return [(chunk.split("</h2>")[0], re.findall(r'<img src="([^"]+)" alt="([^"]+)">', chunk))
            for chunk in chunks if "<table>" in chunk]


@pytest.mark.slow
def test_report_renders_every_figure_in_chromium(report, tmp_path):
    page = (report / "index.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert {kind for kind in KINDS.values() if any(s.endswith(f"-{kind}.png") for s in sources)} == set(KINDS.values())
    assert sorted(p.name for p in report.glob("*.png")) == sorted(sources)  # no figure drawn but left out
    (report / "check.html").write_text(page.replace("</body>", CHECK + "</body>"))
    dom = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                          "--dump-dom", (report / "check.html").as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    widths = json.loads(re.search(r'data-widths="([^"]*)"', dom).group(1).replace("&quot;", '"'))
    assert len(widths) == len(sources) and all(w > 0 for w in widths), (sources, widths)
    for name in sources:
        image = Image.open(report / name)
        assert image.format == "PNG", name
        pixels = np.asarray(image.convert("L"))
        background = np.bincount(pixels.ravel()).argmax()
        assert (pixels != background).mean() > 0.01, f"{name} is blank"


def test_each_figure_sits_under_its_own_board_with_its_caption(report):
    boards = _boards((report / "index.html").read_text())
    titles = [title.split(" <small>")[0] for title, _ in boards]
    assert titles == ["shift:toy-noise", "dataset:toy-questions(n=6)"]
    shown = {title: {alt for _, alt in images} for title, images in zip(titles, (b[1] for b in boards), strict=True)}
    assert shown["shift:toy-noise"] == set(KINDS)  # a shift: every figure, one image-token share figure
    assert shown["dataset:toy-questions(n=6)"] == set(KINDS) - {"drop per variant", "routing shift vs drop"}
    prefixes = set()
    for _, images in boards:
        prefix = {src.removesuffix(f"-{KINDS[alt]}.png") for src, alt in images}
        assert len(prefix) == 1 and all(src.endswith(f"-{KINDS[alt]}.png") for src, alt in images), images
        prefixes |= prefix
    assert len(prefixes) == len(boards)  # no board shows another's figures


def test_summaries_are_tables_not_text(report, results):
    from vleval.boards.summaries import sections
    from vleval.results.store import load

    page = (report / "index.html").read_text()
    assert "<pre>" not in page
    shown = [s for s in sections(load([results])) if not s.empty]
    assert shown
    for section in shown:
        after = page.split(f"<h2>{section.title}</h2>", 1)
        assert len(after) == 2, section.title
        assert after[1].startswith("<h3>") and '<table class="summary">' in after[1].split("<h2>")[0]


@pytest.mark.slow
def test_drawing_leaves_no_global_matplotlib_state(results, tmp_path):
    """No pyplot (its backend and its registry of open figures) behind the report: a caller's matplotlib is left
    as it was."""
    script = ("import sys; from pathlib import Path; from vleval.report import write_report; "
              "write_report(Path(sys.argv[1]), Path(sys.argv[2])); import matplotlib; "
              "print('matplotlib.pyplot' in sys.modules, matplotlib.rcParams._get_backend_or_none())")
    done = subprocess.run([sys.executable, "-c", script, str(results), str(tmp_path / "r")], capture_output=True,
                          text=True, timeout=300, check=True)
    assert done.stdout.split() == ["False", "None"]
    assert len(list((tmp_path / "r").glob("*.png"))) > 5


def test_report_and_summary_errors_name_the_file(tmp_path, capsys):
    missing = tmp_path / "nope.jsonl"
    assert main(["report", str(missing), "-o", str(tmp_path / "r")]) == 2
    assert main(["summary", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_summary_regenerates_the_run_summaries(results, capsys):
    from vleval.boards.summaries import expert_scaling, section_text
    from vleval.results.store import load

    assert main(["summary", str(results)]) == 0
    printed = capsys.readouterr().out
    for line in section_text(expert_scaling(load([results]))):
        assert line in printed
    assert "routing shift" in printed
