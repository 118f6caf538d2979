"""What a run reports while it works: the interface every executor calls, with silent defaults.

The CLI passes a rich-backed subclass (bars, and cells done per Ray worker); tests and the API default use
:class:`Progress` itself, which reports nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from vleval.results.record import Record


class Progress:
    """Progress of one run; override what you show. Every method is a no-op here, so callers never probe."""

    def start(self, cells: int) -> None:
        """The run has ``cells`` cells (resumed ones included)."""

    def cell(self, label: str) -> None:
        """A cell starts (``label``: its model variant, and for Ray the worker it runs on)."""

    def samples(self, total: int, description: str) -> Callable[[int], None]:
        """A pass over ``total`` samples starts; returns the function called with each batch's size."""
        return _ignore

    def cell_done(self, record: Record) -> None:
        """A cell's record was appended."""

    def worker_done(self, worker: str, done: int) -> None:
        """Worker ``worker`` (``ip:pid``) has produced ``done`` records so far (the Ray executor reports it)."""


def _ignore(n: int) -> None:
    """Advance nothing."""
