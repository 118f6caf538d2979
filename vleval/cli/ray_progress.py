"""Progress of a Ray run in the terminal: the cells bar, and one line per worker with the cells it has done."""

from __future__ import annotations

from typing import Any

from vleval.cli.console import RichProgress


class WorkerProgress(RichProgress):
    """:class:`~vleval.cli.console.RichProgress` plus ``cells done`` per worker (``ip:pid``); the Ray executor calls
    :meth:`worker_done` after each record (any object with that method receives the same calls, e.g. in tests)."""

    def __init__(self, console: Any):
        super().__init__(console)
        self._workers: dict[str, Any] = {}

    def worker_done(self, worker: str, done: int) -> None:
        if worker not in self._workers:
            self._workers[worker] = self.bars.add_task("", total=None)
        self.bars.update(self._workers[worker], description=f"  worker {worker}: {done} cell(s) done",
                         completed=done)
