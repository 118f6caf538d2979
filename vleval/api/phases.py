"""Phase marking: a model splits its own latency into vision / prefill / decode for the core's protocol.

A model plugin wraps parts of a call in :func:`phase`; the core's latency recorder, active only while it times a
call, receives the spans. Outside a measurement :func:`phase` does nothing, so models mark phases unconditionally.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any, Protocol


class PhaseSink(Protocol):
    """What receives phases: the core's latency recorder."""

    def phase(self, name: str, tokens: int = 0) -> contextlib.AbstractContextManager[None]: ...


_active: contextvars.ContextVar[PhaseSink | None] = contextvars.ContextVar("vleval_phase_sink", default=None)


@contextlib.contextmanager
def phase(name: str, tokens: int = 0) -> Iterator[None]:
    """Mark a sub-phase of a model call (``"vision"``, ``"prefill"``, ``"decode"``...) for the latency split.

    ``tokens`` counts the output tokens the phase produced (decode steps: live sequences), for time per output token.
    """
    sink = _active.get()
    if sink is None:
        yield
        return
    with sink.phase(name, tokens):
        yield


def measuring() -> bool:
    """Whether the core is timing the current call (a model may then skip caches that would shortcut the work)."""
    return _active.get() is not None


@contextlib.contextmanager
def activate(sink: PhaseSink | None) -> Iterator[Any]:
    """Route :func:`phase` calls to ``sink`` (``None``: ignore them) for the duration of the block (core use)."""
    token = _active.set(sink)
    try:
        yield sink
    finally:
        _active.reset(token)
