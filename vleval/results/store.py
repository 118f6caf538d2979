"""Results files (JSON Lines, one record per line): the one reader, validation, and the append-only store.

:func:`scan` is the one reader: ``--resume``, ``leaderboard`` and ``validate`` all go through it. It never raises
on file content: every bad line (not UTF-8, not JSON, not an object, not a valid record, an incomplete last line)
becomes a :class:`Problem` naming the file, the line, the field and what was expected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from vleval.config import schema
from vleval.results.record import SCHEMA_VERSION, Record  # noqa: F401  (SCHEMA_VERSION re-exported)

SHOWN_PROBLEMS = 20


class ResultsFileError(ValueError):
    """A results file that cannot be read or written; the message names the file and line."""


@dataclass(frozen=True)
class Problem:
    """One bad line (or an unreadable file: ``line`` is ``None``)."""

    path: Path
    line: int | None
    field: str | None  # key path of a schema violation; None for the line or file as a whole
    message: str  # what was found against what was expected

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


@dataclass
class Scan:
    """A results file as read: its good records (with line numbers), every problem, and the raw lines."""

    path: Path
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)  # each with its newline (the last one may lack it)

    @property
    def bad_lines(self) -> set[int]:
        return {p.line for p in self.problems if p.line is not None}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """One line → ``(record, None)`` or ``(None, what is wrong with it)``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return None, f"not a JSON record ({exc.msg} at column {exc.colno})"
    except ValueError as exc:
        return None, f"not a JSON record ({exc})"
    except RecursionError:
        return None, "not a JSON record (nested too deeply)"
    if not isinstance(value, dict):
        return None, f"not a JSON record (a JSON {type(value).__name__}; expected one object per line)"
    return value, None


