"""``vleval corruptions``' rich tables show each variant's errors, CE and mCE as computed."""

from __future__ import annotations

from rich.console import Console

from vleval.boards.corruptions import corruption_tables_rich
from vleval.stats.corruptions import CorruptionTable, VariantErrors


def test_detail_and_summary_tables_show_the_computed_values() -> None:
    base = VariantErrors("base", 10.0, {"fog": {1: 20.0, 2: 30.0}}, {"fog": 25.0}, {"fog": 1.0}, {"fog": 1.0}, 1.0,
                         1.0, 1)
    better = VariantErrors("better", 5.0, {"fog": {1: 10.0}}, {"fog": 10.0}, {"fog": None}, {"fog": None}, None,
                           None, 0)
    table = CorruptionTable('{"name": "toy"}', "mc-accuracy/accuracy", "base", ["fog"], [1, 2], [base, better])
    console = Console(record=True, width=200)
    shown = corruption_tables_rich([table])
    for t in shown:
        console.print(t)
    text = console.export_text()
    assert len(shown) == 2 and "CE vs base" in text and "mCE on" in text
    detail = [line for line in text.splitlines() if "better" in line]
    assert "10.00" in detail[0] and detail[0].count(" - ") >= 2  # no severity 2, no CE: "-"
    assert "1.000" in [line for line in text.splitlines() if "base" in line and "fog" in line][0]
    assert "0/1" in detail[1] and "1/1" in [line for line in text.splitlines() if "│ base" in line][-1]
