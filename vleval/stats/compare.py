"""Item-by-item comparison of two evaluations: the difference, its paired interval, and named tests.

Rows of the two sides are matched by ``(kind, id)``; only items both evaluated are compared (the count is
reported). For each outcome of the task:

- multiple choice: accuracy (``correct``): McNemar's exact test when every question is its own cluster, else (the
  rotations of a circular group are not independent) the paired cluster bootstrap's p-value;
- retrieval: text->image R@1/5/10 per caption (clusters: images) and image->text R@1/5/10 per image, paired
  bootstrap;
- captioning: every per-image score both sides carry (e.g. ``cider``), paired cluster bootstrap of the mean.

Differences are ``b - a`` in percentage points (scores: their own unit); p-values of one comparison set are
Holm-adjusted together, and ``significant`` uses the adjusted value at ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vleval.stats.paired import Difference, bootstrap_difference, holm, mcnemar

KS = (1, 5, 10)


@dataclass(frozen=True)
class Comparison:
    outcome: str  # e.g. "accuracy", "t2i_r1", "cider"
    test: str  # the test whose p-value is reported
    items: int
    a: float
    b: float
    difference: Difference
    p_value: float
    p_adjusted: float = float("nan")

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_adjusted < alpha


def _pair(a_rows: list[dict], b_rows: list[dict], kind: str) -> tuple[list[dict], list[dict]]:
    b_by_id = {(r["kind"], r["id"]): r for r in b_rows}
    pairs = [(r, b_by_id[(kind, r["id"])]) for r in a_rows if r["kind"] == kind and (kind, r["id"]) in b_by_id]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _compare(outcome: str, a: np.ndarray, b: np.ndarray, clusters: list[str], scale: float,
             resamples: int, seed: int, binary: bool) -> Comparison:
    codes = _codes(clusters)
    diff = bootstrap_difference(a * scale, b * scale, clusters=codes, resamples=resamples, seed=seed)
    if binary and len(set(codes)) == len(codes):  # McNemar assumes independent pairs: only without clusters
        test, p = "McNemar exact", mcnemar(a.astype(bool), b.astype(bool)).p_value
    else:
        test, p = "paired cluster bootstrap", diff.p_value
    return Comparison(outcome, test, len(a), float(a.mean() * scale), float(b.mean() * scale), diff, p)


def _codes(clusters: list[str]) -> list[int]:
    index: dict[str, int] = {}
    return [index.setdefault(c, len(index)) for c in clusters]


def compare_rows(a_rows: list[dict], b_rows: list[dict], *, resamples: int = 2000, seed: int = 0) -> list[Comparison]:
    """All comparisons the rows' task supports, Holm-adjusted together."""
    out: list[Comparison] = []
    kinds = {r["kind"] for r in a_rows}
    if "question" in kinds:
        ra, rb = _pair(a_rows, b_rows, "question")
        if ra:
            a = np.array([r["correct"] for r in ra], dtype=float)
            b = np.array([r["correct"] for r in rb], dtype=float)
            out.append(_compare("accuracy", a, b, [r["cluster"] for r in ra], 100.0, resamples, seed, True))
    for kind, key, prefix in (("text", "t2i_rank", "t2i"), ("image", "i2t_rank", "i2t")):
        ra, rb = _pair(a_rows, b_rows, kind)
        if not ra or key not in ra[0]:
            continue
        ranks_a = np.array([r[key] for r in ra])
        ranks_b = np.array([r[key] for r in rb])
        for k in KS:
            out.append(_compare(f"{prefix}_r{k}", (ranks_a < k).astype(float), (ranks_b < k).astype(float),
                                [r["cluster"] for r in ra], 100.0, resamples, seed, False))
    ra, rb = _pair(a_rows, b_rows, "image")
    if ra and "i2t_rank" not in ra[0]:  # captioning rows: every per-image score both sides have
        shared = sorted(k for k in ra[0] if isinstance(ra[0][k], (int, float)) and not isinstance(ra[0][k], bool)
                        and k in rb[0])
        for key in shared:
            a = np.array([r[key] for r in ra], dtype=float)
            b = np.array([r[key] for r in rb], dtype=float)
            out.append(_compare(key, a, b, [r["cluster"] for r in ra], 1.0, resamples, seed, False))
    adjusted = holm([c.p_value for c in out])
    return [Comparison(c.outcome, c.test, c.items, c.a, c.b, c.difference, c.p_value, p)
            for c, p in zip(out, adjusted, strict=True)]


