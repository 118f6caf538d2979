"""The Pareto front of a board: accuracy against p50 latency."""

from __future__ import annotations

from vleval.boards.board import Row


def mark_pareto(rows: list[Row], sign: float = 1.0) -> None:
    """Pareto-optimal: no other row is at least as accurate (target, else source) and at least as fast, and better
    in one of the two. ``sign=-1`` for lower-is-better metrics. Rows without latency are never on the front."""
    def accuracy(row: Row) -> float:
        return float("-inf") if row.accuracy is None else sign * row.accuracy

    for row in rows:
        if row.p50_ms is None:
            continue
        row.pareto = not any(
            other is not row and other.p50_ms is not None and accuracy(other) >= accuracy(row)
            and other.p50_ms <= row.p50_ms and (accuracy(other) > accuracy(row) or other.p50_ms < row.p50_ms)
            for other in rows
        )
