"""Which unscaled record a scaled variant (top-k, pruning) of a board is compared with, item by item.

The base shares the model and its arguments apart from the base's replicate arguments (the model entry's
``replicates`` table, :attr:`vleval.results.record.Record.replicate`). A base pooled over replicates is compared
on one replicate: the one whose replicate arguments equal the scaled variant's own values, or, where the scaled
variant does not set them (the model's default), the base's first replicate.
"""

from __future__ import annotations

from typing import Any

from vleval.results.record import Record


def _args(record: Record, leaving_out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (record.cell.get("model_args") or {}).items() if k not in leaving_out}


def _is_base_of(base: Record, scaled: Record) -> bool:
    """Same model, same arguments apart from the base's replicate arguments."""
    return base.cell.get("model") == scaled.cell.get("model") and \
        _args(base, base.replicate) == _args(scaled, base.replicate)


def base_record(scaled: Record, records: list[Record]) -> Record | None:
    """The unscaled record among ``records`` that ``scaled`` is compared with; ``None`` unless exactly one is
    (several evaluation seeds or batch sizes: no single base)."""
    if not scaled.cell.get("scaling"):
        return None
    candidates = [r for r in records if not r.cell.get("scaling") and _is_base_of(r, scaled)]
    if not candidates:
        return None
    first, own = candidates[0].replicate, scaled.cell.get("model_args") or {}
    found = [r for r in candidates if all(own.get(k, first.get(k)) == v for k, v in r.replicate.items())]
    return found[0] if len(found) == 1 else None