# ------------------------------------------------------------------------------------------- records and output


class CompareError(ValueError):
    """The records asked for cannot be compared (not found, not ok, no per-item results, nothing shared)."""


def _select(records: list, selector: str) -> list:
    found = [r for r in records if r.label == selector or r.cell_key.startswith(selector)]
    if not found:
        labels = sorted({r.label for r in records})
        raise CompareError(f"no record is labelled {selector!r} or has a cell key starting with it; labels: {labels}")
    usable = [r for r in found if r.status == "ok" and r.items]
    if not usable:
        raise CompareError(f"{selector!r}: no ok record with per-item results (records written before per-item "
                           "results existed, or failed/skipped cells, cannot be compared item by item)")
    return usable


def _evaluation(record) -> str:
    import json

    return json.dumps(record.evaluation, sort_keys=True)


def compare_results(paths: list, a: str, b: str | None, *, resamples: int = 2000, seed: int = 0) -> list[dict]:
    """Comparisons of variant ``a`` with ``b`` on every evaluation and domain both have; with ``b = None``, the
    shift drop of ``a``: its target against its source, item by item."""
    from pathlib import Path

    from vleval.results import sidecars as item_results
    from vleval.results.store import load

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
            rows = item_results.read(home[record.cell_key], record.items)
            if "source" in rows and "target" in rows:
                out.append({"title": f"{record.label}: target vs source on {record.evaluation.get('name')}",
                            "comparisons": compare_rows(rows["source"], rows["target"], resamples=resamples,
                                                        seed=seed)})
        if not out:
            raise CompareError(f"{a!r}: no shift record with per-item source and target results")
        return out
    side_b = {_evaluation(r): r for r in _select(records, b)}
    for record in side_a:
        other = side_b.get(_evaluation(record))
        if other is None:
            continue
        rows_a = item_results.read(home[record.cell_key], record.items)
        rows_b = item_results.read(home[other.cell_key], other.items)
        for domain in (d for d in rows_a if d in rows_b):
            out.append({"title": f"{other.label} vs {record.label} on {record.evaluation.get('name')} [{domain}]",
                        "comparisons": compare_rows(rows_a[domain], rows_b[domain], resamples=resamples,
                                                    seed=seed)})
    if not out:
        raise CompareError(f"{a!r} and {b!r} share no evaluation with per-item results")
    return out


def render(results: list[dict], alpha: float = 0.05) -> str:
    """Plain-text tables: estimate, CI, the test, raw and Holm-adjusted p, and ``*`` when significant."""
    lines = []
    for block in results:
        lines.append(block["title"])
        if not block["comparisons"]:
            lines.append("  no item was evaluated on both sides (different datasets: this difference is not paired)")
            continue
        lines.append(f"  {'outcome':<10} {'items':>6} {'a':>8} {'b':>8} {'b - a':>8} {'95% CI':>19}  "
                     f"{'test':<25} {'p':>8} {'p (Holm)':>9}")
        for c in block["comparisons"]:
            d = c.difference
            mark = " *" if c.significant(alpha) else ""
            lines.append(f"  {c.outcome:<10} {c.items:>6} {c.a:>8.2f} {c.b:>8.2f} {d.estimate:>+8.2f} "
                         f"[{d.low:>+7.2f}, {d.high:>+7.2f}]  {c.test:<25} {c.p_value:>8.4f} {c.p_adjusted:>9.4f}"
                         f"{mark}")
    lines.append(f"* significant at alpha = {alpha} after Holm's correction across the outcomes of each block; "
                 "intervals: paired cluster bootstrap (percentile)")
    return "\n".join(lines)
