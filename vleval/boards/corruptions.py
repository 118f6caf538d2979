"""``vleval corruptions`` as rich tables (:mod:`vleval.stats.corruptions` computes them): per wrapped dataset, each
variant's error per corruption and severity with its mean and CE, then clean error, mCE and relative mCE."""

from __future__ import annotations

from rich.table import Table

from vleval.stats.corruptions import CorruptionTable


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def detail_table(t: CorruptionTable) -> Table:
    """Error per corruption and severity, its mean, CE and relative CE, per variant."""
    out = Table(title=f"corruption errors on {t.dataset} ({t.metric}; error = full scale - value; CE vs {t.baseline})")
    for column in ("variant", "corruption", *(f"s{s}" for s in t.severities), "mean", "CE", "rel. CE"):
        out.add_column(column, justify="left" if column in ("variant", "corruption") else "right")
    for v in t.variants:
        for c in t.corruptions:
            by_s = v.errors.get(c, {})
            out.add_row(v.label, c, *(_fmt(by_s.get(s)) for s in t.severities), _fmt(v.mean.get(c)),
                        _fmt(v.ce.get(c), 3), _fmt(v.relative_ce.get(c), 3))
    return out


def summary_table(t: CorruptionTable) -> Table:
    """Clean error, mean corruption error, mCE and relative mCE per variant."""
    out = Table(title=f"mCE on {t.dataset} (baseline {t.baseline}, {len(t.corruptions)} corruptions)")
    for column in ("variant", "clean error", "mean corruption error", "mCE", "relative mCE", "corruptions"):
        out.add_column(column, justify="left" if column == "variant" else "right")
    for v in t.variants:
        out.add_row(v.label, _fmt(v.clean), _fmt(_mean(list(v.mean.values()))), _fmt(v.mce, 3),
                    _fmt(v.relative_mce, 3), f"{v.mce_corruptions}/{len(t.corruptions)}")
    return out


def corruption_tables_rich(tables: list[CorruptionTable]) -> list[Table]:
    """For each table, its detail and its summary, in order (the CLI prints them)."""
    return [shown for t in tables for shown in (detail_table(t), summary_table(t))]
