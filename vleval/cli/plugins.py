"""``vleval plugins``: every registered model, dataset, shift and metric, and the broken plugins."""

from __future__ import annotations

import argparse
from typing import Any

from vleval.cli.exit_codes import ExitCode
from vleval.cli.terminal import wide_console


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    plugins = subparsers.add_parser("plugins", help="list installed plugins (and broken ones)")
    plugins.add_argument("--json", action="store_true")
    plugins.add_argument("-v", "--verbose", action="store_true",
                         help="also show each factory's arguments and defaults (imports every factory)")
    plugins.set_defaults(handler=cmd_plugins)


def cmd_plugins(args: argparse.Namespace) -> int:
    from vleval.registry.discovery import Registry

    registry = Registry.discover()
    rows = [{"kind": r.kind, "name": r.name, "version": r.version, "distribution": r.distribution,
             "plugin": r.plugin, "description": r.description} for r in registry.all()]
    if args.verbose:
        for row, reg in zip(rows, registry.all(), strict=True):
            row["arguments"] = factory_arguments(reg)
    conflicts = [{"kind": kind, "name": name, "registered_by": [f"{r.distribution} ({r.plugin})" for r in regs]}
                 for (kind, name), regs in registry.conflicts.items()]
    broken = [{"plugin": b.plugin, "distribution": b.distribution, "error": b.error} for b in registry.broken]
    if args.json:
        import json

        print(json.dumps({"plugins": rows, "broken": broken, "conflicts": conflicts}, indent=2))
    else:
        from rich.table import Table

        table = Table(title="vleval plugins")
        for column in ("kind", "name", "version", "distribution", "description", *(["arguments"] * args.verbose)):
            table.add_column(column)
        for row in rows:
            shown = [format_arguments(row["arguments"])] if args.verbose else []
            table.add_row(row["kind"], row["name"], row["version"], row["distribution"], row["description"], *shown)
        for row in broken:
            table.add_row("[red]broken[/]", row["plugin"], "", row["distribution"], f"[red]{row['error']}[/]")
        for row in conflicts:
            table.add_row(f"[red]{row['kind']}[/]", row["name"], "", " & ".join(row["registered_by"]),
                          "[red]duplicate name: unusable until one is uninstalled[/]")
        wide_console().print(table)
    return ExitCode.BAD_INPUT if broken or conflicts else ExitCode.OK


def factory_arguments(reg: Any) -> list[dict[str, Any]] | str:
    """A registration's factory arguments, ``[{"name", "default"?}]`` (no ``default``: required), read from the
    signature of the factory its lazy loader imports; an error string when it cannot be imported or inspected."""
    import inspect
    import json

    from vleval.registry.discovery import PluginError

    try:
        parameters = inspect.signature(reg.load()).parameters.values()
    except (PluginError, TypeError, ValueError) as exc:
        return f"unavailable: {exc}"
    out: list[dict[str, Any]] = []
    for p in parameters:
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        entry: dict[str, Any] = {"name": prefix + p.name}
        if p.default is not p.empty:
            try:
                entry["default"] = json.loads(json.dumps(p.default))
            except (TypeError, ValueError):
                entry["default"] = repr(p.default)
        out.append(entry)
    return out


def format_arguments(arguments: list[dict[str, Any]] | str) -> str:
    """``name=default`` per argument (required ones bare), or the error string."""
    if isinstance(arguments, str):
        return arguments
    return ", ".join(a["name"] + (f"={a['default']!r}" if "default" in a else "") for a in arguments) or "-"
