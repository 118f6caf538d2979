"""benchmarks.toml → validated benchmark dicts (typed cells: :mod:`vleval.plan.cells`)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vleval.config import schema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A benchmarks file the user must fix; the message names the file and key path."""


def load_file(path: str | Path) -> dict[str, Any]:
    """Parse and validate a benchmarks file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such benchmarks file (pass one with -c FILE)") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
                          ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the benchmarks file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        schema.check("benchmark", data, str(path))
    except schema.ValidationFailed as exc:
        raise ConfigError(str(exc)) from None
    return data


def select(data: dict[str, Any], name: str | None, path: str | Path = "benchmarks.toml") -> tuple[str, dict]:
    """The benchmark called ``name`` (or the file's ``default``, or its only one)."""
    benchmarks = data["benchmarks"]
    name = name or data.get("default") or (next(iter(benchmarks)) if len(benchmarks) == 1 else None)
    if name is None:
        raise ConfigError(f"{path}: several benchmarks and no `default`; name one of: {', '.join(benchmarks)}")
    if name not in benchmarks:
        raise ConfigError(f"{path}: no benchmark {name!r}; defined: {', '.join(benchmarks)}")
    return name, expand_env(benchmarks[name], f"{path}: benchmarks.{name}")


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: Any, where: str, environ: Mapping[str, str] | None = None) -> Any:
    """``value`` with every ``${NAME}`` (or ``${NAME:-default}``) in its strings replaced by the environment
    variable's value: paths to local data stay out of the benchmarks file. Only the selected benchmark is expanded,
    so another benchmark's unset variables never stop a run; an unset variable without a default is an error naming
    the key path."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        def substitute(match: re.Match) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(f"{where} uses ${{{name}}}, which is not set: export {name}=... (or write "
                              f"${{{name}:-default}} in the file)")

        return _VARIABLE.sub(substitute, value)
    if isinstance(value, Mapping):
        return {k: expand_env(v, f"{where}.{k}", env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{where}[{i}]", env) for i, v in enumerate(value)]
    return value


def validate_benchmark(name: str, bench: dict[str, Any], where: str = "benchmark") -> None:
    try:
        schema.check("benchmark", {"benchmarks": {name: bench}}, where)
    except schema.ValidationFailed as exc:
        raise ConfigError(str(exc)) from None


def parse_kv(text: str | None, what: str) -> dict[str, Any]:
    """``"a=1,b=x,c=true"`` → ``{"a": 1, "b": "x", "c": True}`` (values parsed as TOML where they can be)."""
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what}: expected key=value, got {part!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value.strip()
    return out
