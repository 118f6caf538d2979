"""Leaderboards: records → one table per evaluation (dataset or shift), one row per model variant.

Rows are ranked only if their records are comparable: same dataset content, same metric versions, same hardware.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from statistics import mean
from typing import Any

from vleval.record import Record


class NotComparable(ValueError):
    """Records that must not share a leaderboard; the message says what differs."""


@dataclass
class Row:
    label: str
    experts: int | None
    top_k: int | None
    active_params: int | None
    source: float | None
    target: float | None
    drop: float | None
    p50_ms: float | None
    p90_ms: float | None
    throughput: float | None
    seeds: int
    pareto: bool = False


@dataclass
class Board:
    evaluation: str
    task: str
    metric: str
    higher_is_better: bool = True
    rows: list[Row] = field(default_factory=list)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return mean(present) if present else None


def _comparability(records: list[Record]) -> list[str]:
    facets: dict[str, set[str]] = defaultdict(set)
    for r in records:
        for name, domain in r.domains.items():
            facets[f"{name} dataset content hash"].add(domain.dataset.content_hash[:16])
            facets[f"{name} items evaluated"].add(str(domain.dataset.size))
        facets["primary metric"].add(r.primary_metric.name if r.primary_metric else "-")
        facets["latency protocol"].add(json.dumps(r.cell["latency"], sort_keys=True))
        facets["metric versions"].add(", ".join(f"{m.name}={m.version}" for m in r.plugins.metrics or []))
        env = r.environment
        facets["hardware fingerprint"].add(f"{env.get('hardware_id')} ({env.get('cpu')}, gpu={env.get('gpu')}, "
                                           f"threads={env.get('torch_threads')})")
    return [f"{facet} differs: {' | '.join(sorted(values))}" for facet, values in facets.items() if len(values) > 1]


def evaluation_name(evaluation: dict[str, Any]) -> str:
    """``kind:name``, with its arguments when it has any: two differently configured datasets never share a board."""
    args = ",".join(f"{k}={v}" for k, v in sorted(evaluation["args"].items()))
    return f"{evaluation['kind']}:{evaluation['name']}" + (f"({args})" if args else "")


def build(records: list[Record], allow_mixed: bool = False) -> list[Board]:
    """Group successful records by evaluation and variant; average over seeds; mark the Pareto front."""
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        if r.status == "ok" and r.primary_metric:
            groups[(evaluation_name(r.evaluation), r.task or "")].append(r)
    boards = []
    for (evaluation, task), recs in groups.items():
        problems = _comparability(recs)
        if problems and not allow_mixed:
            raise NotComparable(f"{evaluation}: refusing to rank records that are not comparable:\n  "
                                + "\n  ".join(problems) + "\n(use --allow-mixed to rank them anyway)")
        primary = recs[0].primary_metric
        board = Board(evaluation, task, primary.name, higher_is_better=primary.higher_is_better)
        multi_bs = len({r.batch_size for r in recs}) > 1
        by_variant: dict[str, list[Record]] = defaultdict(list)
        for r in recs:
            by_variant[r.label + (f" bs={r.batch_size}" if multi_bs else "")].append(r)
        for label, rs in by_variant.items():
            timed = [r.timed for r in rs]
            source = _mean([r.primary("source" if "source" in r.domains else "data", primary) for r in rs])
            target = _mean([r.primary("target", primary) for r in rs])
            first = rs[0]
            board.rows.append(Row(
                label=label, experts=first.experts, top_k=first.top_k, active_params=first.active_params,
                source=source, target=target, drop=None if source is None or target is None else source - target,
                p50_ms=_mean([t.p50_ms for t in timed]), p90_ms=_mean([t.p90_ms for t in timed]),
                throughput=_mean([t.throughput for t in timed]), seeds=len({r.seed for r in rs}),
            ))
        sign = 1.0 if board.higher_is_better else -1.0
        _mark_pareto(board.rows, sign)
        board.rows.sort(key=lambda row: -sign * (row.target if row.target is not None else row.source or 0))
        boards.append(board)
    return boards


def _mark_pareto(rows: list[Row], sign: float = 1.0) -> None:
    """Pareto-optimal: no other row is at least as accurate (target, else source) and at least as fast, and better
    in one of the two. ``sign=-1`` for lower-is-better metrics."""
    def acc(row: Row) -> float:
        value = row.target if row.target is not None else row.source
        return float("-inf") if value is None else sign * value

    for row in rows:
        if row.p50_ms is None:
            continue
        row.pareto = not any(
            other is not row and other.p50_ms is not None and acc(other) >= acc(row) and other.p50_ms <= row.p50_ms
            and (acc(other) > acc(row) or other.p50_ms < row.p50_ms)
            for other in rows
        )


COLUMNS = ["label", "experts", "top_k", "active_params", "source", "target", "drop", "p50_ms", "p90_ms",
           "throughput", "seeds", "pareto"]
HEADERS = ["variant", "E", "k", "active params", "source", "target", "drop", "p50 ms/sample", "p90 ms/sample",
           "samples/s", "seeds", "pareto"]


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "-"
    if column == "pareto":
        return "*" if value else ""
    if column == "active_params":
        return f"{value / 1e6:.2f}M" if value >= 1e5 else str(value)
    if isinstance(value, float):
        digits = 3 if column.endswith("_ms") else 1 if column == "throughput" else 2
        return f"{value:.{digits}f}"
    return str(value)


def render(boards: list[Board], fmt: str = "table") -> str | list[Any]:
    """``json``/``csv``/``md`` as text; ``table`` as a list of rich Tables."""
    if fmt == "json":
        return json.dumps([{**asdict(b)} for b in boards], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["evaluation", "task", "metric", *COLUMNS])
        for b in boards:
            for row in b.rows:
                writer.writerow([b.evaluation, b.task, b.metric, *(getattr(row, c) for c in COLUMNS)])
        return buffer.getvalue()
    if fmt == "md":
        parts = []
        for b in boards:
            parts.append(f"### {b.evaluation} ({b.task}, {b.metric})\n")
            parts.append("| " + " | ".join(HEADERS) + " |")
            parts.append("|" + "---|" * len(HEADERS))
            parts += ["| " + " | ".join(_cell(getattr(r, c), c) for c in COLUMNS) + " |" for r in b.rows]
            parts.append("")
        return "\n".join(parts)
    from rich.table import Table

    tables = []
    for b in boards:
        table = Table(title=f"{b.evaluation}  ({b.task}; {b.metric}; * = Pareto-optimal accuracy vs p50 latency)")
        for header in HEADERS:
            table.add_column(header, justify="left" if header == "variant" else "right")
        for r in b.rows:
            table.add_row(*(_cell(getattr(r, c), c) for c in COLUMNS), style="bold" if r.pareto else None)
        tables.append(table)
    return tables
