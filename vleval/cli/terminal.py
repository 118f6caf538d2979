"""The console every command prints to."""

from __future__ import annotations

import sys
from typing import Any


def wide_console() -> Any:
    """A rich console; when output is not a terminal (logs, CI), wide enough that tables never truncate."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)
