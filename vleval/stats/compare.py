"""Item-by-item comparison of two evaluations: the difference, its paired interval, and named tests.

Rows of the two sides are matched by ``(kind, id)``; only items both evaluated are compared (the count is
reported). For each outcome of the task:

- multiple choice: accuracy (``correct``): McNemar's exact test when every question is its own cluster, else (the
  rotations of a circular group are not independent) the paired cluster bootstrap's p-value;
- retrieval: text->image R@1/5/10 per caption (clusters: images) and image->text R@1/5/10 per image, paired
  bootstrap;
- captioning: every per-image score both sides carry (e.g. ``cider``), paired cluster bootstrap of the mean.

Differences are ``b - a`` in percentage points (scores: their own unit), from the boards' engine
(:mod:`vleval.stats.differences`): the same rows, seed and resamples give the board's numbers bit for bit. P-values
of one comparison set are Holm-adjusted together, and ``significant`` uses the adjusted value at ``alpha``.
Rendering: :mod:`vleval.boards.comparison`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from vleval.results import sidecars
from vleval.results.record import Record
from vleval.results.store import load
from vleval.stats.bootstrap import RESAMPLES
from vleval.stats.differences import ALPHA, Difference, Outcome, difference
from vleval.stats.outcomes import DIRECTIONS, RECALL_AT, Rows, mean_ratios, metric_ratios
from vleval.stats.pvalues import holm, mcnemar


@dataclass(frozen=True)
class Comparison:
    outcome: str  # e.g. "accuracy", "t2i_r1", "cider"
    test: str  # the test whose p-value is reported
    items: int
    a: float
    b: float
    difference: Difference  # b - a
    p_value: float
    p_adjusted: float = float("nan")

    def significant(self, alpha: float = ALPHA) -> bool:
        return self.p_adjusted < alpha


@dataclass(frozen=True)
class Block:
    """The comparisons of one pair of domains (``title`` says which), Holm-adjusted together."""

    title: str
    comparisons: list[Comparison]


def _pair(a_rows: Rows, b_rows: Rows, kind: str) -> tuple[Rows, Rows]:
    """The rows of ``kind`` both sides evaluated, each side in its own order."""
    a_ids = {r["id"] for r in a_rows if r["kind"] == kind}
    b_ids = {r["id"] for r in b_rows if r["kind"] == kind}
    shared = a_ids & b_ids
    return ([r for r in a_rows if r["kind"] == kind and r["id"] in shared],
            [r for r in b_rows if r["kind"] == kind and r["id"] in shared])


def _compare(outcome: str, a: Rows, b: Rows, key: str, statistic: Outcome, resamples: int, seed: int,
             binary: bool) -> Comparison | None:
    found = difference(a, b, key, outcome=statistic, resamples=resamples, seed=seed)
    if found is None:
        return None
    independent = len({r["cluster"] for r in a}) == len(a)
    if binary and independent:  # McNemar assumes independent pairs: only without clusters
        by_id = {r["id"]: bool(r["correct"]) for r in b}
        test, p = "McNemar exact", mcnemar([bool(r["correct"]) for r in a], [by_id[r["id"]] for r in a]).p_value
    else:
        test, p = "paired cluster bootstrap", found.p_value
    return Comparison(outcome, test, len(a), found.first, found.second, found.reversed(), p)


def compare_rows(a_rows: Rows, b_rows: Rows, *, resamples: int = RESAMPLES, seed: int = 0) -> list[Comparison]:
    """All comparisons the rows' task supports, Holm-adjusted together."""
    found: list[Comparison | None] = []
    ra, rb = _pair(a_rows, b_rows, "question")
    if ra:
        found.append(_compare("accuracy", ra, rb, "accuracy", metric_ratios, resamples, seed, True))
    for direction in ("t2i", "i2t"):
        kind, rank = DIRECTIONS[direction]
        ra, rb = _pair(a_rows, b_rows, kind)
        if ra and rank in ra[0]:
            found += [_compare(f"{direction}_r{k}", ra, rb, f"{direction}_r{k}", metric_ratios, resamples, seed,
                               False) for k in RECALL_AT]
    ra, rb = _pair(a_rows, b_rows, "image")
    if ra and "i2t_rank" not in ra[0]:  # captioning rows: every per-image score both sides have
        shared = sorted(k for k, v in ra[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                        and k in rb[0])
        found += [_compare(key, ra, rb, key, mean_ratios, resamples, seed, False) for key in shared]
    out = [c for c in found if c is not None]
    return [replace(c, p_adjusted=p) for c, p in zip(out, holm([c.p_value for c in out]), strict=True)]


class CompareError(ValueError):
    """The records asked for cannot be compared (not found, not ok, no per-item results, nothing shared)."""


def _select(records: list[Record], selector: str) -> list[Record]:
    found = [r for r in records if r.label == selector or r.cell_key.startswith(selector)]
    if not found:
        labels = sorted({r.label for r in records})
        raise CompareError(f"no record is labelled {selector!r} or has a cell key starting with it; labels: {labels}")
    usable = [r for r in found if r.status == "ok" and r.items]
    if not usable:
        raise CompareError(f"{selector!r}: no ok record with per-item results (records written before per-item "
                           "results existed, or failed/skipped cells, cannot be compared item by item)")
    return usable


def _evaluation(record: Record) -> str:
    return json.dumps(record.evaluation, sort_keys=True)


def compare_results(paths: list, a: str, b: str | None, *, resamples: int = RESAMPLES, seed: int = 0) -> list[Block]:
    """Comparisons of variant ``a`` with ``b`` on every evaluation and domain both have; with ``b = None``, the
    shift drop of ``a``: its target against its source, item by item."""
    home: dict[str, Path] = {}  # cell key -> the results file its sidecar path is relative to
    records = []
    for path in map(Path, paths):
        for record in load([path]):
            home[record.cell_key] = path
            records.append(record)
    side_a = _select(records, a)
    out = []
    if b is None:
        for record in side_a:
            rows = sidecars.read(home[record.cell_key], record.items)
            if "source" in rows and "target" in rows:
                out.append(Block(f"{record.label}: target vs source on {record.evaluation.get('name')}",
                                 compare_rows(rows["source"], rows["target"], resamples=resamples, seed=seed)))
        if not out:
            raise CompareError(f"{a!r}: no shift record with per-item source and target results")
        return out
    side_b = {_evaluation(r): r for r in _select(records, b)}
    for record in side_a:
        other = side_b.get(_evaluation(record))
        if other is None:
            continue
        rows_a = sidecars.read(home[record.cell_key], record.items)
        rows_b = sidecars.read(home[other.cell_key], other.items)
        for domain in (d for d in rows_a if d in rows_b):
            out.append(Block(f"{other.label} vs {record.label} on {record.evaluation.get('name')} [{domain}]",
                             compare_rows(rows_a[domain], rows_b[domain], resamples=resamples, seed=seed)))
    if not out:
        raise CompareError(f"{a!r} and {b!r} share no evaluation with per-item results")
    return out

