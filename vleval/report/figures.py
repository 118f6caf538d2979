"""The report's figures (matplotlib's object-oriented API, Agg canvas, PNG). Each function saves one figure and
returns its path, or ``None`` when the records hold nothing to draw.

Figures have fixed margins in inches (no ``tight_layout``/constrained layout: measuring every text is what made the
report slow) and the image-token share of all variants of a board is one figure with a panel per variant. No
pyplot: nothing global (backend, open figures) is set or kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from vleval.boards.build import Board
from vleval.results.record import Record
from vleval.stats import routing as analytics

DPI = 80
CHAR_IN = 0.055  # approximate width of one 7 pt tick-label character, inches (sizes the left margin)


def _figure(width: float, height: float, *, left: float = 0.75, right: float = 0.2, bottom: float = 0.55,
            top: float = 0.35, nrows: int = 1, ncols: int = 1, **grid: float) -> tuple[Figure, Any]:
    """A figure of ``width`` x ``height`` inches with its subplots inside fixed margins (inches)."""
    fig = Figure(figsize=(width, height), dpi=DPI)
    axes = fig.subplots(nrows, ncols, squeeze=False, gridspec_kw=dict(
        left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height, **grid))
    return fig, axes


def _label_margin(labels: list[str]) -> float:
    """Left margin (inches) that fits the longest y tick label at fontsize 7."""
    return 0.3 + CHAR_IN * max((len(label) for label in labels), default=0)


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    return path


def _colours(values: list[int | None]) -> dict[int | None, Any]:
    cmap = colormaps["viridis"]
    distinct = sorted({v for v in values if v is not None})
    out = {v: cmap(i / max(len(distinct) - 1, 1)) for i, v in enumerate(distinct)}
    out[None] = "grey"
    return out


def accuracy_vs_latency(board: Board, path: Path) -> Path | None:
    """Target (else source) accuracy vs p50 latency, CI whiskers both ways, one colour per expert count, the
    Pareto front as a line."""
    rows = [r for r in board.rows if r.p50_ms is not None and (r.target if r.target is not None else r.source)
            is not None]
    if not rows:
        return None
    fig, ((ax,),) = _figure(7, 4.5, left=0.8)
    colours = _colours([r.experts for r in rows])
    for experts in sorted({r.experts for r in rows}, key=lambda e: (e is None, e or 0)):
        mine = [r for r in rows if r.experts == experts]
        xs = np.array([r.p50_ms for r in mine])
        ys = np.array([r.target if r.target is not None else r.source for r in mine])
        cis = [r.target_ci if r.target is not None else r.source_ci for r in mine]
        xerr = np.array([[x - r.p50_ci[0], r.p50_ci[1] - x] if r.p50_ci else [np.nan] * 2
                         for x, r in zip(xs, mine, strict=True)]).T
        yerr = np.array([[y - ci[0], ci[1] - y] if ci else [np.nan] * 2 for y, ci in zip(ys, cis, strict=True)]).T
        ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="o", color=colours[experts], capsize=3,
                    label=f"E = {experts}")
        for x, y, r in zip(xs, ys, mine, strict=True):
            ax.annotate(r.label, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    front = sorted((r for r in rows if r.pareto), key=lambda r: r.p50_ms)
    if front:
        ax.plot([r.p50_ms for r in front], [r.target if r.target is not None else r.source for r in front], "--",
                color="black", linewidth=1, label="Pareto front")
    ax.set_xlabel("p50 latency, ms/sample (95 % CI)")
    ax.set_ylabel(f"{board.metric} ({'target' if rows[0].target is not None else 'data'}, 95 % CI)")
    ax.set_title(board.evaluation, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def drops(board: Board, path: Path) -> Path | None:
    """Source - target drop per variant with its 95 % interval; significant drops (Holm) filled."""
    rows = [r for r in board.rows if r.drop is not None]
    if not rows:
        return None
    fig, ((ax,),) = _figure(7, 0.3 * len(rows) + 1.1, left=_label_margin([r.label for r in rows]))
    for i, r in enumerate(rows):
        err = [[r.drop - r.drop_ci[0]], [r.drop_ci[1] - r.drop]] if r.drop_ci else None
        ax.errorbar(r.drop, i, xerr=err, fmt="o", capsize=3,
                    markerfacecolor="C3" if r.drop_significant else "white", color="C3")
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [r.label for r in rows], fontsize=7)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel(f"drop source - target, {board.metric} (95 % CI; filled = significant, Holm)", fontsize=8)
    ax.set_title(board.evaluation, fontsize=9)
    return _save(fig, path)


def _share_grid(record: Record, domain: str) -> tuple[Any, list[str]] | None:
    """Layer x expert matrix of image-token shares (NaN: expert unused) and its layer names, or ``None``."""
    routing = record.domains[domain].routing if domain in record.domains else None
    layers = [layer for layer in (routing or {}).get("layers", []) if layer.get("image_share_per_expert")]
    if not layers:
        return None
    width = max(len(layer["image_share_per_expert"]) for layer in layers)
    grid = np.full((len(layers), width), np.nan)
    for i, layer in enumerate(layers):
        for j, value in enumerate(layer["image_share_per_expert"]):
            grid[i, j] = np.nan if value is None else value
    return grid, [f"L{layer['layer']}" for layer in layers]


def image_share_heatmaps(panels: list[tuple[Record, str]], title: str, path: Path) -> Path | None:
    """One figure, one panel per (variant, domain): layer x expert heatmap of the share of image tokens among each
    expert's tokens (blank: expert unused), one shared colour bar."""
    grids = [(record, domain, found) for record, domain in panels
             if (found := _share_grid(record, domain)) is not None]
    if not grids:
        return None
    ncols = 1 if len(grids) < 3 else 2
    nrows = -(-len(grids) // ncols)
    panel_h, gap, top, bottom = max(0.22 * max(len(found[1]) for _, _, found in grids) + 0.25, 0.7), 0.5, 0.5, 0.35
    height = nrows * panel_h + (nrows - 1) * gap + top + bottom
    fig, axes = _figure(5 * ncols + 0.9, height, left=0.45, right=0.9, bottom=bottom, top=top, nrows=nrows,
                        ncols=ncols, hspace=gap / panel_h, wspace=0.15)
    image = None
    for ax, (record, domain, (grid, layers)) in zip(axes.ravel(), grids, strict=False):
        image = ax.imshow(grid, vmin=0, vmax=1, cmap="coolwarm", aspect="auto", interpolation="nearest")
        ax.set_yticks(range(len(layers)), layers, fontsize=7)
        step = max(1, grid.shape[1] // 8)
        ax.set_xticks(range(0, grid.shape[1], step))
        ax.tick_params(axis="x", labelsize=7, pad=1)
        ax.set_title(f"{record.label} [{domain}]", fontsize=7, pad=2)
    for ax in axes.ravel()[len(grids):]:
        ax.set_visible(False)
    fig.suptitle(f"{title}: image-token share per layer and expert (x: expert)", fontsize=8,
                 y=1 - 0.12 / height)
    cax = fig.add_axes((1 - 0.7 / fig.get_figwidth(), bottom / height, 0.12 / fig.get_figwidth(),
                        1 - (top + bottom) / height))
    fig.colorbar(image, cax=cax).ax.tick_params(labelsize=7)
    return _save(fig, path)


def shift_vs_drop(records: list[Record], metric: str, path: Path) -> Path | None:
    """Routing shift (JSD source -> target) per layer against the variant's accuracy drop."""
    points = [(layer, value, r.primary("source") - r.primary("target"))
              for r in records if r.primary("source") is not None and r.primary("target") is not None
              for layer, value in analytics.routing_shift(r)]
    if not points:
        return None
    fig, ((ax,),) = _figure(6, 4, left=0.7)
    for layer in sorted({p[0] for p in points}):
        mine = [p for p in points if p[0] == layer]
        ax.scatter([p[1] for p in mine], [p[2] for p in mine], label=f"layer {layer}")
    ax.set_xlabel("routing shift: JSD of expert load, source vs target (bits)")
    ax.set_ylabel(f"drop, {metric}")
    ax.legend(fontsize=7)
    return _save(fig, path)


def latency_distributions(board: Board, records: list[Record], path: Path) -> Path | None:
    """Per variant: per-sample p50-p90-p99 as a bar with marks, and each timed pass's mean ms/sample as dots."""
    by_label: dict[str, list[Record]] = {}
    for r in records:
        if r.timed is not None and r.timed.p50_ms is not None:
            by_label.setdefault(r.variant, []).append(r)
    labels = [row.label for row in board.rows if row.label in by_label]
    if not labels:
        return None
    fig, ((ax,),) = _figure(7, 0.35 * len(labels) + 1.1, left=_label_margin(labels))
    bars, marks, dots = ([], []), ([], []), ([], [])
    for i, label in enumerate(labels):
        for r in by_label[label]:
            ms = r.timed.latency["sample_ms"]
            bars[0].append((ms["p50"], ms["p99"]))
            bars[1].append(i)
            marks[0].extend([ms["p50"], ms["p90"], ms["p99"]])
            marks[1].extend([i] * 3)
            passes = (r.timed.latency.get("passes") or {}).get("mean_sample_ms") or []
            dots[0].extend(passes)
            dots[1].extend([i + 0.2] * len(passes))
    ax.hlines(bars[1], [b[0] for b in bars[0]], [b[1] for b in bars[0]], color="C0", linewidth=4, alpha=0.4)
    ax.plot(marks[0], marks[1], "|", color="C0", markersize=10)
    ax.plot(dots[0], dots[1], ".", color="C1")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylim(-0.6, len(labels) - 0.2)
    ax.set_xscale("log")
    ax.set_xlabel("ms/sample: p50 | p90 | p99 (bar), per-pass means (dots)", fontsize=8)
    ax.set_title(board.evaluation, fontsize=9)
    return _save(fig, path)
