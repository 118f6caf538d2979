"""Short answers to the two research questions, computed from the records of a run.

Records are grouped by evaluation (shift name and arguments), seed and batch size, so that only like is compared.
Correlations over a handful of variants are weak evidence; each comes with its 95 % interval (Fisher z).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from vleval.leaderboard import evaluation_name, primary_value


def _shift_groups(records: list[dict[str, Any]], task: str) -> dict[str, list[dict[str, Any]]]:
    chosen = [r for r in records if r.get("status") == "ok" and r.get("task") == task and "target" in r["domains"]
              and r.get("primary_metric")]
    several = len({(r["cell"]["seed"], r["cell"]["batch_size"]) for r in chosen}) > 1
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in chosen:
        key = evaluation_name(r["cell"]["evaluation"])
        if several:
            key += f" seed={r['cell']['seed']} batch={r['cell']['batch_size']}"
        groups[key].append(r)
    return groups


def pearson(x: list[float], y: list[float]) -> str | None:
    """``r = +0.21 [-0.55, +0.78]`` (95 % interval by Fisher's z), or ``None`` below 4 points or without spread."""
    if len(x) < 4 or np.std(x) == 0 or np.std(y) == 0:
        return None
    r = float(np.corrcoef(x, y)[0, 1])
    z, half = math.atanh(max(min(r, 0.999999), -0.999999)), 1.959964 / math.sqrt(len(x) - 3)
    return f"r = {r:+.2f} [{math.tanh(z - half):+.2f}, {math.tanh(z + half):+.2f}]"


def expert_scaling(records: list[dict[str, Any]]) -> list[str]:
    """Q1: accuracy, drop and latency as expert count (trained E, inference top-k, pruning to N) changes."""
    lines = []
    for task in ("retrieval", "multiple_choice"):
        for name, recs in _shift_groups(records, task).items():
            primary = recs[0]["primary_metric"]
            lines.append(f"[{name}] {primary['metric']}/{primary['key']}: "
                         "variant: source -> target (drop) | p50 ms/sample | active params")
            rows = []
            for r in recs:
                src = primary_value(r["domains"]["source"], primary)
                tgt = primary_value(r["domains"]["target"], primary)
                p50 = r["domains"]["source"]["latency"]["sample_ms"]["p50"]
                rows.append((r["cell"]["label"], src, tgt, p50))
                lines.append(f"  {r['cell']['label']}: {src:.1f} -> {tgt:.1f} ({src - tgt:+.1f}) | {p50:.3f} | "
                             f"{r['model_info']['active_params_per_token']:,}")
            best = max(rows, key=lambda row: row[2])
            fastest = min(rows, key=lambda row: row[3])
            least_drop = min(rows, key=lambda row: row[1] - row[2])
            lines.append(f"  best on target: {best[0]} ({best[2]:.1f}); fastest: {fastest[0]} ({fastest[3]:.3f} ms); "
                         f"smallest drop: {least_drop[0]} ({least_drop[1] - least_drop[2]:+.1f})")
            corr = pearson([row[3] for row in rows], [row[2] for row in rows])
            if corr:
                lines.append(f"  latency vs target accuracy over {len(rows)} variants: {corr}")
    return lines


def specialization(records: list[dict[str, Any]]) -> list[str]:
    """Q2: per-layer modality specialization vs accuracy and throughput under the multiple-choice shift."""
    lines = []
    for name, recs in _shift_groups(records, "multiple_choice").items():
        recs = [r for r in recs if r["domains"]["source"].get("routing")]
        if not recs:
            continue
        primary = recs[0]["primary_metric"]
        lines.append(f"[{name}] specialization index per MoE layer (0 = image and text tokens routed alike, "
                     "1 = disjoint experts), source / target; accuracy source -> target; samples/s")
        spec, acc, thr = [], [], []
        for r in recs:
            src, tgt = r["domains"]["source"], r["domains"]["target"]
            per_layer = " ".join(
                f"L{a['layer']}={_fmt(a['specialization_index'])}/{_fmt(b['specialization_index'])}"
                for a, b in zip(src["routing"]["layers"], tgt["routing"]["layers"], strict=True)
            )
            s_acc, t_acc = primary_value(src, primary), primary_value(tgt, primary)
            throughput = src["latency"]["throughput_samples_per_s"]
            lines.append(f"  {r['cell']['label']}: {per_layer} | {s_acc:.1f} -> {t_acc:.1f} | {throughput:.0f}")
            if src["routing"]["mean_specialization_index"] is not None:
                spec.append(src["routing"]["mean_specialization_index"])
                acc.append(t_acc)
                thr.append(throughput)
        for what, values in (("target accuracy", acc), ("throughput", thr)):
            corr = pearson(spec, values)
            if corr:
                lines.append(f"  mean specialization vs {what} over {len(spec)} MoE variants: {corr}")
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
