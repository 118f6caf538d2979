"""Results files (JSON Lines, one record per line): the one read layer, validation, and the append-only store."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from vleval import schema
from vleval.record import SCHEMA_VERSION, Record  # noqa: F401  (SCHEMA_VERSION re-exported)


class ResultsFileError(ValueError):
    """A results file that cannot be read; the message names the file and line."""


def read_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, raw JSON record)`` for each line of a results file."""
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


def load(paths: Iterable[str | Path], validate: bool = True) -> list[Record]:
    """Typed records from results files; with ``validate``, refuse files that do not match the schema."""
    paths = list(paths)
    if validate:
        problems = validation_errors(paths)
        if problems:
            raise ResultsFileError("not valid results (see `vleval validate`):\n  " + "\n  ".join(problems[:10]))
    return [Record.from_json(raw) for path in paths for _, raw in read_records(path)]


class ResultStore:
    """One append-only JSON Lines file. Each record is one ``write`` of a whole line, flushed and fsynced, so a
    process killed mid-write leaves at most a torn last line; :meth:`open` moves such a line to a quarantine file
    next to the results (``<name>.torn-<time>.jsonl``) before anything is appended, and reports it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.quarantined: Path | None = None

    def open(self) -> ResultStore:
        """Repair a torn last line left by a killed run (moved to a quarantine file, never dropped)."""
        if not self.path.exists():
            return self
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return self
        cut = data.rfind(b"\n") + 1
        stamp = f"{datetime.now():%Y%m%dT%H%M%S%f}"
        quarantine = self.path.with_name(f"{self.path.stem}.torn-{stamp}{self.path.suffix}")
        with open(quarantine, "wb") as handle:
            handle.write(data[cut:])
            handle.flush()
            os.fsync(handle.fileno())
        os.truncate(self.path, cut)
        self.quarantined = quarantine
        return self

    def completed_keys(self) -> set[str]:
        if not self.path.exists():
            return set()
        return {r["cell_key"] for _, r in read_records(self.path) if r.get("status") in ("ok", "skipped")}

    def append(self, record: Record) -> None:
        """Validate and append one record (O(1): the file is never rewritten)."""
        data = record.to_json()
        schema.check("result", data, f"record for cell {record.label!r}")
        line = (json.dumps(data, sort_keys=True, allow_nan=False) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            while written < len(line):  # short writes are rare but legal
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
