"""JSON Schema validation with errors that name the file, the record and the key path."""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema


class ValidationFailed(ValueError):
    """Input that does not match its schema; the message names where and what was expected."""


def schema_dir() -> Path:
    """``schemas/`` of a source checkout or editable install, else the copy packaged in the wheel."""
    package = Path(__file__).resolve().parent.parent  # vleval/
    for candidate in (package.parent / "schemas", package / "schemas"):
        if (candidate / "result.schema.json").is_file():
            return candidate
    raise FileNotFoundError("vleval's JSON schemas are missing from the installation")


@functools.cache
def validator(name: str) -> Any:
    schema = json.loads((schema_dir() / f"{name}.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def key_path(path: Any) -> str:
    out = ""
    for part in path:
        if isinstance(part, str) and not re.fullmatch(r"[A-Za-z0-9_-]+", part):
            part = json.dumps(part)  # quoted as TOML quotes it: benchmarks."flickr.coco", never ambiguous
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def non_finite(instance: Any, path: tuple[Any, ...] = ()) -> list[tuple[str, str]]:
    """``(key path, message)`` for every NaN or infinite number (valid TOML and Python, never valid JSON)."""
    if isinstance(instance, float) and not math.isfinite(instance):
        return [(key_path(path), f"{instance} is not a finite number")]
    if isinstance(instance, dict):
        return [p for k, v in instance.items() for p in non_finite(v, (*path, k))]
    if isinstance(instance, list | tuple):
        return [p for i, v in enumerate(instance) for p in non_finite(v, (*path, i))]
    return []


def violations(name: str, instance: Any) -> list[tuple[str, str]]:
    """All violations of schema ``name`` (and non-finite numbers) as ``(key path, message)`` pairs, most specific
    first."""
    found = sorted(validator(name).iter_errors(instance), key=lambda e: (-len(e.absolute_path), str(e.message)))
    pairs = non_finite(instance)
    for err in found:
        detail = err
        if err.context:  # anyOf/oneOf: report the closest sub-error
            detail = max(err.context, key=lambda e: len(e.absolute_path))
        pairs.append((key_path(detail.absolute_path), detail.message))
    return pairs


def errors(name: str, instance: Any) -> list[str]:
    """All violations of schema ``name`` as ``"key.path: message"`` lines, most specific first."""
    return [f"{where}: {message}" for where, message in violations(name, instance)]


def check(name: str, instance: Any, where: str) -> None:
    problems = errors(name, instance)
    if problems:
        raise ValidationFailed(f"{where}: does not match {name}.schema.json:\n  " + "\n  ".join(problems))
