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
from typing import Any

from vleval.results.record import Record
from vleval.stats import pooling as board_stats


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
    replicates: int = 1  # records pooled into this row (runs, evaluation seeds, training seeds)
    training_seeds: int = 0  # distinct model_args.training_seed among them (0: none given)
    p50_ci: tuple[float, float] | None = None
    latency_flag: str | None = None  # why the latency should not be trusted (machine contended, passes unsteady)
    vs_base: float | None = None  # scaled variant (top-k, pruning) minus its unscaled base, on target (else data)
    vs_base_ci: tuple[float, float] | None = None
    vs_base_p: float | None = None  # Holm-adjusted with the board's drops
    vs_base_equivalent: bool | None = None  # TOST inside [-margin, margin], Holm-adjusted across the board's
    vs_base_significant: bool | None = None


@dataclass
class Board:
    evaluation: str
    task: str
    metric: str
    higher_is_better: bool = True
    rows: list[Row] = field(default_factory=list)
    margin: float | None = None  # equivalence margin of the vs-base tests (metric units)


def _comparability(records: list[Record]) -> list[str]:
    facets: dict[str, set[str]] = defaultdict(set)
    for r in records:
        for name, domain in r.domains.items():
            facets[f"{name} dataset content hash"].add(domain.dataset.content_hash[:16])
            facets[f"{name} items evaluated"].add(str(domain.dataset.size))
        facets["primary metric"].add(r.primary_metric.name if r.primary_metric else "-")
        if r.cell["latency"].get("repetitions", 1) > 0:  # an untimed replicate has no latency to compare
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


def _domain(record: Record) -> str:
    return "source" if "source" in record.domains else "data"


def _accuracy(board: Board, rs: list[Record], rows_of: list[dict | None]) -> dict[str, Any]:
    """Source, target and drop pooled over the replicates, each with its interval (:mod:`vleval.stats.pooling`);
    one replicate keeps its Holm-adjustable drop verdict."""
    from vleval.stats import verdicts

    key = rs[0].primary_metric.key
    out: dict[str, Any] = {"verdict": None}
    per: dict[str, list] = {"source": [], "target": [], "drop": []}
    for r, rows in zip(rs, rows_of, strict=True):
        values = {}
        for side, domain in (("source", _domain(r)), ("target", "target")):
            value, ci = r.primary(domain), _interval(r, domain) if domain in r.domains else None
            clustered = verdicts.level(rows[domain], key) if rows and rows.get(domain) else None
            if clustered is not None and value is not None:
                ci = (clustered[1], clustered[2])
            per[side].append((value, ci))
            values[side] = value
        verdict = None
        if rows and "source" in rows and "target" in rows and None not in values.values():
            verdict = verdicts.drop(rows["source"], rows["target"], key)
        drop = None if None in values.values() else values["source"] - values["target"]
        per["drop"].append((drop, (verdict.low, verdict.high) if verdict else None))
        if len(rs) == 1:
            out["verdict"] = verdict
    for side, pairs in per.items():
        out[side] = board_stats.pool([v for v, _ in pairs], [ci for _, ci in pairs])
    return out


def _vs_base(board: Board, variants: dict[str, list[Record]], items: ItemReader | None) -> dict[str, Any]:
    """Scaled variant minus its unscaled base on the target (else data), paired item by item, with TOST."""
    from vleval.stats import verdicts

    if items is None:
        return {}
    def seed(record: Record) -> object:  # no training_seed argument: the model's default, seed 0
        value = board_stats.training_seed(record)
        return 0 if value is None else value

    # a base pooled over training seeds is compared on the replicate with the scaled variant's own training seed
    bases: dict[tuple, list[Record]] = defaultdict(list)
    for rs in variants.values():
        for r in rs:
            if not r.cell.get("scaling"):
                bases[(board_stats.identity(r), seed(r))].append(r)
    out = {}
    for label, rs in variants.items():
        found = bases.get((board_stats.base_of(rs[0]), seed(rs[0])), []) if len(rs) == 1 else []
        base = found[0] if len(found) == 1 else None
        if base is None:
            continue
        mine, theirs = items(rs[0]), items(base)
        domain = "target" if "target" in rs[0].domains else "data"
        if mine and theirs and mine.get(domain) and theirs.get(domain):
            # drop(base, variant) = base - variant; the row shows variant - base
            verdict = verdicts.drop(theirs[domain], mine[domain], rs[0].primary_metric.key, margin=board.margin)
            if verdict is not None and verdict.paired:
                out[label] = verdict
    return out


