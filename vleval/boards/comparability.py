"""Which records share a board, and whether they may be ranked together: same dataset content, items evaluated,
primary metric, latency protocol, metric versions and hardware."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from vleval.results.record import Record


class NotComparable(ValueError):
    """Records that must not share a leaderboard; the message says what differs."""


def evaluation_name(evaluation: dict[str, Any]) -> str:
    """``kind:name``, with its arguments when it has any: two differently configured datasets never share a board."""
    args = ",".join(f"{k}={v}" for k, v in sorted(evaluation["args"].items()))
    return f"{evaluation['kind']}:{evaluation['name']}" + (f"({args})" if args else "")


def differences(records: list[Record]) -> list[str]:
    """``<facet> differs: a | b`` for every facet on which the records disagree (empty: comparable)."""
    facets: dict[str, set[str]] = defaultdict(set)
    for r in records:
        for name, domain in r.domains.items():
            facets[f"{name} dataset content hash"].add(domain.dataset.content_hash[:16])
            facets[f"{name} items evaluated"].add(str(domain.dataset.size))
        facets["primary metric"].add(r.primary_metric.name if r.primary_metric else "-")
        if r.cell["latency"].get("repetitions", 1) > 0:  # an untimed replicate has no latency to compare
            facets["latency protocol"].add(json.dumps(r.cell["latency"], sort_keys=True))
        facets["metric versions"].add(", ".join(f"{m.name}={m.version}" for m in r.plugins.metrics or []))
        env = r.environment
        facets["hardware fingerprint"].add(f"{env.get('hardware_id')} ({env.get('cpu')}, gpu={env.get('gpu')}, "
                                           f"threads={env.get('torch_threads')})")
    return [f"{facet} differs: {' | '.join(sorted(values))}" for facet, values in facets.items() if len(values) > 1]


def groups(records: list[Record], allow_mixed: bool = False) -> dict[tuple[str, str], list[Record]]:
    """The records of each board, by (evaluation, task) in first-seen order: successful ones with a primary metric;
    :class:`NotComparable` (for the first such group) when a group's records must not be ranked together."""
    found: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        if r.status == "ok" and r.primary_metric:
            found[(evaluation_name(r.evaluation), r.task or "")].append(r)
    for (evaluation, _), recs in found.items():
        problems = differences(recs)
        if problems and not allow_mixed:
            raise NotComparable(f"{evaluation}: refusing to rank records that are not comparable:\n  "
                                + "\n  ".join(problems) + "\n(use --allow-mixed to rank them anyway)")
    return dict(found)
