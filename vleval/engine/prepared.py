"""A domain's items, loaded (images decoded) once and reused by every pass: warmup, traced, timed, and by the
later cells of the run that evaluate the same data.

Loading is never timed; caching it keeps it out of the run's wall time as well. All the prepared data of a run
share one memory :class:`Budget` (``VLEVAL_PREPARED_MIB``, default 2048 MiB of decoded pixels); data that does not
fit is read again on each pass instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from vleval.api import Dataset

DEFAULT_BUDGET_MIB = 2048


class Budget:
    """Bytes of decoded items a run may keep."""

    def __init__(self, mib: int | None = None):
        if mib is None:
            mib = int(os.environ.get("VLEVAL_PREPARED_MIB", DEFAULT_BUDGET_MIB))
        self.left = mib * 2**20

    def take(self, n: int) -> bool:
        if n > self.left:
            return False
        self.left -= n
        return True

    def give(self, n: int) -> None:
        self.left += n


def item_bytes(item: Any) -> int:
    """Approximate memory of an item's decoded image (its text is negligible); 0 for no image or not a PIL one."""
    image = item.image
    if image is None or not hasattr(image, "getbands"):
        return 0
    width, height = image.size
    return width * height * len(image.getbands())


class PreparedData:
    """The first ``limit`` items of ``dataset`` in batches of ``batch_size``; iterate with :meth:`batches`."""

    def __init__(self, dataset: Dataset, batch_size: int, limit: int | None = None, budget: Budget | None = None):
        self.dataset, self.batch_size = dataset, batch_size
        self.size = len(dataset) if limit is None else min(limit, len(dataset))
        self.budget = budget if budget is not None else Budget()
        self._loaded: list[list[Any]] = []
        self._held = 0
        self._caching = True

    def batches(self) -> Iterator[list[Any]]:
        """Every batch, each loaded on first use and kept for later passes (while the budget allows)."""
        for index, start in enumerate(range(0, self.size, self.batch_size)):
            if index < len(self._loaded):
                yield self._loaded[index]
                continue
            batch = [self.dataset[i] for i in range(start, min(start + self.batch_size, self.size))]
            if self._caching:
                need = sum(item_bytes(item) for item in batch)
                if self.budget.take(need):
                    self._loaded.append(batch)
                    self._held += need
                else:  # does not fit: read on every pass
                    self._caching = False
                    self._loaded.clear()
                    self.budget.give(self._held)
                    self._held = 0
            yield batch

    @property
    def cached(self) -> bool:
        """Whether every batch is held in memory."""
        return self._caching and sum(map(len, self._loaded)) == self.size
