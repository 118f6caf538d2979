"""Leaderboards: records → one :class:`~vleval.boards.board.Board` per evaluation (dataset or shift), one row per
model variant (:attr:`vleval.results.record.Record.variant`: its replicates pooled).

Rows are ranked only if their records are comparable (:mod:`vleval.boards.comparability`). With per-item rows,
intervals are clustered bootstraps and differences get Holm-adjusted tests, all from one engine
(:mod:`vleval.stats.differences`); rendering: :mod:`vleval.boards.render`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from vleval.boards.base import base_record
from vleval.boards.board import Board, Interval, Row
from vleval.boards.comparability import NotComparable, evaluation_name, groups
from vleval.boards.pareto import mark_pareto
from vleval.engine.machine_load import contended
from vleval.results.record import Record
from vleval.results.sidecars import ItemReader
from vleval.stats.differences import Difference, adjust, difference, level
from vleval.stats.pooling import Pooled, pool, pooled_latency

__all__ = ["Board", "ItemReader", "NotComparable", "Row", "build", "evaluation_name", "groups", "nothing_ranked"]

#: a record's per-item rows by domain (``vleval.results.sidecars.reader``), ``None`` without them


@dataclass(frozen=True)
class Accuracy:
    """A row's source, target and drop pooled over its replicates; one replicate keeps its drop's verdict."""

    source: Pooled | None
    target: Pooled | None
    drop: Pooled | None
    verdict: Difference | None


def _metric_interval(record: Record, domain: str) -> Interval | None:
    """The primary metric's own interval as the record holds it (e.g. the metric's bootstrap)."""
    metric = record.primary_metric
    entry = record.domains[domain].metrics.get(metric.metric, {}).get(metric.key) if domain in record.domains else None
    if not entry or entry.get("ci_low") is None or entry.get("ci_high") is None:
        return None
    return (entry["ci_low"], entry["ci_high"])


def _source_domain(record: Record) -> str:
    return "source" if "source" in record.domains else "data"


def _accuracy(rs: list[Record], rows_of: list[dict | None]) -> Accuracy:
    """Source, target and drop pooled over the replicates, each with its interval (:mod:`vleval.stats.pooling`):
    a clustered bootstrap from per-item rows where the record has them."""
    key = rs[0].primary_metric.key
    per: dict[str, list[tuple[float | None, Interval | None]]] = {"source": [], "target": [], "drop": []}
    verdict = None
    for r, rows in zip(rs, rows_of, strict=True):
        values = {}
        for side, domain in (("source", _source_domain(r)), ("target", "target")):
            value, ci = r.primary(domain), _metric_interval(r, domain)
            clustered = level(rows[domain], key) if rows and rows.get(domain) else None
            if clustered is not None and value is not None:
                ci = (clustered.low, clustered.high)
            per[side].append((value, ci))
            values[side] = value
        verdict = None
        if rows and "source" in rows and "target" in rows and None not in values.values():
            verdict = difference(rows["source"], rows["target"], key)
        drop = None if None in values.values() else values["source"] - values["target"]
        per["drop"].append((drop, (verdict.low, verdict.high) if verdict else None))
    pooled = {side: pool([v for v, _ in pairs], [ci for _, ci in pairs]) for side, pairs in per.items()}
    return Accuracy(pooled["source"], pooled["target"], pooled["drop"], verdict if len(rs) == 1 else None)


def _vs_base(board: Board, variants: dict[str, list[Record]], items: ItemReader) -> dict[str, Difference]:
    """Scaled variant minus its unscaled base on the target (else data), paired item by item, with TOST."""
    records = [r for rs in variants.values() for r in rs]
    out = {}
    for label, rs in variants.items():
        base = base_record(rs[0], records) if len(rs) == 1 else None
        if base is None:
            continue
        mine, theirs = items(rs[0]), items(base)
        domain = "target" if "target" in rs[0].domains else "data"
        if mine and theirs and mine.get(domain) and theirs.get(domain):
            # base - variant, read the other way round: the same numbers as `vleval compare -a base -b variant`
            found = difference(theirs[domain], mine[domain], rs[0].primary_metric.key, margin=board.margin)
            if found is not None and found.paired:
                out[label] = found.reversed()
    return out


def _verdicts(board: Board, variants: dict[str, list[Record]], drops: list[Difference | None],
              items: ItemReader | None) -> None:
    """Holm across the board: drops and vs-base differences as one family, equivalence tests as another."""
    base = _vs_base(board, variants, items) if items is not None else {}
    labels = list(variants)
    adjusted = adjust(drops + [base.get(label) for label in labels])
    for row, verdict in zip(board.rows, adjusted[:len(labels)], strict=True):
        if verdict is not None:
            row.drop_ci, row.drop_p, row.drop_test = (verdict.low, verdict.high), verdict.p_adjusted, verdict.test
            row.drop_significant = verdict.significant()
    for row, verdict in zip(board.rows, adjusted[len(labels):], strict=True):
        if verdict is not None:
            row.vs_base, row.vs_base_ci = verdict.estimate, (verdict.low, verdict.high)
            row.vs_base_p, row.vs_base_significant = verdict.p_adjusted, verdict.significant()
            row.vs_base_equivalent = verdict.equivalent()


def _row(label: str, rs: list[Record], acc: Accuracy) -> Row:
    lat, first = pooled_latency(rs), rs[0]
    flags = {why for r in rs if r.timed is not None for why in [contended(r.timed.latency)] if why}
    replicates = {tuple(sorted(r.replicate.items())) for r in rs if r.replicate}
    return Row(
        label=label, experts=first.experts, top_k=first.top_k, active_params=first.active_params,
        source=acc.source.value if acc.source else None, target=acc.target.value if acc.target else None,
        drop=acc.drop.value if acc.drop else None, p50_ms=lat.p50_ms, p90_ms=lat.p90_ms,
        throughput=None if first.active_params == 0 else lat.throughput,  # no active parameter: no work done
        seeds=len({r.seed for r in rs}),
        source_ci=acc.source.ci if acc.source else None, target_ci=acc.target.ci if acc.target else None,
        drop_ci=acc.drop.ci if acc.drop else None, replicates=len(rs), distinct_replicates=len(replicates),
        replicate_args=tuple(dict.fromkeys(k for r in rs for k in r.replicate)),
        p50_ci=lat.p50_ci, latency_flag="; ".join(sorted(flags)) or None,
    )


def build(records: list[Record], allow_mixed: bool = False, items: ItemReader | None = None,
          margin: float = 1.0) -> list[Board]:
    """Group successful records by evaluation and variant; pool replicates (runs, seeds, the model entry's
    ``replicates``) with intervals; mark the Pareto front.

    ``items`` reads a record's per-item rows (``vleval.results.sidecars.reader``); with it, intervals are clustered
    bootstraps, shift drops get Holm-adjusted tests, and each top-k / pruned variant is compared with its unscaled
    base (:mod:`vleval.boards.base`) item by item, with an equivalence test inside ``[-margin, margin]``."""
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be a positive number (metric units), got {margin}")
    boards = []
    for (evaluation, task), recs in groups(records, allow_mixed).items():
        primary = recs[0].primary_metric
        board = Board(evaluation, task, primary.name, higher_is_better=primary.higher_is_better, margin=margin)
        several_batch_sizes = len({r.batch_size for r in recs}) > 1
        by_variant: dict[str, list[Record]] = defaultdict(list)
        for r in recs:
            by_variant[r.variant + (f" bs={r.batch_size}" if several_batch_sizes else "")].append(r)
        drops = []
        for label, rs in by_variant.items():
            acc = _accuracy(rs, [items(r) if items else None for r in rs])
            drops.append(acc.verdict)
            board.rows.append(_row(label, rs, acc))
        _verdicts(board, by_variant, drops, items)
        sign = 1.0 if board.higher_is_better else -1.0
        mark_pareto(board.rows, sign)
        board.rows.sort(key=lambda row: -sign * (row.accuracy or 0))
        boards.append(board)
    return boards


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
