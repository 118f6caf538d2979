"""``vleval compare`` as text: per block, each outcome's estimate, interval, test and p-values
(:mod:`vleval.stats.compare` computes them)."""

from __future__ import annotations

from vleval.stats.compare import Block
from vleval.stats.differences import ALPHA


def render(blocks: list[Block], alpha: float = ALPHA) -> str:
    """Plain-text tables: estimate, CI, the test, raw and Holm-adjusted p, and ``*`` when significant."""
    lines = []
    for block in blocks:
        lines.append(block.title)
        if not block.comparisons:
            lines.append("  no item was evaluated on both sides (different datasets: this difference is not paired)")
            continue
        lines.append(f"  {'outcome':<10} {'items':>6} {'a':>8} {'b':>8} {'b - a':>8} {'95% CI':>19}  "
                     f"{'test':<25} {'p':>8} {'p (Holm)':>9}")
        for c in block.comparisons:
            d = c.difference
            mark = " *" if c.significant(alpha) else ""
            lines.append(f"  {c.outcome:<10} {c.items:>6} {c.a:>8.2f} {c.b:>8.2f} {d.estimate:>+8.2f} "
                         f"[{d.low:>+7.2f}, {d.high:>+7.2f}]  {c.test:<25} {c.p_value:>8.4f} {c.p_adjusted:>9.4f}"
                         f"{mark}")
    lines.append(f"* significant at alpha = {alpha} after Holm's correction across the outcomes of each block; "
                 "intervals: paired cluster bootstrap (percentile)")
    return "\n".join(lines)
