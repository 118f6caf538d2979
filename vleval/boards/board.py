"""A leaderboard as typed data: one :class:`Board` per evaluation, one :class:`Row` per model variant.

Built by :mod:`vleval.boards.build`, rendered by :mod:`vleval.boards.render`; the report's figures read rows too.
Intervals are ``(low, high)`` at 95 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Interval = tuple[float, float]


@dataclass
class Row:
    label: str  # the variant (its records' ``variant``), `` bs=N`` added when the board mixes batch sizes
    experts: int | None
    top_k: int | None
    active_params: int | None
    source: float | None
    target: float | None
    drop: float | None
    p50_ms: float | None
    p90_ms: float | None
    throughput: float | None  # None also for a model doing no work (no active parameter): only call overhead
    seeds: int
    pareto: bool = False
    source_ci: Interval | None = None  # clustered bootstrap from per-item rows, else the metric's own interval
    target_ci: Interval | None = None
    drop_ci: Interval | None = None  # bootstrap interval of source - target from per-item rows
    drop_p: float | None = None  # Holm-adjusted across the board's differences
    drop_test: str | None = None
    drop_significant: bool | None = None
    replicates: int = 1  # records pooled into this row (runs, evaluation seeds, the model entry's replicates)
    distinct_replicates: int = 0  # distinct replicate arguments among them (0: the model entry has no replicates)
    replicate_args: tuple[str, ...] = ()  # the names of those arguments, as the benchmark's ``replicates`` table
    p50_ci: Interval | None = None
    latency_flag: str | None = None  # why the latency should not be trusted (machine contended, passes unsteady)
    vs_base: float | None = None  # scaled variant (top-k, pruning) minus its unscaled base, on target (else data)
    vs_base_ci: Interval | None = None
    vs_base_p: float | None = None  # Holm-adjusted with the board's drops
    vs_base_equivalent: bool | None = None  # TOST inside [-margin, margin], Holm-adjusted across the board's
    vs_base_significant: bool | None = None

    @property
    def accuracy(self) -> float | None:
        """What the board ranks by: target, else source (a dataset board has no target)."""
        return self.target if self.target is not None else self.source


@dataclass
class Board:
    evaluation: str
    task: str
    metric: str
    higher_is_better: bool = True
    rows: list[Row] = field(default_factory=list)
    margin: float | None = None  # equivalence margin of the vs-base tests (metric units)
