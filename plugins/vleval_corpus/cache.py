"""The corpus cache: one directory per seed and version, generated once, atomically (staging dir + rename)."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

from vleval_corpus.layout import CORPUS_FORMAT, CORPUS_VERSION, MANIFEST, CorpusError, CorpusPaths, Progress

__all__ = ["CorpusError", "CorpusPaths", "default_corpus_dir", "ensure_corpus"]


def default_corpus_dir(seed: int = 0, cache_dir: str | Path | None = None) -> Path:
    """``<cache_dir or $VLEVAL_CACHE or ~/.cache/vleval>/corpus-v1-seed<seed>`` (computed only; nothing is created)."""
    base = cache_dir or os.environ.get("VLEVAL_CACHE") or Path.home() / ".cache" / "vleval"
    return Path(base).expanduser() / f"corpus-v{CORPUS_VERSION}-seed{int(seed)}"


def ensure_corpus(root: str | Path | None = None, seed: int = 0, progress: Progress | None = None) -> CorpusPaths:
    """Generate the corpus for ``seed`` into ``root`` unless it is already there; return its paths.

    ``root`` is the corpus directory itself (default :func:`default_corpus_dir`); it must not exist, be empty, or
    hold a complete corpus of the same seed and version. Generation writes a sibling temporary directory and
    renames it into place, so an interrupted run never leaves a partial corpus at ``root``.
    """
    from vleval_corpus.generate import generate  # numpy/Pillow only when generating

    seed = int(seed)
    root = Path(root).expanduser() if root is not None else default_corpus_dir(seed)
    if _is_complete(root, seed):
        return CorpusPaths.at(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise CorpusError(f"{root} exists but is not a complete vleval corpus for seed {seed}; remove it or pick "
                          "another directory")
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(root)
    staging = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
        generate(staging, seed, progress)
        try:
            os.rename(staging, root)  # atomic; replaces an empty directory
        except OSError:
            if not _is_complete(root, seed):  # another process may have won the race
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return CorpusPaths.at(root)


def _remove_stale_staging(root: Path, min_age_s: float = 600.0) -> None:
    """Delete staging directories of ``root`` left by generations killed at least ``min_age_s`` ago."""
    now = time.time()
    for staging in root.parent.glob(f".{root.name}.tmp-*-*"):
        try:
            pid = int(staging.name.rsplit("-", 2)[1])
            if now - staging.stat().st_mtime < min_age_s:
                continue
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(staging, ignore_errors=True)
        except (ValueError, OSError):
            continue


def _is_complete(root: Path, seed: int) -> bool:
    manifest = root / MANIFEST
    if not manifest.is_file():
        return False
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if data.get("format") != CORPUS_FORMAT or data.get("version") != CORPUS_VERSION:
        return False
    if data.get("seed") != seed:
        raise CorpusError(f"{root} holds the corpus for seed {data.get('seed')}, not seed {seed}")
    return all(p.exists() for p in CorpusPaths.at(root).required_files())
