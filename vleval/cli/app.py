"""The ``vleval`` command line: the parser, one module per command group, and the mapping of errors to exit status.

Imports nothing heavy until a command needs it: ``vleval --help`` and ``vleval plugins`` never load torch.
"""

from __future__ import annotations

import argparse
import sys

from vleval import __version__
from vleval.cli import plugins, report, results, run
from vleval.cli.exit_codes import ExitCode, epilog


def main(argv: list[str] | None = None) -> int:
    """Run one command; ``argv`` defaults to this process's arguments (``main([])`` runs the default benchmark: it
    never reads ``sys.argv``). No command given means ``run``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        args = parser.parse_args(["run", *argv])
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted; records written so far are kept (use --resume to continue)", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if isinstance(exc, bad_input_errors()):
            print(f"vleval: error: {exc}", file=sys.stderr)
            return ExitCode.BAD_INPUT
        raise


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean bad input or usage (exit status 2, one line, no traceback); anything else is a bug
    and keeps its traceback. ``OSError``: the environment (a missing file, permissions, a full disk)."""
    from vleval.boards.build import NotComparable
    from vleval.config.load import ConfigError
    from vleval.config.schema import ValidationFailed
    from vleval.executors.errors import ExecutorError
    from vleval.registry import PluginError
    from vleval.results.sidecars import SidecarError
    from vleval.results.store import ResultsFileError

    return (ConfigError, PluginError, ExecutorError, NotComparable, ResultsFileError, SidecarError, ValidationFailed,
            OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vleval", description="Evaluate Mixture-of-Experts vision-language models: accuracy vs latency as "
        "experts scale, routing specialization, and how both change under data shifts.",
        epilog="exit status: 0 ok; 1 some cell of a run failed; 2 bad input or usage; 130 interrupted "
        "(each command's --help says when)")
    parser.add_argument("--version", action="version", version=f"vleval {__version__}")
    sub = parser.add_subparsers(dest="command")
    for command in (run, plugins, results, report):
        command.add_parser(sub)
    for name, command_parser in sub.choices.items():
        command_parser.epilog = epilog(name)
    return parser
