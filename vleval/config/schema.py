"""JSON Schema validation with errors that name the file, the record and the key path."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any


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
    import jsonschema

    schema = json.loads((schema_dir() / f"{name}.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


#: keywords whose meaning fastjsonschema's code shares with jsonschema's 2020-12 validator for the JSON-native
#: values :func:`_plain` lets through (or where it is only stricter: ``pattern``'s ``$`` is ``\\Z`` there); a schema
#: with any other keyword is validated by jsonschema alone
_FAST_KEYWORDS = frozenset({
    "$schema", "$id", "$defs", "$ref", "title", "description", "examples", "$comment",
    "type", "enum", "const", "required", "properties", "additionalProperties", "propertyNames", "minProperties",
    "maxProperties", "items", "minItems", "maxItems", "minLength", "maxLength", "pattern", "format", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "allOf", "anyOf", "oneOf", "not", "if", "then", "else"})
_ANNOTATIONS = frozenset({"title", "description", "examples", "$comment"})
_SUBSCHEMA = frozenset({"additionalProperties", "propertyNames", "items", "not", "if", "then", "else"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})


def _fast_compatible(node: Any) -> tuple[bool, set[str]]:
    """Whether every keyword of the schema ``node`` is in :data:`_FAST_KEYWORDS` (``$ref`` local and alone but
    for annotations, ``items`` one schema, numbers plain), and the formats it names."""
    formats: set[str] = set()

    def ok(node: Any) -> bool:
        if isinstance(node, bool):
            return True
        if not isinstance(node, dict) or not set(node) <= _FAST_KEYWORDS:
            return False
        if "$ref" in node and (set(node) - _ANNOTATIONS - {"$ref"} or not str(node["$ref"]).startswith("#/")):
            return False
        if "format" in node:
            formats.add(node["format"])
        return all(children_ok(key, value) for key, value in node.items())

    def children_ok(key: str, value: Any) -> bool:
        if key in ("properties", "$defs"):
            return isinstance(value, dict) and all(ok(v) for v in value.values())
        if key in _SCHEMA_LISTS:
            return isinstance(value, list) and all(ok(v) for v in value)
        if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            return type(value) in (int, float)
        return ok(value) if key in _SUBSCHEMA else True

    return ok(node), formats


def _refuse_remote(uri: str) -> Any:
    raise ValueError(f"remote schema {uri} not fetched")


@functools.cache
def fast_validator(name: str) -> Callable[[Any], Any] | None:
    """A compiled validator (fastjsonschema) that proves a JSON-native instance valid far faster than jsonschema
    (raising on anything it rejects); ``None`` when not installed or the schema uses keywords outside
    :data:`_FAST_KEYWORDS`. Formats are checked by jsonschema's own format checker, so both agree on them."""
    try:
        import fastjsonschema
        import jsonschema
    except ImportError:  # pragma: no cover - an optional speed-up
        return None
    schema = json.loads((schema_dir() / f"{name}.schema.json").read_text())
    compatible, formats = _fast_compatible(schema)
    if not compatible:
        return None
    checker = jsonschema.validators.validator_for(schema).FORMAT_CHECKER
    return fastjsonschema.compile(
        schema, handlers={"http": _refuse_remote, "https": _refuse_remote}, use_default=False,
        formats={f: functools.partial(lambda value, f: checker.conforms(value, f), f=f) for f in formats})


def _plain(instance: Any) -> bool:
    """Only JSON-native values: ``dict`` (``str`` keys), ``list``, ``str``, ``int``, ``bool``, ``None`` (exact types)
    and finite floats (``float`` and its subclasses such as ``numpy.float64``, numbers to both validators); tuples,
    other types and NaN/inf go to jsonschema."""
    kind = type(instance)
    if kind is dict:
        return all(type(key) is str and _plain(value) for key, value in instance.items())
    if kind is list:
        return all(_plain(value) for value in instance)
    if kind is str or kind is int or kind is bool or instance is None:
        return True
    return isinstance(instance, float) and math.isfinite(instance)


def proven_valid(name: str, instance: Any) -> bool:
    """True only if ``instance`` is JSON-native and matches schema ``name`` (fast path); False says nothing."""
    fast = fast_validator(name)
    if fast is None or not _plain(instance):
        return False
    try:
        fast(instance)
    except Exception:  # JsonSchemaValueException, or anything the generated code trips on: jsonschema decides
        return False
    return True


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
    if proven_valid(name, instance):
        return []
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
