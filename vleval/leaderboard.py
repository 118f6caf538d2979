"""Leaderboards: records → one table per evaluation (dataset or shift), one row per model variant.

Rows are ranked only if their records are comparable: same dataset content, same metric versions, same hardware.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable
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
    source_ci: tuple[float, float] | None = None  # the metric's own 95 % interval (one seed)
    target_ci: tuple[float, float] | None = None
    drop_ci: tuple[float, float] | None = None  # 95 % bootstrap interval of source - target from per-item results
    drop_p: float | None = None  # Holm-adjusted across the board's drops
    drop_test: str | None = None
    drop_significant: bool | None = None


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


def _interval(record: Record, domain: str) -> tuple[float, float] | None:
    metric = record.primary_metric
    entry = record.domains[domain].metrics.get(metric.metric, {}).get(metric.key) if domain in record.domains else None
    if not entry or entry.get("ci_low") is None or entry.get("ci_high") is None:
        return None
    return (entry["ci_low"], entry["ci_high"])


ItemReader = Callable[[Record], "dict[str, list[dict]] | None"]


def _verdicts(board: Board, variants: list[list[Record]], items: ItemReader | None) -> None:
    """Drop intervals and Holm-adjusted tests for the rows with one record and per-item results of both domains."""
    from vleval import verdicts

    found: list[verdicts.DropVerdict | None] = []
    for row, rs in zip(board.rows, variants, strict=True):
        verdict = None
        if len(rs) == 1 and items is not None and row.drop is not None:
            rows = items(rs[0])
            if rows and "source" in rows and "target" in rows:
                verdict = verdicts.drop(rows["source"], rows["target"], rs[0].primary_metric.key)
        found.append(verdict)
    for row, verdict in zip(board.rows, verdicts.adjust(found), strict=True):
        if verdict is not None:
            row.drop_ci, row.drop_p, row.drop_test = (verdict.low, verdict.high), verdict.p_adjusted, verdict.test
            row.drop_significant = verdict.significant()


def build(records: list[Record], allow_mixed: bool = False, items: ItemReader | None = None) -> list[Board]:
    """Group successful records by evaluation and variant; average over seeds; mark the Pareto front.

    ``items`` reads a record's per-item rows (``vleval.item_results.read``); with it, shift drops get intervals and
    Holm-adjusted tests (:mod:`vleval.verdicts`)."""
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
            single = rs[0] if len(rs) == 1 else None
            source = _mean([r.primary("source" if "source" in r.domains else "data", primary) for r in rs])
            target = _mean([r.primary("target", primary) for r in rs])
            first = rs[0]
            board.rows.append(Row(
                label=label, experts=first.experts, top_k=first.top_k, active_params=first.active_params,
                source=source, target=target, drop=None if source is None or target is None else source - target,
                p50_ms=_mean([t.p50_ms for t in timed]), p90_ms=_mean([t.p90_ms for t in timed]),
                throughput=_mean([t.throughput for t in timed]), seeds=len({r.seed for r in rs}),
                source_ci=_interval(single, "source" if "source" in single.domains else "data") if single else None,
                target_ci=_interval(single, "target") if single else None,
            ))
        _verdicts(board, list(by_variant.values()), items)
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


COLUMNS = ["label", "experts", "top_k", "active_params", "source", "target", "drop", "drop_ci", "p50_ms", "p90_ms",
           "throughput", "seeds", "pareto"]
HEADERS = ["variant", "E", "k", "active params", "source", "target", "drop", "drop 95% CI", "p50 ms/sample",
           "p90 ms/sample", "samples/s", "seeds", "pareto"]
CSV_EXTRA = ["source_ci", "target_ci", "drop_p", "drop_test", "drop_significant"]


def _cell(value: Any, column: str, row: Row | None = None) -> str:
    if column == "drop" and value is not None and row is not None and row.drop_significant:
        return f"{value:.2f}*"  # significant after Holm's correction across the board's drops
    if column == "drop_ci":
        return "-" if value is None else f"[{value[0]:+.1f}, {value[1]:+.1f}]"
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
        writer.writerow(["evaluation", "task", "metric", *COLUMNS, *CSV_EXTRA])
        for b in boards:
            for row in b.rows:
                writer.writerow([b.evaluation, b.task, b.metric, *(getattr(row, c) for c in COLUMNS + CSV_EXTRA)])
        return buffer.getvalue()
    if fmt == "md":
        parts = []
        for b in boards:
            parts.append(f"### {b.evaluation} ({b.task}, {b.metric})\n")
            parts.append("| " + " | ".join(HEADERS) + " |")
            parts.append("|" + "---|" * len(HEADERS))
            parts += ["| " + " | ".join(_cell(getattr(r, c), c, r) for c in COLUMNS) + " |" for r in b.rows]
            parts.append("")
        return "\n".join(parts)
    from rich.table import Table

    tables = []
    for b in boards:
        table = Table(title=f"{b.evaluation}  ({b.task}; {b.metric}; pareto * = Pareto-optimal accuracy vs p50 "
                      "latency; drop * = significant, Holm-adjusted)")
        for header in HEADERS:
            table.add_column(header, justify="left" if header == "variant" else "right")
        for r in b.rows:
            table.add_row(*(_cell(getattr(r, c), c, r) for c in COLUMNS), style="bold" if r.pareto else None)
        tables.append(table)
    return tables


def nothing_ranked(records: list[Record], shown: int = 3) -> str | None:
    """Why no board can be built when no record is ``ok`` (``N records, all failed: <first errors>``); else None."""
    if any(r.status == "ok" for r in records):
        return None
    if not records:
        return "0 records: nothing to rank"
    failed = [r for r in records if r.status == "failed"]
    reasons = [f"{r.label}: {(r.error or {}).get('type', '?')}: {(r.error or {}).get('message', '')}".splitlines()[0]
               for r in failed[:shown]]
    skipped = [f"{r.label}: skipped: {r.skip_reason}" for r in records if r.status == "skipped"]
    reasons += skipped[: shown - len(reasons)]
    more = f"; ... and {len(records) - len(reasons)} more" if len(records) > len(reasons) else ""
    state = "all failed" if len(failed) == len(records) else \
        f"none ok ({len(failed)} failed, {len(records) - len(failed)} skipped)"
    return f"{len(records)} records, {state}: " + "; ".join(reasons) + more
