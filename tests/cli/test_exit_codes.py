"""One exit-status scheme for every command (``vleval.cli.exit_codes.ExitCode``): 2 for bad input or usage,
1 only for a run whose cells failed; each command's ``--help`` documents its statuses; ``main([])`` never reads
the host process's ``sys.argv``."""

from __future__ import annotations

import pytest

from vleval.cli import app, run
from vleval.cli.exit_codes import DOCUMENTED, ExitCode


def test_exit_codes_are_the_documented_values():
    assert [int(code) for code in ExitCode] == [0, 1, 2, 130]


def test_every_command_documents_its_exit_status(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps help text at the terminal's width
    commands = app.build_parser()._subparsers._group_actions[0].choices
    assert set(commands) == set(DOCUMENTED)
    for name in commands:
        with pytest.raises(SystemExit):
            app.main([name, "--help"])
        assert f"exit status: {DOCUMENTED[name]}" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["leaderboard", "{empty}"],                      # nothing rankable in the input
    ["compare", "{empty}", "-a", "refmoe(experts=4)"],  # the label is not there
    ["corruptions", "{empty}", "--baseline", "nobody"],
    ["summary", "{empty}"],                          # no ok record
    ["summary", "{missing}"],
    ["report", "{missing}", "-o", "{out}"],
    ["leaderboard", "{garbage}"],                     # not a results file
    ["validate", "{garbage}"],
])
def test_bad_input_exits_2_with_one_line(argv, tmp_path, capsys):
    paths = {"empty": tmp_path / "empty.jsonl", "missing": tmp_path / "nope.jsonl", "out": tmp_path / "out",
             "garbage": tmp_path / "garbage.jsonl"}
    paths["empty"].write_text("")
    paths["garbage"].write_text("not json\n")
    assert app.main([a.format(**paths) for a in argv]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert err.strip() and "Traceback" not in err


def test_main_with_empty_argv_runs_the_default_benchmark_without_reading_sys_argv(monkeypatch):
    seen = []
    monkeypatch.setattr(run, "cmd_run", lambda args: seen.append(args) or ExitCode.OK)
    monkeypatch.setattr("sys.argv", ["vleval", "leaderboard", "somefile.jsonl"])
    assert app.main([]) == ExitCode.OK
    (args,) = seen
    assert args.command == "run" and args.benchmark is None
