"""Short answers to the two research questions, computed from the records of a run."""

from __future__ import annotations

from typing import Any

import numpy as np


def _primary(domain: dict[str, Any] | None, primary: dict[str, str]) -> float | None:
    if not domain:
        return None
    value = domain["metrics"].get(primary["metric"], {}).get(primary["key"])
    return None if value is None else value["value"]


def _ok_shift_records(records: list[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("status") == "ok" and r.get("task") == task and "target" in r["domains"]
            and r.get("primary_metric")]


def _pearson(x: list[float], y: list[float]) -> float | None:
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def expert_scaling(records: list[dict[str, Any]]) -> list[str]:
    """Q1: accuracy, drop and latency as expert count (trained E, inference top-k, pruning to N) changes."""
    lines = []
    for task in ("retrieval", "multiple_choice"):
        recs = _ok_shift_records(records, task)
        if not recs:
            continue
        primary = recs[0]["primary_metric"]
        lines.append(f"[{recs[0]['cell']['evaluation']['name']}] {primary['metric']}/{primary['key']}: "
                     "variant: source -> target (drop) | p50 ms/sample | active params")
        rows = []
        for r in recs:
            src, tgt = _primary(r["domains"]["source"], primary), _primary(r["domains"]["target"], primary)
            p50 = r["domains"]["source"]["latency"]["sample_ms"]["p50"]
            rows.append((r["cell"]["label"], src, tgt, p50, r["model_info"]["active_params_per_token"]))
            lines.append(f"  {r['cell']['label']}: {src:.1f} -> {tgt:.1f} ({src - tgt:+.1f}) | {p50:.3f} | "
                         f"{r['model_info']['active_params_per_token']:,}")
        best_t = max(rows, key=lambda row: row[2])
        fastest = min(rows, key=lambda row: row[3])
        least_drop = min(rows, key=lambda row: row[1] - row[2])
        lines.append(f"  best on target: {best_t[0]} ({best_t[2]:.1f}); fastest: {fastest[0]} "
                     f"({fastest[3]:.3f} ms); smallest drop: {least_drop[0]} ({least_drop[1] - least_drop[2]:+.1f})")
        r_lat = _pearson([row[3] for row in rows], [row[2] for row in rows])
        if r_lat is not None:
            lines.append(f"  Pearson r(latency, target accuracy) over {len(rows)} variants: {r_lat:+.2f}")
    return lines


def specialization(records: list[dict[str, Any]]) -> list[str]:
    """Q2: per-layer modality specialization vs accuracy and throughput under the multiple-choice shift."""
    recs = [r for r in _ok_shift_records(records, "multiple_choice") if r["domains"]["source"].get("routing")]
    if not recs:
        return []
    primary = recs[0]["primary_metric"]
    lines = [f"[{recs[0]['cell']['evaluation']['name']}] specialization index per MoE layer (0 = image and text "
             "tokens routed alike, 1 = disjoint experts), source / target; accuracy source -> target; samples/s"]
    spec, acc, thr = [], [], []
    for r in recs:
        src, tgt = r["domains"]["source"], r["domains"]["target"]
        per_layer = " ".join(
            f"L{a['layer']}={_fmt(a['specialization_index'])}/{_fmt(b['specialization_index'])}"
            for a, b in zip(src["routing"]["layers"], tgt["routing"]["layers"], strict=True)
        )
        s_acc, t_acc = _primary(src, primary), _primary(tgt, primary)
        throughput = src["latency"]["throughput_samples_per_s"]
        lines.append(f"  {r['cell']['label']}: {per_layer} | {s_acc:.1f} -> {t_acc:.1f} | {throughput:.0f}")
        mean_si = src["routing"]["mean_specialization_index"]
        if mean_si is not None:
            spec.append(mean_si)
            acc.append(t_acc)
            thr.append(throughput)
    r_acc, r_thr = _pearson(spec, acc), _pearson(spec, thr)
    if r_acc is not None:
        lines.append(f"  Pearson r(mean specialization, target accuracy) = {r_acc:+.2f}; "
                     f"r(mean specialization, throughput) = {_fmt(r_thr, '+.2f')} over {len(spec)} MoE variants")
    return lines


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)
