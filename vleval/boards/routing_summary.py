"""Q2, routing side: per record and MoE layer, routing balance on the source and the routing shift source ->
target; with per-item routing, the image-token shift with its interval and whether it predicts errors
(:mod:`vleval.stats.routing`)."""

from __future__ import annotations

from dataclasses import dataclass

from vleval.boards.summary_tables import Section, SummaryTable, num, shift_groups
from vleval.results.record import Record
from vleval.results.sidecars import ItemReader
from vleval.stats.routing import FlipAUC, flip_auc, item_shift, layer_table, routing_shift

TITLE = "Q2 routing balance and routing shift"
TASKS = ("multiple_choice", "retrieval")
HEADING = ("per MoE layer: diversity exp(H)/N, dead-expert fraction, utilization CV, per-token routing entropy "
           "H/ln N ('-': no router probabilities) (source); routing shift JSD source -> target (bits, all tokens)")


@dataclass(frozen=True)
class LayerRouting:
    layer: int
    diversity: float | None
    dead_expert_fraction: float | None
    utilization_cv: float | None
    token_entropy: float | None  # None: the model records no router probabilities
    jsd: float | None  # source -> target, all tokens

    def balance(self) -> str:
        return "/".join(num(v, ".2f") for v in (self.diversity, self.dead_expert_fraction, self.utilization_cv,
                                                 self.token_entropy))


@dataclass(frozen=True)
class ImageShift:
    """From per-item rows: per layer the pooled image-token JSD with its 95 % interval, and the flip AUC."""

    layer_jsd: tuple[tuple[int, float, float, float], ...]  # (layer, JSD, low, high)
    flip: FlipAUC | None  # None without both outcomes among the items right on the source

    def jsd_text(self) -> str:
        return " ".join(f"L{layer}={v:.4f} [{lo:.4f}, {hi:.4f}]" for layer, v, lo, hi in self.layer_jsd)

    def auc_text(self) -> str:
        f = self.flip
        return "-" if f is None else f"{f.auc:.2f} [{f.low:.2f}, {f.high:.2f}] ({f.flipped} flipped, {f.kept} kept)"


@dataclass(frozen=True)
class RoutingRow:
    label: str
    layers: tuple[LayerRouting, ...]
    image: ImageShift | None
    all_layers: tuple[int, ...]  # the table's layer columns
    item_columns: bool  # the table shows the per-item columns

    def text(self) -> list[str]:
        lines = [f"  {self.label}: " + "  ".join(f"L{layer.layer}: {layer.balance()} JSD={num(layer.jsd, '.4f')}"
                                                 for layer in self.layers)]
        if self.image is not None:
            lines.append(f"    image-token JSD {self.image.jsd_text()}; AUC of item JSD for right->wrong flips: "
                         f"{self.image.auc_text()}")
        return lines

    def cells(self) -> list[str]:
        mine = {layer.layer: layer for layer in self.layers}
        out = [self.label]
        for n in self.all_layers:
            layer = mine.get(n)
            out += ["-", "-"] if layer is None else [layer.balance(), num(layer.jsd, ".4f")]
        if self.item_columns:
            out += ["-", "-"] if self.image is None else [self.image.jsd_text(), self.image.auc_text()]
        return out


def _layers(record: Record) -> tuple[LayerRouting, ...]:
    shift = dict(routing_shift(record))
    return tuple(LayerRouting(t["layer"], t["diversity"], t["dead_expert_fraction"], t["utilization_cv"],
                              t["token_entropy"], shift.get(t["layer"]))
                 for t in layer_table(record.domains["source"].routing))


def _image_shift(record: Record, items: ItemReader | None) -> ImageShift | None:
    rows = items(record) if items is not None and record.items else None
    found = item_shift(rows["source"], rows["target"]) if rows and "source" in rows and "target" in rows else None
    if found is None:
        return None
    layer_jsd = tuple((layer, v, lo, hi) for layer, (v, lo, hi) in zip(found.layers, found.layer_jsd, strict=True))
    return ImageShift(layer_jsd, flip_auc(found))


def routing_analytics(records: list[Record], items: ItemReader | None = None) -> Section:
    """Q2 routing per shift (multiple choice, retrieval), one row per record: per layer diversity exp(H)/N,
    dead-expert fraction, utilization CV, per-token routing entropy H/ln N (when the model records router
    probabilities) and the JSD source -> target; with ``items`` (a reader as for :func:`vleval.boards.build.build`)
    the image-token JSD with its 95 % cluster-bootstrap interval and the AUC of per-item JSD for the items that flip
    from right to wrong."""
    section = Section(TITLE)
    for task in TASKS:
        for name, recs in shift_groups(records, task).items():
            recs = [r for r in recs if r.domains["source"].routing and r.domains["target"].routing]
            if not recs:
                continue
            found = [(r, _layers(r), _image_shift(r, items)) for r in recs]
            all_layers = tuple(sorted({layer.layer for _, layers, _ in found for layer in layers}))
            item_columns = any(image is not None for _, _, image in found)
            rows = [RoutingRow(r.label, layers, image, all_layers, item_columns) for r, layers, image in found]
            columns = ["variant", *(c for n in all_layers for c in (f"L{n} diversity/dead/CV/entropy", f"L{n} JSD")),
                       *(["image-token JSD [95% CI]", "flip AUC [95% CI]"] if item_columns else [])]
            section.tables.append(SummaryTable(f"[{name}] {HEADING}", columns, rows))
    return section
