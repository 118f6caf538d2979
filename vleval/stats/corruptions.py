"""Corruption robustness from records: error per corruption and severity, its mean, and ImageNet-C's (m)CE.

For each model variant (record label) evaluated on ``corruption`` shifts (:mod:`vleval_shifts`) of one wrapped
dataset, with ``E(m, c, s)`` the error of variant ``m`` under corruption ``c`` at severity ``s`` (100 minus a
higher-is-better percentage, or the value itself when lower is better; mean over the records of that cell, e.g.
seeds):

- ``CE(m, c) = sum_s E(m, c, s) / sum_s E(b, c, s)`` against a named baseline variant ``b`` (Hendrycks & Dietterich,
  2019), and ``mCE(m)`` its mean over corruptions;
- relative CE: ``sum_s (E(m, c, s) - E_clean(m)) / sum_s (E(b, c, s) - E_clean(b))``, ``E_clean`` being the error on
  the (uncorrupted) source, and relative mCE its mean.

A CE is ``None`` (shown ``-``) where the variant lacks a severity the baseline has or the baseline's denominator is
not positive; an mCE then averages the corruptions that have one and says how many. Rendering:
:mod:`vleval.boards.corruptions`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from vleval.results.record import Record


class CorruptionTableError(ValueError):
    """No corruption records, an unknown baseline, or values that are not on the stated scale."""


@dataclass
class VariantErrors:
    label: str
    clean: float | None  # error on the source domain (mean over records)
    errors: dict[str, dict[int, float]] = field(default_factory=dict)  # corruption -> severity -> error
    mean: dict[str, float] = field(default_factory=dict)  # corruption -> mean over its severities
    ce: dict[str, float | None] = field(default_factory=dict)
    relative_ce: dict[str, float | None] = field(default_factory=dict)
    mce: float | None = None
    relative_mce: float | None = None
    mce_corruptions: int = 0  # corruptions averaged into mce


@dataclass
class CorruptionTable:
    dataset: str  # the wrapped dataset, as the shift's ``dataset`` argument (JSON)
    metric: str  # metric/key the errors derive from
    baseline: str
    corruptions: list[str]
    severities: list[int]
    variants: list[VariantErrors]


def _error(value: float, higher_is_better: bool, full_scale: float, where: str) -> float:
    if not higher_is_better:
        return float(value)
    if not -1e-9 <= value <= full_scale + 1e-9:
        raise CorruptionTableError(f"{where}: value {value} is outside [0, {full_scale}]; pass full_scale (the "
                                   "metric's maximum, e.g. 600 for retrieval rsum) or a metric in percent")
    return full_scale - float(value)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _ratio(num: list[float], den: list[float]) -> float | None:
    d = sum(den)
    return sum(num) / d if d > 0 else None


def corruption_tables(records: Iterable[Record], baseline_label: str, *,
                      shift: str = "corruption", metric: str | None = None, higher_is_better: bool = True,
                      full_scale: float = 100.0) -> list[CorruptionTable]:
    """One table per wrapped dataset (and metric) from the ``ok`` records of shift ``shift``.

    ``metric``: ``"metric/key"`` (default: each record's primary metric, with its direction; an explicit one is
    ``higher_is_better``); ``full_scale``: the value that means no error for a higher-is-better metric (100 for
    percentages).
    """
    cells: dict[tuple[str, str], dict[str, dict[tuple[str, int], list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    clean: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        evaluation = r.evaluation
        if r.status != "ok" or evaluation.get("kind") != "shift" or evaluation.get("name") != shift:
            continue
        args = evaluation.get("args", {})
        corruption, severity = args.get("corruption"), args.get("severity")
        if corruption is None or severity is None or r.primary_metric is None:
            continue
        name, _, key = (metric or r.primary_metric.name).rpartition("/")
        better = r.primary_metric.higher_is_better if metric is None else higher_is_better
        group = (json.dumps(args.get("dataset"), sort_keys=True), f"{name}/{key}")
        where = f"record {r.cell_key[:12]} ({r.label}, {corruption} {severity})"
        for domain, sink in (("target", cells[group][r.label][(corruption, int(severity))]),
                             ("source", clean[group][r.label])):
            block = r.domains.get(domain)
            value = block.value(name, key) if block is not None else None
            if value is None:
                raise CorruptionTableError(f"{where}: no {name}/{key} in its {domain} domain")
            sink.append(_error(value, better, full_scale, f"{where}, {domain}"))
    if not cells:
        raise CorruptionTableError(f"no successful records of shift {shift!r} with 'corruption' and 'severity' "
                                   "arguments; run a benchmark with corruption shifts first")
    return [_table(dataset, name, baseline_label, by_label, clean[(dataset, name)])
            for (dataset, name), by_label in cells.items()]


def _table(dataset: str, metric: str, baseline: str, by_label: dict[str, dict[tuple[str, int], list[float]]],
           clean: dict[str, list[float]]) -> CorruptionTable:
    if baseline not in by_label:
        raise CorruptionTableError(f"baseline variant {baseline!r} has no corruption records on dataset {dataset} "
                                   f"({metric}); variants: {', '.join(sorted(by_label))}")
    variants = {}
    for label, cells in by_label.items():
        v = VariantErrors(label, _mean(clean[label]) if clean.get(label) else None)
        for (corruption, severity), errors in sorted(cells.items()):
            v.errors.setdefault(corruption, {})[severity] = _mean(errors)
        v.mean = {c: _mean(list(by_s.values())) for c, by_s in v.errors.items()}
        variants[label] = v
    base = variants[baseline]
    for v in variants.values():
        for corruption, by_s in v.errors.items():
            base_s = base.errors.get(corruption, {})
            if not base_s or set(by_s) != set(base_s):
                v.ce[corruption] = v.relative_ce[corruption] = None
                continue
            order = sorted(base_s)
            v.ce[corruption] = _ratio([by_s[s] for s in order], [base_s[s] for s in order])
            v.relative_ce[corruption] = None if v.clean is None or base.clean is None else _ratio(
                [by_s[s] - v.clean for s in order], [base_s[s] - base.clean for s in order])
        ces = [x for x in v.ce.values() if x is not None]
        rel = [x for x in v.relative_ce.values() if x is not None]
        v.mce, v.mce_corruptions = (_mean(ces) if ces else None), len(ces)
        v.relative_mce = _mean(rel) if rel else None
    corruptions = sorted({c for v in variants.values() for c in v.errors})
    severities = sorted({s for v in variants.values() for by_s in v.errors.values() for s in by_s})
    ordered = [base] + sorted((v for v in variants.values() if v is not base), key=lambda v: v.label)
    return CorruptionTable(dataset, metric, baseline, corruptions, severities, ordered)
