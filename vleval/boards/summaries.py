"""Short answers to the two research questions, computed from the records of a run.

Records are grouped by evaluation (shift name and arguments), seed and batch size, so that only like is compared.
Correlations over a handful of variants are weak evidence; each comes with its 95 % interval (Fisher z).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from vleval.boards.build import evaluation_name
from vleval.results.record import Record
from vleval.stats import pooling as board_stats


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


def _pooled(recs: list[Record]) -> list[tuple[str, list[Record]]]:
    """Records grouped by variant, training-seed replicates together (first-appearance order)."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in recs:
        groups[board_stats.variant_label(r)].append(r)
    return list(groups.items())


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _decode(recs: list[Record]) -> str:
    """`` | TTFT p50 x ms, TPOT y ms`` of the timed replicates' source domain (generating models only)."""
    timed = [r.domains["source"].latency for r in recs if r.domains["source"].p50_ms is not None]
    ttft = _mean([(lat.get("time_to_first_token_ms") or {}).get("p50") for lat in timed])
    tpot = _mean([lat.get("time_per_output_token_ms") for lat in timed])
    return "" if ttft is None and tpot is None else f" | TTFT {_num(ttft, '.2f')} ms, TPOT {_num(tpot, '.3f')} ms"


def expert_scaling(records: list[Record]) -> list[str]:
    """Q1: accuracy, drop and latency as expert count (trained E, inference top-k, pruning to N) changes.

    Training-seed replicates of a variant are pooled: the mean of their values, ``± sd`` of their drops and the
    count; latency comes from the replicates that were timed. Captioning lines add BLEU-4 and ROUGE-L, time to first
    token and time per output token. Missing values print as ``-`` and are left out of the best/fastest/drop picks;
    for a lower-is-better primary metric the best is the lowest and the drop that matters is the rise.
    """
    lines = []
    for task in ("retrieval", "captioning", "multiple_choice"):
        for name, recs in _shift_groups(records, task).items():
            primary = recs[0].primary_metric
            sign = 1.0 if primary.higher_is_better else -1.0
            extra = [("coco-caption", k) for k in ("bleu_4", "rouge_l")] if task == "captioning" else []
            lines.append(f"[{name}] {primary.name}{'' if primary.higher_is_better else ' (lower is better)'}"
                         + "".join(f" ({k})" for _, k in extra) + ": variant: source -> target (drop) | p50 "
                         "ms/sample | active params" + (" | decode latency" if task == "captioning" else ""))
            rows = []
            for label, group in _pooled(recs):
                src = _mean([r.primary("source", primary) for r in group])
                tgt = _mean([r.primary("target", primary) for r in group])
                drops = [a - b for r in group if (a := r.primary("source", primary)) is not None
                         and (b := r.primary("target", primary)) is not None]
                drop = _mean(drops)
                p50 = board_stats.pooled_latency(group)["p50_ms"]
                rows.append((label, src, tgt, p50, drop))
                params = "-" if group[0].active_params is None else f"{group[0].active_params:,}"
                spread = f" ± {np.std(drops, ddof=1):.1f} sd, {len(group)} seeds" if len(drops) > 1 else ""
                shown = "".join(
                    f" ({_num(_mean([r.domains['source'].value(m, k) for r in group]), '.1f')} -> "
                    f"{_num(_mean([r.domains['target'].value(m, k) for r in group]), '.1f')})" for m, k in extra)
                lines.append(f"  {label}: {_num(src, '.1f')} -> {_num(tgt, '.1f')} ({_num(drop, '+.1f')}{spread})"
                             f"{shown} | {_num(p50, '.3f')} | {params}" + (_decode(group) if extra else ""))
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


def routing_analytics(records: list[Record], items=None) -> list[str]:
    """Q2, routing side: per variant and layer, balance on the source (diversity exp(H)/N, dead-expert fraction,
    utilization CV, per-token routing entropy H/ln N when the model records router probabilities) and the routing
    shift source -> target (JSD); with per-item routing (``items``: a reader as for :func:`vleval.boards.build.build`),
    the image-token JSD with its 95 % cluster-bootstrap interval and the AUC of per-item JSD for the items that flip
    from right to wrong."""
    from vleval.stats import routing as analytics

    lines = []
    for task in ("multiple_choice", "retrieval"):
        for name, recs in _shift_groups(records, task).items():
            recs = [r for r in recs if r.domains["source"].routing and r.domains["target"].routing]
            if not recs:
                continue
            lines.append(f"[{name}] per MoE layer: diversity exp(H)/N, dead-expert fraction, utilization CV, "
                         "per-token routing entropy H/ln N ('-': no router probabilities) (source); routing shift "
                         "JSD source -> target (bits, all tokens)")
            for r in recs:
                shift = dict(analytics.routing_shift(r))
                parts = []
                for layer in analytics.layer_table(r.domains["source"].routing):
                    parts.append(f"L{layer['layer']}: {_num(layer['diversity'], '.2f')}/"
                                 f"{_num(layer['dead_expert_fraction'], '.2f')}/{_num(layer['utilization_cv'], '.2f')}/"
                                 f"{_num(layer['token_entropy'], '.2f')} JSD={_num(shift.get(layer['layer']), '.4f')}")
                lines.append(f"  {r.label}: " + "  ".join(parts))
                rows = items(r) if items is not None and r.items else None
                per_item = analytics.item_shift(rows["source"], rows["target"]) \
                    if rows and "source" in rows and "target" in rows else None
                if per_item is not None:
                    jsds = " ".join(f"L{layer}={v:.4f} [{lo:.4f}, {hi:.4f}]"
                                    for layer, (v, lo, hi) in zip(per_item.layers, per_item.layer_jsd, strict=True))
                    flip = analytics.flip_auc(per_item)
                    auc = "-" if flip is None else (f"{flip.auc:.2f} [{flip.low:.2f}, {flip.high:.2f}] "
                                                    f"({flip.flipped} flipped, {flip.kept} kept)")
                    lines.append(f"    image-token JSD {jsds}; AUC of item JSD for right->wrong flips: {auc}")
    return lines


def sections(records: list[Record], items=None) -> list[tuple[str, list[str]]]:
    """Every summary with its title, for the console, ``vleval summary`` and the report."""
    return [("Q1 expert count vs accuracy / latency / shift drop", expert_scaling(records)),
            ("Q2 layer-wise modality specialization vs accuracy / throughput", specialization(records)),
            ("Q2 routing balance and routing shift", routing_analytics(records, items))]
