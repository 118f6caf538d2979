"""Short answers to the two research questions, computed from the records of a run.

Records are grouped by evaluation (shift name and arguments), seed and batch size, so that only like is compared.
Correlations over a handful of variants are weak evidence; each comes with its 95 % interval (Fisher z).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from vleval.leaderboard import evaluation_name
from vleval.record import Record


def _shift_groups(records: list[Record], task: str) -> dict[str, list[Record]]:
    chosen = [r for r in records if r.status == "ok" and r.task == task and "target" in r.domains
              and "source" in r.domains and r.primary_metric]
    several = len({(r.seed, r.batch_size) for r in chosen}) > 1
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in chosen:
        key = evaluation_name(r.evaluation)
        if several:
            key += f" seed={r.seed} batch={r.batch_size}"
        groups[key].append(r)
    return groups


def pearson(x: list[float], y: list[float]) -> str | None:
    """``r = +0.21 [-0.55, +0.78]`` (95 % interval by Fisher's z), or ``None`` below 4 points or without spread."""
    if len(x) < 4 or np.std(x) == 0 or np.std(y) == 0:
        return None
    r = float(np.corrcoef(x, y)[0, 1])
    z, half = math.atanh(max(min(r, 0.999999), -0.999999)), 1.959964 / math.sqrt(len(x) - 3)
    return f"r = {r:+.2f} [{math.tanh(z - half):+.2f}, {math.tanh(z + half):+.2f}]"


def expert_scaling(records: list[Record]) -> list[str]:
    """Q1: accuracy, drop and latency as expert count (trained E, inference top-k, pruning to N) changes.

    Missing values print as ``-`` and are left out of the best/fastest/drop picks; for a lower-is-better primary
    metric the best is the lowest and the drop that matters is the rise from source to target.
    """
    lines = []
    for task in ("retrieval", "multiple_choice"):
        for name, recs in _shift_groups(records, task).items():
            primary = recs[0].primary_metric
            sign = 1.0 if primary.higher_is_better else -1.0
            lines.append(f"[{name}] {primary.name}{'' if primary.higher_is_better else ' (lower is better)'}: "
                         "variant: source -> target (drop) | p50 ms/sample | active params")
            rows = []
            for r in recs:
                src, tgt = r.primary("source", primary), r.primary("target", primary)
                drop = None if src is None or tgt is None else src - tgt
                p50 = r.domains["source"].p50_ms
                rows.append((r.label, src, tgt, p50, drop))
                params = "-" if r.active_params is None else f"{r.active_params:,}"
                lines.append(f"  {r.label}: {_num(src, '.1f')} -> {_num(tgt, '.1f')} ({_num(drop, '+.1f')}) | "
                             f"{_num(p50, '.3f')} | {params}")
            picks = []
            scored = [row for row in rows if row[2] is not None]
            if scored:
                best = max(scored, key=lambda row: sign * row[2])
                picks.append(f"best on target: {best[0]} ({best[2]:.1f})")
            timed = [row for row in rows if row[3] is not None]
            if timed:
                fastest = min(timed, key=lambda row: row[3])
                picks.append(f"fastest: {fastest[0]} ({fastest[3]:.3f} ms)")
            dropped = [row for row in rows if row[4] is not None]
            if dropped:
                least = min(dropped, key=lambda row: sign * row[4])
                picks.append(f"smallest drop: {least[0]} ({least[4]:+.1f})")
            if picks:
                lines.append("  " + "; ".join(picks))
            both = [row for row in rows if row[2] is not None and row[3] is not None]
            corr = pearson([row[3] for row in both], [row[2] for row in both])
            if corr:
                lines.append(f"  latency vs target accuracy over {len(both)} variants: {corr}")
    return lines


def specialization(records: list[Record]) -> list[str]:
    """Q2: per-layer modality specialization vs accuracy and throughput under the multiple-choice shift."""
    lines = []
    for name, recs in _shift_groups(records, "multiple_choice").items():
        recs = [r for r in recs if r.domains["source"].routing and r.domains["target"].routing]
        if not recs:
            continue
        primary = recs[0].primary_metric
        lines.append(f"[{name}] specialization index per MoE layer (0 = image and text tokens routed alike, "
                     "1 = disjoint experts), source / target; accuracy source -> target; samples/s")
        spec, acc, thr = [], [], []
        for r in recs:
            src, tgt = r.domains["source"], r.domains["target"]
            per_layer = " ".join(
                f"L{a['layer']}={_fmt(a['specialization_index'])}/{_fmt(b['specialization_index'])}"
                for a, b in zip(src.routing["layers"], tgt.routing["layers"], strict=True)
            )
            s_acc, t_acc = r.primary("source", primary), r.primary("target", primary)
            throughput = src.throughput
            lines.append(f"  {r.label}: {per_layer} | {_num(s_acc, '.1f')} -> {_num(t_acc, '.1f')} | "
                         f"{_num(throughput, '.0f')}")
            if src.routing["mean_specialization_index"] is not None and t_acc is not None and throughput is not None:
                spec.append(src.routing["mean_specialization_index"])
                acc.append(t_acc)
                thr.append(throughput)
        for what, values in (("target accuracy", acc), ("throughput", thr)):
            corr = pearson(spec, values)
            if corr:
                lines.append(f"  mean specialization vs {what} over {len(spec)} MoE variants: {corr}")
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
