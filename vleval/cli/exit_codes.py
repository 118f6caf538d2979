"""The exit status of every ``vleval`` command, defined once (the README's "Exit status" table lists them)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    #: ``vleval run``: some cell failed (its record holds the error; the other cells ran and were written)
    FAILED_CELLS = 1
    #: bad input or usage: a benchmarks file or argument that is wrong, a broken or conflicting plugin, a results
    #: file that does not match its schema or cannot be read, an unknown label, nothing rankable in the input
    BAD_INPUT = 2
    #: interrupted (Ctrl-C); records written so far are kept
    INTERRUPTED = 130


#: per command: the statuses it can end with, and when (``vleval COMMAND --help`` prints its line)
DOCUMENTED = {
    "run": "0 every cell ok or skipped; 1 some cell failed (its record holds the error); 2 bad input "
           "(benchmarks file, arguments, plugins)",
    "plugins": "0 every plugin loads; 2 a plugin is broken or two register the same name",
    "leaderboard": "0 boards printed; 2 unreadable or non-comparable records, or nothing rankable (no ok record)",
    "validate": "0 every record matches the schema; 2 some line does not (each is named)",
    "compare": "0 comparison printed; 2 a label not found, records without per-item results, nothing shared",
    "corruptions": "0 table printed; 2 unknown baseline label, no corruption records, or an unknown metric",
    "report": "0 report written; 2 a results file missing or unreadable, or a bad --margin",
    "summary": "0 summaries printed; 2 a results file missing or unreadable, or no ok record",
}


def epilog(command: str) -> str:
    return f"exit status: {DOCUMENTED[command]}; 130 interrupted"
