"""Q1: accuracy, drop and latency as the expert count (trained E, inference top-k, pruning to N) changes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from vleval.boards.summary_tables import Section, SummaryTable, correlation_text, num, shift_groups
from vleval.results.record import PrimaryMetric, Record
from vleval.stats.correlation import pearson
from vleval.stats.pooling import pooled_latency

TITLE = "Q1 expert count vs accuracy / latency / shift drop"
TASKS = ("retrieval", "captioning", "multiple_choice")
#: what captioning rows add: (metric, key) of the scores shown beside the primary one
CAPTION_SCORES = (("coco-caption", "bleu_4"), ("coco-caption", "rouge_l"))


@dataclass(frozen=True)
class Score:
    key: str
    source: float | None
    target: float | None


@dataclass(frozen=True)
class ScalingRow:
    """One variant, its replicates pooled: means of their values, ``± sd`` of their drops (2+ replicates)."""

    variant: str
    source: float | None
    target: float | None
    drop: float | None
    drop_sd: float | None
    replicates: int
    scores: tuple[Score, ...]  # captioning: BLEU-4 and ROUGE-L
    p50_ms: float | None
    active_params: int | None
    decoding: bool  # captioning: decode latency shown
    ttft_ms: float | None = None
    tpot_ms: float | None = None

    def _spread(self) -> str:
        return "" if self.drop_sd is None else f" ± {self.drop_sd:.1f} sd, {self.replicates} seeds"

    def _params(self) -> str:
        return "-" if self.active_params is None else f"{self.active_params:,}"

    def text(self) -> list[str]:
        shown = "".join(f" ({num(s.source, '.1f')} -> {num(s.target, '.1f')})" for s in self.scores)
        decode = ""
        if self.decoding and (self.ttft_ms is not None or self.tpot_ms is not None):
            decode = f" | TTFT {num(self.ttft_ms, '.2f')} ms, TPOT {num(self.tpot_ms, '.3f')} ms"
        return [f"  {self.variant}: {num(self.source, '.1f')} -> {num(self.target, '.1f')} "
                f"({num(self.drop, '+.1f')}{self._spread()}){shown} | {num(self.p50_ms, '.3f')} | "
                f"{self._params()}{decode}"]

    def cells(self) -> list[str]:
        out = [self.variant, num(self.source, ".1f"), num(self.target, ".1f"),
               num(self.drop, "+.1f") + self._spread()]
        out += [f"{num(s.source, '.1f')} -> {num(s.target, '.1f')}" for s in self.scores]
        out += [num(self.p50_ms, ".3f"), self._params()]
        return out + ([num(self.ttft_ms, ".2f"), num(self.tpot_ms, ".3f")] if self.decoding else [])


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _row(variant: str, group: list[Record], primary: PrimaryMetric, decoding: bool) -> ScalingRow:
    drops = [a - b for r in group if (a := r.primary("source", primary)) is not None
             and (b := r.primary("target", primary)) is not None]
    scores = tuple(Score(k, _mean([r.domains["source"].value(m, k) for r in group]),
                         _mean([r.domains["target"].value(m, k) for r in group])) for m, k in CAPTION_SCORES) \
        if decoding else ()
    timed = [r.domains["source"].latency for r in group if r.domains["source"].p50_ms is not None]
    return ScalingRow(
        variant=variant, source=_mean([r.primary("source", primary) for r in group]),
        target=_mean([r.primary("target", primary) for r in group]), drop=_mean(drops),
        drop_sd=float(np.std(drops, ddof=1)) if len(drops) > 1 else None, replicates=len(group), scores=scores,
        p50_ms=pooled_latency(group).p50_ms, active_params=group[0].active_params, decoding=decoding,
        ttft_ms=_mean([(lat.get("time_to_first_token_ms") or {}).get("p50") for lat in timed]),
        tpot_ms=_mean([lat.get("time_per_output_token_ms") for lat in timed]))


def _notes(rows: list[ScalingRow], sign: float) -> list[str]:
    """Best on target, fastest and smallest drop (missing values left out; lower-is-better: the lowest and the
    smallest rise), and the latency-accuracy correlation."""
    picks = []
    scored = [row for row in rows if row.target is not None]
    if scored:
        best = max(scored, key=lambda row: sign * row.target)
        picks.append(f"best on target: {best.variant} ({best.target:.1f})")
    timed = [row for row in rows if row.p50_ms is not None]
    if timed:
        fastest = min(timed, key=lambda row: row.p50_ms)
        picks.append(f"fastest: {fastest.variant} ({fastest.p50_ms:.3f} ms)")
    dropped = [row for row in rows if row.drop is not None]
    if dropped:
        least = min(dropped, key=lambda row: sign * row.drop)
        picks.append(f"smallest drop: {least.variant} ({least.drop:+.1f})")
    notes = ["; ".join(picks)] if picks else []
    both = [row for row in rows if row.target is not None and row.p50_ms is not None]
    corr = pearson([row.p50_ms for row in both], [row.target for row in both])
    if corr:
        notes.append(f"latency vs target accuracy over {len(both)} variants: {correlation_text(corr)}")
    return notes


def expert_scaling(records: list[Record]) -> Section:
    """Q1 per shift: each variant's replicates pooled (the mean of their values, ``± sd`` of their drops and the
    count; latency from the replicates that were timed). Captioning rows add BLEU-4 and ROUGE-L, time to first
    token and time per output token. Missing values print as ``-``."""
    section = Section(TITLE)
    for task in TASKS:
        for name, recs in shift_groups(records, task).items():
            primary = recs[0].primary_metric
            decoding = task == "captioning"
            keys = [k for _, k in CAPTION_SCORES] if decoding else []
            heading = (f"[{name}] {primary.name}{'' if primary.higher_is_better else ' (lower is better)'}"
                       + "".join(f" ({k})" for k in keys) + ": variant: source -> target (drop) | p50 ms/sample | "
                       "active params" + (" | decode latency" if decoding else ""))
            columns = ["variant", "source", "target", "drop", *(f"{k} source -> target" for k in keys),
                       "p50 ms/sample", "active params", *(["TTFT ms", "TPOT ms"] if decoding else [])]
            by_variant: dict[str, list[Record]] = defaultdict(list)
            for r in recs:
                by_variant[r.variant].append(r)
            rows = [_row(variant, group, primary, decoding) for variant, group in by_variant.items()]
            sign = 1.0 if primary.higher_is_better else -1.0
            section.tables.append(SummaryTable(heading, columns, rows, _notes(rows, sign)))
    return section
