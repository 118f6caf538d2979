"""Argument checks shared by the VQA-style scores: the reference answers as a tuple, the ``mode`` among its known
values."""

from __future__ import annotations

from collections.abc import Sequence

__all__: list[str] = []


def _references(references: str | Sequence[str]) -> tuple[str, ...]:
    """One reference string or several, as a non-empty tuple."""
    refs = (references,) if isinstance(references, str) else tuple(references)
    if not refs:
        raise ValueError("no reference answers")
    return refs


def _check_mode(mode: str, modes: tuple[str, ...], what: str) -> None:
    """ValueError naming the known modes when ``mode`` is not one of them."""
    if mode not in modes:
        raise ValueError(f"unknown {what} mode {mode!r}; expected one of {', '.join(modes)}")
