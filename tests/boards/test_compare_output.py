"""``vleval compare``'s text: one line per outcome with its test, raw and Holm-adjusted p and the mark."""

from __future__ import annotations

from vleval.boards.comparison import render
from vleval.stats.compare import Block, Comparison
from vleval.stats.differences import Difference


def test_lines_by_hand():
    d = Difference(first=70.0, second=60.0, estimate=10.0, low=2.5, high=17.25, p_value=0.01, paired=True)
    c = Comparison("accuracy", "McNemar exact", 150, 60.0, 70.0, d, 0.004, 0.012)
    text = render([Block("B vs A on x [data]", [c]), Block("empty", [])], alpha=0.05)
    lines = text.splitlines()
    assert lines[0] == "B vs A on x [data]"
    assert lines[2] == ("  accuracy      150    60.00    70.00   +10.00 [  +2.50,  +17.25]  McNemar exact"
                        "               0.0040    0.0120 *")
    assert lines[3:5] == ["empty", "  no item was evaluated on both sides (different datasets: this difference is "
                                   "not paired)"]
    assert lines[-1].startswith("* significant at alpha = 0.05 after Holm's correction")
