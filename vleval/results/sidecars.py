"""Per-item results: one row per evaluated item, kept beside each record in a compressed sidecar.

A record stays small; its ``items`` field names the sidecar (``<results>.items/<cell_key>.jsonl.gz``, relative to
the results file), its sha256 and its row count. Each sidecar line is one item of one domain::

    {"domain": "source", "kind": "question", "id": "3", "cluster": "3", "correct": true, "prediction": "A", ...}

The rows themselves are built by :mod:`vleval.engine.item_rows`.

Two records over the same data can then be compared item by item (:mod:`vleval.stats.compare`), also across runs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vleval.results.record import Record
from vleval.results.store import load

#: a record's per-item rows by domain, or ``None`` without a sidecar
ItemReader = Callable[[Record], dict[str, list[dict]] | None]


def sidecar_dir(results: Path) -> Path:
    return results.with_name(results.stem + ".items")


#: one encoder for every row (``json.dumps(..., sort_keys=True)`` builds a new one per call): the same bytes
_ENCODE = json.JSONEncoder(sort_keys=True).encode
#: gzip level of new sidecars: 1 is ~3x faster than 6 on these rows for ~25 % more bytes (any level reads back)
COMPRESSLEVEL = 1


def write(results: Path, cell_key: str, by_domain: dict[str, list[dict]]) -> dict[str, Any]:
    """Write the sidecar of one record atomically; return the record's ``items`` reference."""
    folder = sidecar_dir(results)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [_ENCODE({"domain": domain, **row}) for domain, rs in by_domain.items() for row in rs]
    # mtime 0: same rows, same bytes, same hash
    raw = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=COMPRESSLEVEL, mtime=0)
    target = folder / f"{cell_key}.jsonl.gz"
    tmp = target.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return {"path": str(target.relative_to(results.parent)), "sha256": hashlib.sha256(raw).hexdigest(),
            "rows": len(lines)}


def attach(record: Any, results: Path) -> None:
    """Write an ``ok`` record's per-item rows (its domains' ``item_rows``) to its sidecar beside ``results`` and set
    the record's ``items`` reference (before the record is appended: it references the file); the rows are then
    dropped from the record, which no longer needs them."""
    rows = {name: d.item_rows for name, d in record.domains.items() if d.item_rows is not None}
    if rows and record.status == "ok":
        record.items = write(results, record.cell_key, rows)
    for domain in record.domains.values():
        domain.item_rows = None


class SidecarError(ValueError):
    """A per-item sidecar is missing, altered or unreadable."""


def read(results: Path, ref: dict[str, Any]) -> dict[str, list[dict]]:
    """The rows of a record's sidecar by domain, after checking its sha256."""
    folder = sidecar_dir(results).resolve()
    path = (results.parent / str(ref["path"])).resolve()
    if path.parent != folder:  # a crafted record must not make vleval read files elsewhere
        raise SidecarError(f"{results}: per-item path {ref['path']!r} is outside {folder.name}/")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SidecarError(f"{path}: per-item results not readable ({exc.strerror})") from None
    if hashlib.sha256(raw).hexdigest() != ref["sha256"]:
        raise SidecarError(f"{path}: per-item results do not match the sha256 in the record (altered or replaced)")
    text = gzip.decompress(raw).decode()
    # one JSON array for the whole file: one parser call instead of one per row (JSON escapes every newline
    # inside a value, so each line is one row)
    parsed = json.loads("[" + ",".join(line for line in text.split("\n") if line.strip()) + "]")
    out: dict[str, list[dict]] = {}
    for row in parsed:
        out.setdefault(row.pop("domain"), []).append(row)
    return out


def reader(homes: dict[str, Path]):
    """A function giving a record's per-item rows (``None`` without a sidecar), for ``leaderboard.build(items=)``;
    ``homes`` maps cell keys to the results file each record was read from.

    Each sidecar is read (and its hash checked) once per reader: the boards, the summaries and the report ask for
    the same records' rows several times. The rows are shared between callers, which must not modify them."""
    cache: dict[tuple[Path, str, str], dict[str, list[dict]]] = {}

    def rows_of(record) -> dict[str, list[dict]] | None:
        home = homes.get(record.cell_key)
        if not record.items or home is None:
            return None
        key = (home, str(record.items["path"]), str(record.items["sha256"]))
        if key not in cache:
            cache[key] = read(home, record.items)
        return cache[key]

    return rows_of


def load_results(paths: list[Path], validate: bool = True) -> tuple[list[Record], ItemReader]:
    """The records of every results file and a reader of their per-item rows (each sidecar relative to the file its
    record came from); ``validate``: check each file against the schema first (:func:`vleval.results.store.load`)."""
    records, homes = [], {}
    for path in map(Path, paths):
        for record in load([path], validate=validate):
            records.append(record)
            homes[record.cell_key] = path
    return records, reader(homes)
