"""Optional attributes of metric plugins, read in this one place.

Plugins are duck-typed: a metric factory may return an object that does not subclass :class:`vleval.api.Metric`
(the registry checks only that it can be called), so an attribute the base class declares with a default
(``higher_is_better``, ``describe``) may be missing, and ``per_image`` is not declared by the API at all. Reading
them here, with the API's defaults, keeps such plugins working; the rest of the engine calls these functions.
"""

from __future__ import annotations

from typing import Any

from vleval.api import Metric


def higher_is_better(metric: Any) -> bool:
    """Which way the metric's ``primary`` value ranks (``Metric.higher_is_better`` when the metric does not say)."""
    return bool(getattr(metric, "higher_is_better", Metric.higher_is_better))


def settings(metric: Any) -> dict[str, Any] | None:
    """``metric.describe()``: settings recorded beside its values; ``None`` for a metric without ``describe``."""
    describe = getattr(metric, "describe", None)
    return describe() if callable(describe) else None


def per_image_scores(metric: Any) -> dict[str, list[float]]:
    """``metric.per_image()``: per-item scores of its last ``compute`` (e.g. CIDEr), by name; ``{}`` without one."""
    per_image = getattr(metric, "per_image", None)
    return per_image() if callable(per_image) else {}
