"""The shift interface: a named pair of domains, each a registered dataset with its arguments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


class Shift:
    """A distribution shift: models are evaluated on ``source()`` and ``target()``; the drop is reported."""

    def source(self) -> DatasetSpec:
        raise NotImplementedError

    def target(self) -> DatasetSpec:
        raise NotImplementedError

    def calibration(self) -> DatasetSpec | None:
        """Held-out source data for calibrating expert pruning; ``None`` means the source dataset with
        ``split="val"``."""
        return None