def _verdicts(board: Board, variants: dict[str, list[Record]], drops: list, items: ItemReader | None) -> None:
    """Holm across the board: drops and vs-base differences as one family, equivalence tests as another."""
    from vleval.stats import verdicts

    base = _vs_base(board, variants, items)
    labels = list(variants)
    adjusted = verdicts.adjust(drops + [base.get(label) for label in labels])
    for row, verdict in zip(board.rows, adjusted[:len(labels)], strict=True):
        if verdict is not None:
            row.drop_ci, row.drop_p, row.drop_test = (verdict.low, verdict.high), verdict.p_adjusted, verdict.test
            row.drop_significant = verdict.significant()
    for row, verdict in zip(board.rows, adjusted[len(labels):], strict=True):
        if verdict is not None:
            row.vs_base, row.vs_base_ci = -verdict.estimate, (-verdict.high, -verdict.low)
            row.vs_base_p, row.vs_base_significant = verdict.p_adjusted, verdict.significant()
            row.vs_base_equivalent = verdict.tost_adjusted is not None and verdict.tost_adjusted < 0.05


def groups(records: list[Record], allow_mixed: bool = False) -> dict[tuple[str, str], list[Record]]:
    """The records of each board, by (evaluation, task) in first-seen order: successful ones with a primary metric;
    :class:`NotComparable` (for the first such group) when a group's records must not be ranked together."""
    found: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        if r.status == "ok" and r.primary_metric:
            found[(evaluation_name(r.evaluation), r.task or "")].append(r)
    for (evaluation, _), recs in found.items():
        problems = _comparability(recs)
        if problems and not allow_mixed:
            raise NotComparable(f"{evaluation}: refusing to rank records that are not comparable:\n  "
                                + "\n  ".join(problems) + "\n(use --allow-mixed to rank them anyway)")
    return dict(found)


def build(records: list[Record], allow_mixed: bool = False, items: ItemReader | None = None,
          margin: float = 1.0) -> list[Board]:
    """Group successful records by evaluation and variant; pool replicates (runs, seeds, training seeds) with
    intervals; mark the Pareto front.

    ``items`` reads a record's per-item rows (``vleval.results.sidecars.read``); with it, intervals are clustered
    bootstraps, shift drops get Holm-adjusted tests (:mod:`vleval.stats.verdicts`), and each top-k / pruned variant is
    compared with its unscaled base item by item, with an equivalence test inside ``[-margin, margin]``."""
    from vleval.engine.machine_load import contended

    boards = []
    for (evaluation, task), recs in groups(records, allow_mixed).items():
        primary = recs[0].primary_metric
        board = Board(evaluation, task, primary.name, higher_is_better=primary.higher_is_better, margin=margin)
        multi_bs = len({r.batch_size for r in recs}) > 1
        by_variant: dict[str, list[Record]] = defaultdict(list)
        for r in recs:
            by_variant[board_stats.variant_label(r) + (f" bs={r.batch_size}" if multi_bs else "")].append(r)
        drops = []
        for label, rs in by_variant.items():
            acc = _accuracy(board, rs, [items(r) if items else None for r in rs])
            drops.append(acc["verdict"])
            lat = board_stats.pooled_latency(rs)
            first = rs[0]
            flags = {why for r in rs if r.timed is not None for why in [contended(r.timed.latency)] if why}
            board.rows.append(Row(
                label=label, experts=first.experts, top_k=first.top_k, active_params=first.active_params,
                source=acc["source"].value if acc["source"] else None,
                target=acc["target"].value if acc["target"] else None,
                drop=acc["drop"].value if acc["drop"] else None,
                p50_ms=lat["p50_ms"], p90_ms=lat["p90_ms"], throughput=lat["throughput"],
                seeds=len({r.seed for r in rs}),
                source_ci=acc["source"].ci if acc["source"] else None,
                target_ci=acc["target"].ci if acc["target"] else None,
                drop_ci=acc["drop"].ci if acc["drop"] else None,
                replicates=len(rs), training_seeds=len({board_stats.training_seed(r) for r in rs} - {None}),
                p50_ci=lat["p50_ci"], latency_flag="; ".join(sorted(flags)) or None,
            ))
        _verdicts(board, by_variant, drops, items)
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
           "throughput", "replicates", "vs_base", "pareto"]
