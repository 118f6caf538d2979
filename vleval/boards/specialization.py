"""Q2: per-layer modality specialization against accuracy and throughput under the multiple-choice shift."""

from __future__ import annotations

from dataclasses import dataclass

from vleval.boards.summary_tables import Section, SummaryTable, correlation_text, num, shift_groups
from vleval.results.record import Record
from vleval.stats.correlation import pearson

TITLE = "Q2 layer-wise modality specialization vs accuracy / throughput"
HEADING = ("specialization index per MoE layer (0 = image and text tokens routed alike, 1 = disjoint experts), "
           "source / target; accuracy source -> target; samples/s")


@dataclass(frozen=True)
class LayerSpecialization:
    layer: int
    source: float | None
    target: float | None

    def text(self) -> str:
        return f"{num(self.source, '.2f')}/{num(self.target, '.2f')}"


@dataclass(frozen=True)
class SpecializationRow:
    """One record (replicates shown one by one: the index is a property of trained weights)."""

    label: str
    layers: tuple[LayerSpecialization, ...]
    source_accuracy: float | None
    target_accuracy: float | None
    throughput: float | None
    all_layers: tuple[int, ...]  # the table's layer columns

    def text(self) -> list[str]:
        per_layer = " ".join(f"L{layer.layer}={layer.text()}" for layer in self.layers)
        return [f"  {self.label}: {per_layer} | {num(self.source_accuracy, '.1f')} -> "
                f"{num(self.target_accuracy, '.1f')} | {num(self.throughput, '.0f')}"]

    def cells(self) -> list[str]:
        mine = {layer.layer: layer.text() for layer in self.layers}
        return [self.label, *(mine.get(layer, "-") for layer in self.all_layers),
                f"{num(self.source_accuracy, '.1f')} -> {num(self.target_accuracy, '.1f')}",
                num(self.throughput, ".0f")]


def _layers(record: Record) -> tuple[LayerSpecialization, ...]:
    src, tgt = record.domains["source"].routing, record.domains["target"].routing
    return tuple(LayerSpecialization(a["layer"], a["specialization_index"], b["specialization_index"])
                 for a, b in zip(src["layers"], tgt["layers"], strict=True))


def specialization(records: list[Record]) -> Section:
    """Q2 per multiple-choice shift: each record's specialization index per layer (source / target), its accuracy
    and throughput, and the correlations of the mean index with target accuracy and with throughput."""
    section = Section(TITLE)
    for name, recs in shift_groups(records, "multiple_choice").items():
        recs = [r for r in recs if r.domains["source"].routing and r.domains["target"].routing]
        if not recs:
            continue
        primary = recs[0].primary_metric
        layers = [_layers(r) for r in recs]
        all_layers = tuple(sorted({layer.layer for found in layers for layer in found}))
        rows, spec, acc, thr = [], [], [], []
        for r, found in zip(recs, layers, strict=True):
            src = r.domains["source"]
            s_acc, t_acc = r.primary("source", primary), r.primary("target", primary)
            rows.append(SpecializationRow(r.label, found, s_acc, t_acc, src.throughput, all_layers))
            if src.routing["mean_specialization_index"] is not None and t_acc is not None \
                    and src.throughput is not None:
                spec.append(src.routing["mean_specialization_index"])
                acc.append(t_acc)
                thr.append(src.throughput)
        notes = []
        for what, values in (("target accuracy", acc), ("throughput", thr)):
            corr = pearson(spec, values)
            if corr:
                notes.append(f"mean specialization vs {what} over {len(spec)} MoE variants: {correlation_text(corr)}")
        columns = ["variant", *(f"L{layer} source/target" for layer in all_layers), "accuracy source -> target",
                   "samples/s"]
        section.tables.append(SummaryTable(f"[{name}] {HEADING}", columns, rows, notes))
    return section