def _record_problems(record: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        found = schema.violations("result", record)
        if not found:
            Record.from_json(record)  # the typed reader must accept what the schema does
        return found
    except RecursionError:
        return [("(top level)", "nested too deeply")]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # schema and typed reader disagree
        return [("(top level)", f"not readable as a record ({type(exc).__name__}: {exc})")]


def split_lines(data: bytes) -> list[bytes]:
    """Lines ending at ``\\n`` only (as editors and ``wc -l`` count them), each with its newline."""
    parts = data.split(b"\n")
    return [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def scan(path: str | Path, validate: bool = True) -> Scan:
    """Read a results file line by line; with ``validate``, check each record against the schema."""
    result = Scan(Path(path))
    try:
        data = result.path.read_bytes()
    except FileNotFoundError:
        result.problems.append(Problem(result.path, None, None, "no such results file"))
        return result
    except OSError as exc:
        result.problems.append(Problem(result.path, None, None, f"cannot read: {exc.strerror}"))
        return result
    result.lines = split_lines(data)
    for number, raw in enumerate(result.lines, 1):
        if not raw.strip():
            continue
        record, problem = parse_line(raw.removesuffix(b"\n").removesuffix(b"\r"))
        if problem is None and not raw.endswith(b"\n"):
            problem = "incomplete last line (no newline at the end: a run killed mid-write?)"
        if problem is not None:
            result.problems.append(Problem(result.path, number, None, problem))
            continue
        assert record is not None
        found = _record_problems(record) if validate else []
        result.problems += [Problem(result.path, number, where, message) for where, message in found]
        if not found:
            result.records.append((number, record))
    return result


def summarize(problems: list[Problem], limit: int = SHOWN_PROBLEMS) -> str:
    """The first ``limit`` problems, one per line, and how many more there are."""
    lines = [str(p) for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more")
    return "\n  ".join(lines)


def read_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, raw JSON record)`` for each line; :class:`ResultsFileError` at the first unreadable one."""
    found = scan(path, validate=False)
    if found.problems:
        raise ResultsFileError(str(found.problems[0]))
    yield from found.records


def validation_errors(paths: Iterable[str | Path]) -> list[str]:
    """Every problem in the given results files, as ``file:line: key.path: what was expected``."""
    return [str(p) for path in paths for p in scan(path).problems]


def load(paths: Iterable[str | Path], validate: bool = True) -> list[Record]:
    """Typed records from results files; refuse (naming every bad line) files that do not match the schema."""
    scans = [scan(path, validate=validate) for path in paths]
    problems = [p for s in scans for p in s.problems]
    if problems:
        raise ResultsFileError("not valid results (see `vleval validate`):\n  " + summarize(problems))
    return [Record.from_json(raw) for s in scans for _, raw in s.records]


def _write_new(path: Path, data: bytes) -> None:
    """Write and fsync a new file (mode from the umask, like any file the user creates)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    while written < len(data):  # short writes are rare but legal
        written += os.write(fd, data[written:])


def _stamp() -> str:
    return f"{datetime.now():%Y%m%dT%H%M%S%f}"


class ResultStore:
    """One append-only JSON Lines file. Each record is one ``write`` of a whole line, flushed and fsynced, so a
    process killed mid-write leaves at most a torn last line; :meth:`open` moves such a line to a quarantine file
    next to the results (``<name>.torn-<time>.jsonl``) before anything is appended, and reports it. A failed write
    (full disk, I/O error) is cut back, so the file never holds half a record. Callers hold a
    :class:`~vleval.results.lock.RunLock` so that there is one writer."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.quarantined: Path | None = None
        self.repaired: tuple[Path, int] | None = None  # (bad-line quarantine file, number of lines moved)
        self._scan: Scan | None = None

    def open(self) -> ResultStore:
        """Repair a torn last line left by a killed run (moved to a quarantine file, never dropped)."""
        if not self.path.exists():
            return self
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return self
        cut = data.rfind(b"\n") + 1
        quarantine = self.path.with_name(f"{self.path.stem}.torn-{_stamp()}{self.path.suffix}")
        _write_new(quarantine, data[cut:])
        os.truncate(self.path, cut)
        self.quarantined = quarantine
        return self

    def check(self, repair: bool = False) -> ResultStore:
        """Refuse a file with bad lines (changing nothing); with ``repair``, move them to
        ``<name>.bad-<time>.jsonl`` next to it first."""
        found = scan(self.path) if self.path.exists() else Scan(self.path)
        if found.problems and not repair:
            raise ResultsFileError(
                f"{self.path}: {len(found.bad_lines) or len(found.problems)} bad line(s); nothing was changed. "
                f"Fix them, or move them to a quarantine file next to it with --resume --repair:\n  "
                + summarize(found.problems))
        if found.problems:
            self._move_bad_lines(found)
            found = scan(self.path)
        self._scan = found
        return self

    def _move_bad_lines(self, found: Scan) -> None:
        bad = found.bad_lines
        if not bad:  # the file itself is unreadable: nothing to move
            raise ResultsFileError(f"cannot repair: {summarize(found.problems)}")
        moved = [raw if raw.endswith(b"\n") else raw + b"\n" for n, raw in enumerate(found.lines, 1) if n in bad]
        kept = b"".join(raw for n, raw in enumerate(found.lines, 1) if n not in bad)
        quarantine = self.path.with_name(f"{self.path.stem}.bad-{_stamp()}{self.path.suffix}")
        _write_new(quarantine, b"".join(moved))
        staging = self.path.with_name(f".{self.path.name}.repair-{_stamp()}")
        _write_new(staging, kept)
        os.chmod(staging, os.stat(self.path).st_mode & 0o7777)
        os.replace(staging, self.path)  # atomic: the old file or the repaired one, never a mix
        self.repaired = (quarantine, len(moved))

    def completed_keys(self) -> set[str]:
        """Keys of the cells already complete (``ok`` or ``skipped``); refuses a file with bad lines."""
        if self._scan is None:
            self.check()
        assert self._scan is not None
        return {r["cell_key"] for _, r in self._scan.records if r.get("status") in ("ok", "skipped")}

    def append(self, record: Record) -> None:
        """Validate and append one record (O(1): the file is never rewritten)."""
        data = record.to_json()
        schema.check("result", data, f"record for cell {record.label!r}")
        line = (json.dumps(data, sort_keys=True, allow_nan=False) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            raise ResultsFileError(f"cannot write {self.path}: {exc.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            try:
                _write_all(fd, line)
                os.fsync(fd)
            except OSError as exc:
                _cut_back(fd, size)
                raise ResultsFileError(
                    f"cannot write {self.path}: {exc.strerror}; the records written before are intact, the cell "
                    f"{record.label!r} was not recorded (continue with --resume once fixed)") from None
        finally:
            os.close(fd)


def _cut_back(fd: int, size: int) -> None:
    """Remove a partly written line (we are the only writer: the run holds the lock)."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass
