"""Errors of the executors themselves, not of the benchmarks file."""

from __future__ import annotations


class ExecutorError(Exception):
    """Cells cannot run where asked (Ray not installed, the cluster unreachable): a usage error, reported without a
    traceback (the CLI exits 2)."""


class CellFault(RuntimeError):
    """The worker process hung past the cell timeout or died while running a cell (recorded as the cell's error)."""
