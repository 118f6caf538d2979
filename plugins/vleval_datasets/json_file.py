"""Annotation files in JSON: the top-level object, or an error naming the file (and line and column)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vleval_datasets.errors import DatasetFormatError


def load_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; invalid JSON, non-UTF-8 text or another top-level type raise
    :class:`DatasetFormatError` naming the file (and line and column)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise DatasetFormatError(
            f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except UnicodeDecodeError as error:
        raise DatasetFormatError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    if not isinstance(data, dict):
        raise DatasetFormatError(f"{path}: expected a JSON object with an 'images' list, got {type(data).__name__}")
    return data
