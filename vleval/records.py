"""Result records: built per cell, validated against ``result.schema.json``, appended atomically to JSON Lines."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vleval import schema

SCHEMA_VERSION = "1.0"


class ResultsFileError(ValueError):
    """A results file that cannot be read; the message names the file and line."""


def read_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` for each line of a JSON Lines file."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such results file") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ResultsFileError(f"{path}:{number}: not a JSON record ({exc.msg} at column {exc.colno})") from None
        yield number, record


def validation_errors(paths: Iterable[str | Path]) -> list[str]:
    """Every schema violation in the given results files, as ``file:line (cell): key.path: message``."""
    problems = []
    for path in paths:
        try:
            for number, record in read_records(path):
                label = record.get("cell", {}).get("label", "?") if isinstance(record, dict) else "?"
                problems += [f"{path}:{number} ({label}): {e}" for e in schema.errors("result", record)]
        except ResultsFileError as exc:
            problems.append(str(exc))
    return problems


class ResultStore:
    """One JSON Lines file. Each append rewrites it through a temporary file and ``os.replace``, so a process
    killed at any moment leaves either the old file or the old file plus one whole record."""

    def __init__(self, path: Path):
        self.path = path

    def completed_keys(self) -> set[str]:
        if not self.path.exists():
            return set()
        return {r["cell_key"] for _, r in read_records(self.path) if r.get("status") in ("ok", "skipped")}

    def append(self, record: dict[str, Any]) -> None:
        schema.check("result", record, f"record for cell {record.get('cell', {}).get('label')!r}")
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        old = self.path.read_bytes() if self.path.exists() else b""
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(old + line.encode())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
