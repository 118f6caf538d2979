"""Board renderings: data formats carry numbers (intervals as numeric columns, full precision), the console board
fits 120 columns without cutting a variant, the wide board and markdown have every column."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import TESTS
from rich.console import Console

from vleval.boards import render
from vleval.boards.board import Board, Row
from vleval.boards.columns import COLUMNS
from vleval.config.load import load_file, select
from vleval.plan.cells import expand


def _row(label: str, **values) -> Row:
    base = dict(label=label, experts=16, top_k=2, active_params=230145, source=485.76666666666665,
                target=280.1, drop=205.66666666666669, p50_ms=1.28411, p90_ms=1.48352, throughput=765.73, seeds=1,
                source_ci=(463.21, 508.32), target_ci=(182.77, 377.43), drop_ci=(113.41, 297.92), drop_p=0.0012,
                drop_significant=True, replicates=3, distinct_replicates=3, replicate_args=("training_seed",),
                p50_ci=(1.24931, 1.48352), latency_flag="unsteady: timed passes vary by CV 0.13", vs_base=-24.7,
                vs_base_ci=(-42.6025, -7.0975), vs_base_significant=True)
    return Row(**{**base, **values})


def _board(labels: list[str]) -> Board:
    return Board("shift:mini-flickr30k->mini-mscoco(task=captioning)", "captioning", "coco-caption/cider",
                 rows=[_row(label, pareto=i % 2 == 0) for i, label in enumerate(labels)], margin=1.0)


def test_csv_and_json_intervals_are_numbers_at_full_precision():
    board = _board(["a", "b"])
    table = list(csv.DictReader(io.StringIO(render.render([board], "csv"))))
    assert len(table) == 2 and "source_ci" not in table[0]
    assert float(table[0]["source_ci_low"]) == 463.21 and float(table[0]["drop_ci_high"]) == 297.92
    assert float(table[0]["source"]) == 485.76666666666665  # data: not rounded
    assert table[0]["replicate_args"] == "training_seed" and table[0]["vs_base_p"] == ""
    (data,) = json.loads(render.render([board], "json"))
    row = data["rows"][0]
    assert (row["target_ci_low"], row["target_ci_high"]) == (182.77, 377.43) and row["drop"] == 205.66666666666669
    assert data["margin"] == 1.0 and row["replicate_args"] == ["training_seed"]
    (data,) = json.loads(render.render([Board("e", "t", "m", rows=[_row("c", source_ci=None)])], "json"))
    assert data["rows"][0]["source_ci_low"] is None and data["rows"][0]["source_ci_high"] is None


def test_markdown_and_the_wide_board_have_every_column():
    board = _board(["refmoe(experts=16)"])
    wide = [c.header for c in COLUMNS if c.wide]
    md = render.render([board], "md")
    assert "| " + " | ".join(wide) + " |" in md
    assert "| refmoe(experts=16) | 16 | 2 | 0.23M | 486 [463, 508] | 280 [183, 377] | 206* [113, 298] |" in md
    console = Console(width=400, record=True, file=io.StringIO())
    (table,) = render.render([board], "table", wide=True)
    assert [c.header for c in table.columns] == wide
    compact = [c.header for c in render.render([board], "table")[0].columns]
    assert compact == ["variant", "source", "target", "drop [95% CI]", "p50 ms", "n", "vs base [95% CI]", "pareto"]
    console.print(table)
    assert "3 (3 × training_seed)" in console.export_text()


def test_no_variant_of_the_default_benchmark_is_cut_at_120_columns():
    name, bench = select(load_file(TESTS.parent / "benchmarks.toml"), "default")
    labels = list(dict.fromkeys(c.variant for c in expand(name, bench)))
    assert len(labels) > 10 and max(map(len, labels)) >= 34  # e.g. refmoe-cap(experts=16, prune_to=8)
    console = Console(width=120, record=True, file=io.StringIO())
    for table in render.render([_board(labels)]):
        console.print(table)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 120
    cells = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
    assert set(labels) <= set(cells), sorted(set(labels) - set(cells))  # every variant whole, on one line
    header = next(line for line in text.splitlines() if "variant" in line)
    assert "pareto" in header  # the last column did not fall off


def test_cells_are_rounded_to_what_they_mean():
    row = _row("v", p90_ms=0.921470828125, throughput=1115.8124785075338, active_params=196993)
    cells = {c.header: c.cell(row) for c in COLUMNS if c.wide}
    assert cells["source [95% CI]"] == "486 [463, 508]"  # width 45: whole points
    assert cells["drop [95% CI]"] == "206* [113, 298]"
    assert cells["vs base [95% CI]"] == "-25* [-43, -7]"
    assert cells["p50 ms/sample [95% CI]"] == "1.28! [1.25, 1.48]"  # width 0.23 ms: 2 decimals
    assert cells["p90 ms/sample"] == "0.921" and cells["samples/s"] == "1116" and cells["active params"] == "0.20M"
    none = _row("v", source=None, drop=None, vs_base=None, p50_ms=None, throughput=None, active_params=None)
    cells = {c.header: c.cell(none) for c in COLUMNS if c.wide}
    assert {cells[h] for h in ("source [95% CI]", "drop [95% CI]", "vs base [95% CI]", "p50 ms/sample [95% CI]",
                               "samples/s", "active params")} == {"-"}


def test_board_html_is_a_table_with_its_legend_escaped():
    board = _board(["<b>x</b>"])
    page = render.board_html(board)
    assert page.startswith("<table><tr><th>variant</th>") and page.count("<tr>") == 2
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x" not in page
    assert "±1.0 (TOST, Holm)" in page and "<details><summary>latency flags</summary>" in page


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown board format 'xml'"):
        render.render([], "xml")
