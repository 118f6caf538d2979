"""The report's figures (matplotlib, Agg backend, PNG). Each function saves one figure and returns its path, or
``None`` when the records hold nothing to draw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vleval import analytics
from vleval.leaderboard import Board
from vleval.record import Record


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _plt().close(fig)
    return path


def _colours(values: list[int | None]) -> dict[int | None, Any]:
    cmap = _plt().get_cmap("viridis")
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
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = _colours([r.experts for r in rows])
    shown: set = set()
    for r in rows:
        y, yci = (r.target, r.target_ci) if r.target is not None else (r.source, r.source_ci)
        xerr = [[r.p50_ms - r.p50_ci[0]], [r.p50_ci[1] - r.p50_ms]] if r.p50_ci else None
        yerr = [[y - yci[0]], [yci[1] - y]] if yci else None
        ax.errorbar(r.p50_ms, y, xerr=xerr, yerr=yerr, fmt="o", color=colours[r.experts], capsize=3,
                    label=None if r.experts in shown else f"E = {r.experts}")
        shown.add(r.experts)
        ax.annotate(r.label, (r.p50_ms, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
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
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.5))
    for i, r in enumerate(rows):
        err = [[r.drop - r.drop_ci[0]], [r.drop_ci[1] - r.drop]] if r.drop_ci else None
        ax.errorbar(r.drop, i, xerr=err, fmt="o" if r.drop_significant else "o", capsize=3,
                    markerfacecolor="C3" if r.drop_significant else "white", color="C3")
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [r.label for r in rows], fontsize=7)
    ax.set_xlabel(f"drop source - target, {board.metric} (95 % CI; filled = significant, Holm)")
    ax.set_title(board.evaluation, fontsize=9)
    return _save(fig, path)


def image_share_heatmap(record: Record, domain: str, path: Path) -> Path | None:
    """Layer x expert heatmap of the share of image tokens among each expert's tokens (blank: expert unused)."""
    routing = record.domains[domain].routing if domain in record.domains else None
    layers = [layer for layer in (routing or {}).get("layers", []) if layer.get("image_share_per_expert")]
    if not layers:
        return None
    import numpy as np

    width = max(len(layer["image_share_per_expert"]) for layer in layers)
    grid = np.full((len(layers), width), np.nan)
    for i, layer in enumerate(layers):
        for j, value in enumerate(layer["image_share_per_expert"]):
            grid[i, j] = np.nan if value is None else value
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(3.0, 0.35 * width + 2), 0.5 * len(layers) + 1.6))
    image = ax.imshow(grid, vmin=0, vmax=1, cmap="coolwarm", aspect="auto")
    ax.set_yticks(range(len(layers)), [f"L{layer['layer']}" for layer in layers])
    ax.set_xlabel("expert")
    ax.set_title(f"{record.label} [{domain}]: image-token share", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.05)
    return _save(fig, path)


def shift_vs_drop(records: list[Record], metric: str, path: Path) -> Path | None:
    """Routing shift (JSD source -> target) per layer against the variant's accuracy drop."""
    points = [(layer, value, r.primary("source") - r.primary("target"))
              for r in records if r.primary("source") is not None and r.primary("target") is not None
              for layer, value in analytics.routing_shift(r)]
    if not points:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
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
    from vleval.board_stats import variant_label

    for r in records:
        if r.timed is not None and r.timed.p50_ms is not None:
            by_label.setdefault(variant_label(r), []).append(r)
    labels = [row.label for row in board.rows if row.label in by_label]
    if not labels:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(labels) + 1.5))
    for i, label in enumerate(labels):
        for r in by_label[label]:
            ms = r.timed.latency["sample_ms"]
            ax.plot([ms["p50"], ms["p99"]], [i, i], color="C0", linewidth=4, alpha=0.4)
            ax.plot([ms["p50"], ms["p90"], ms["p99"]], [i] * 3, "|", color="C0", markersize=10)
            passes = (r.timed.latency.get("passes") or {}).get("mean_sample_ms") or []
            ax.plot(passes, [i + 0.2] * len(passes), ".", color="C1")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("ms/sample: p50 | p90 | p99 (bar), per-pass means (dots)")
    ax.set_title(board.evaluation, fontsize=9)
    return _save(fig, path)
