"""Per-item results: one row per evaluated item, kept beside each record in a compressed sidecar.

A record stays small; its ``items`` field names the sidecar (``<results>.items/<cell_key>.jsonl.gz``, relative to
the results file), its sha256 and its row count. Each sidecar line is one item of one domain::

    {"domain": "source", "kind": "question", "id": "3", "cluster": "3", "correct": true, "prediction": "A", ...}

- retrieval: one ``image`` row per image (``i2t_rank``: rank of its best caption) and one ``text`` row per caption
  (``t2i_rank``), both clustered by image;
- multiple choice: one ``question`` row per row of the TSV (``correct``, ``prediction``, ``answer``), clustered by
  circular group (``index % 1e6``);
- captioning: one ``image`` row per image with the prediction and every per-image score a metric reports
  (``Metric.per_image()``, e.g. CIDEr).

Two records over the same data can then be compared item by item (:mod:`vleval.compare`), also across runs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from vleval.api import CaptionOutputs, MCOutputs, RetrievalOutputs, TaskOutputs, retrieval_ranks

CIRCULAR_BASE = 1_000_000


def rows(outputs: TaskOutputs, items: list[Any], per_image: dict[str, list[float]] | None = None) -> list[dict]:
    """The per-item rows of one domain from its task outputs and items (in evaluation order)."""
    if isinstance(outputs, RetrievalOutputs):
        i2t, t2i = retrieval_ranks(outputs.similarity, outputs.text_image)
        ids = [str(item.id) for item in items]
        out = [{"kind": "image", "id": ids[i], "cluster": ids[i], "i2t_rank": int(r)} for i, r in enumerate(i2t)]
        seen: dict[int, int] = {}
        for image, rank in zip(outputs.text_image, t2i, strict=True):
            j = seen[int(image)] = seen.get(int(image), -1) + 1  # the caption's position among its image's
            out.append({"kind": "text", "id": f"{ids[int(image)]}#{j}", "cluster": ids[int(image)],
                        "t2i_rank": int(rank)})
        return out
    if isinstance(outputs, MCOutputs):
        return [
            {"kind": "question", "id": str(index), "cluster": str(index % CIRCULAR_BASE),
             "correct": prediction is not None and prediction == answer, "prediction": prediction, "answer": answer}
            for index, prediction, answer in zip(outputs.indices, outputs.predictions, outputs.answers, strict=True)
        ]
    if isinstance(outputs, CaptionOutputs):
        out = []
        for i, (item, prediction) in enumerate(zip(items, outputs.predictions, strict=True)):
            row = {"kind": "image", "id": str(item.id), "cluster": str(item.id), "prediction": prediction}
            row.update({name: values[i] for name, values in (per_image or {}).items() if len(values) == len(items)})
            out.append(row)
        return out
    raise TypeError(f"no per-item rows for outputs of type {type(outputs).__name__}")


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