HEADERS = ["variant", "E", "k", "active params", "source [95% CI]", "target [95% CI]", "drop [95% CI]",
           "p50 ms/sample [95% CI]", "p90 ms/sample", "samples/s", "n", "vs base [95% CI]", "pareto"]
CSV_COLUMNS = ["label", "experts", "top_k", "active_params", "source", "source_ci", "target", "target_ci", "drop",
               "drop_ci", "drop_p", "drop_test", "drop_significant", "p50_ms", "p50_ci", "p90_ms", "throughput",
               "latency_flag", "replicates", "seeds", "training_seeds", "vs_base", "vs_base_ci", "vs_base_p",
               "vs_base_significant", "vs_base_equivalent", "pareto"]
LEGEND = ("drop * / vs base * = significant (Holm across the board's differences); vs base ≈ = equivalent within "
          "±{margin} (TOST, Holm); ! = latency measured on a contended or unsteady machine; n = replicates pooled; "
          "pareto * = Pareto-optimal accuracy vs p50 latency")


def _ci(ci: tuple[float, float] | None, digits: int = 1) -> str:
    return "" if ci is None else f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _cell(value: Any, column: str, row: Row) -> str:
    if value is None and column not in ("pareto",):
        return "-"
    if column in ("source", "target"):
        return f"{value:.2f}{_ci(getattr(row, column + '_ci'))}"
    if column == "drop":
        mark = "*" if row.drop_significant else ""
        return f"{value:.2f}{mark}{_ci(row.drop_ci)}"
    if column == "vs_base":
        mark = "*" if row.vs_base_significant else "≈" if row.vs_base_equivalent else ""
        return f"{value:+.2f}{mark}{_ci(row.vs_base_ci)}"
    if column == "p50_ms":
        return f"{value:.3f}{'!' if row.latency_flag else ''}{_ci(row.p50_ci, 3)}"
    if column == "replicates":
        return str(value) + (f" ({row.training_seeds} training seeds)" if row.training_seeds > 1 else "")
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
        writer.writerow(["evaluation", "task", "metric", *CSV_COLUMNS])
        for b in boards:
            for row in b.rows:
                writer.writerow([b.evaluation, b.task, b.metric, *(getattr(row, c) for c in CSV_COLUMNS)])
        return buffer.getvalue()
    if fmt == "md":
        parts = []
        for b in boards:
            parts.append(f"### {b.evaluation} ({b.task}, {b.metric})\n")
            parts.append("| " + " | ".join(HEADERS) + " |")
            parts.append("|" + "---|" * len(HEADERS))
            parts += ["| " + " | ".join(_cell(getattr(r, c), c, r) for c in COLUMNS) + " |" for r in b.rows]
            parts.append("")
        if boards:
            parts.append(LEGEND.format(margin=boards[0].margin))
        return "\n".join(parts)
    from rich.table import Table

    tables = []
    for b in boards:
        table = Table(title=f"{b.evaluation}  ({b.task}; {b.metric})", caption=LEGEND.format(margin=b.margin))
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
