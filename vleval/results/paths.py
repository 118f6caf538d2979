"""Where a run writes: ``<-o directory>/<benchmark>.jsonl``, always inside the directory it names."""

from __future__ import annotations

import re
from pathlib import Path

from vleval.results.store import ResultsFileError

# Plugin and benchmark names: also schemas/benchmark.schema.json ($defs/name). Shift names contain "->".
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+>-]*$"


def results_path(out_dir: Path, benchmark: str) -> Path:
    """The results file of ``benchmark`` under ``out_dir`` (created if missing); refuses a name that is not a plain
    file name or a path that resolves outside ``out_dir``, and an ``out_dir`` that is not a writable directory."""
    if not re.match(NAME_PATTERN, benchmark) or benchmark.endswith("."):
        raise ResultsFileError(f"benchmark name {benchmark!r} is not a plain name (letters, digits and . _ + > - ; "
                               "starting with a letter or digit)")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ResultsFileError(f"-o {out_dir}: exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsFileError(f"-o {out_dir}: cannot create the directory: {exc.strerror}") from None
    root = out_dir.resolve()
    path = (root / f"{benchmark}.jsonl").resolve()
    if path.parent != root:
        raise ResultsFileError(f"results file {path} for benchmark {benchmark!r} is not inside -o {root}")
    if path.exists() and not path.is_file():
        raise ResultsFileError(f"{path}: exists and is not a file")
    return path
