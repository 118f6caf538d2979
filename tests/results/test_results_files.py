"""Results files: one reader naming every bad line; --resume refuses (or --repair quarantines); disk faults."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import cli_error, toy_benchmark

from vleval.cli import main
from vleval.executors.runner import run_benchmark
from vleval.results.store import scan


@pytest.fixture
def good_lines(tmp_path, toy_registry) -> list[str]:
    bench = toy_benchmark(models=[{"name": "toy-moe", "sweep": {"experts": [2, 4]}}], datasets=[],
                          latency={"warmup": 0, "repetitions": 1})
    summary = run_benchmark("toy", bench, tmp_path / "run", registry=toy_registry)
    return summary.path.read_text().splitlines()


def corrupted(path: Path, good: list[str]) -> Path:
    wrong_type, no_key = json.loads(good[1]), json.loads(good[1])
    wrong_type["seed"] = "x"
    del no_key["cell_key"]
    lines = [good[0].encode(), json.dumps(wrong_type).encode(), b"[1, 2]", json.dumps(no_key).encode(),
             b'{"status": "ok", "caf\xe9": 1}', b'{"a": NaN}', b"not json"]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


EXPECTED = [":2: seed: 'x' is not of type 'integer'", ":3: not a JSON record (a JSON list; expected one object",
            ":4: (top level): 'cell_key' is a required property", ":5: not UTF-8 text (byte 0xe9 at column 22)",
            ":6: not a JSON record (NaN is not valid JSON)", ":7: not a JSON record (Expecting value at column 1)"]


def test_validate_and_leaderboard_name_every_bad_line(tmp_path, good_lines, capsys):
    path = corrupted(tmp_path / "bad.jsonl", good_lines)
    found = scan(path)
    assert [n for n, _ in found.records] == [1] and sorted(found.bad_lines) == [2, 3, 4, 5, 6, 7]
    assert main(["validate", str(path)]) == 2  # bad input
    err = capsys.readouterr().err
    for expected in EXPECTED:
        assert f"{path}{expected}" in err, err
    assert main(["leaderboard", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(f"{path}{expected}" in err for expected in EXPECTED)


def test_an_incomplete_last_line_and_a_missing_file_are_problems_not_tracebacks(tmp_path, good_lines):
    path = tmp_path / "torn.jsonl"
    path.write_text(good_lines[0] + "\n" + good_lines[1])
    assert [str(p) for p in scan(path).problems] == [f"{path}:2: incomplete last line (no newline at the end: a run "
                                                     "killed mid-write?)"]
    assert [str(p) for p in scan(tmp_path / "nope.jsonl").problems] == [f"{tmp_path / 'nope.jsonl'}: no such "
                                                                        "results file"]
    assert "cannot read: Is a directory" in str(scan(tmp_path).problems[0])


@pytest.mark.slow
def test_resume_refuses_an_invalid_file_unless_repair_quarantines_its_bad_lines(toy_cli):
    argv, env, results = toy_cli
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    lines = results.read_text().splitlines()
    wrong = json.loads(lines[1])
    wrong["seed"] = "x"
    bad = [json.dumps(wrong), "[1]"]
    results.write_text("\n".join([lines[0], bad[0], *lines[2:], bad[1]]) + "\n")
    before, listing = results.read_bytes(), sorted(p.name for p in results.parent.iterdir())

    refused = subprocess.run([*argv, "--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr and "nothing was changed" in refused.stderr
    assert f"{results}:2: seed: 'x' is not of type 'integer'" in refused.stderr and f"{results}:5:" in refused.stderr
    assert results.read_bytes() == before and sorted(p.name for p in results.parent.iterdir()) == listing

    repaired = subprocess.run([*argv, "--resume", "--repair"], env=env, capture_output=True, text=True, timeout=120)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    (quarantine,) = results.parent.glob("toy.bad-*.jsonl")
    assert quarantine.read_text().splitlines() == bad
    assert "2 bad line(s)" in repaired.stdout and quarantine.name in repaired.stdout.replace("\n", "")
    keys = [json.loads(line)["cell_key"] for line in results.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 4 and not scan(results).problems  # the bad cell was run again


FAULTY_DISK = """
import errno, os, sys
real_write, real_open, calls = os.write, os.open, []
fault, out = sys.argv[1], os.path.realpath(sys.argv[2])

def write(fd, data):
    if os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl"):
        calls.append(len(data))
        if len(calls) == 3:  # the third record: half of it lands, then the disk is full
            return real_write(fd, data[: len(data) // 2])
        if len(calls) > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return real_write(fd, data)

def open_(path, flags, *args, **kwargs):
    if os.path.realpath(path).startswith(out) and flags & (os.O_WRONLY | os.O_RDWR):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
    return real_open(path, flags, *args, **kwargs)

if __name__ == "__main__":  # not in the worker process, which imports this script again (spawn)
    if fault == "full":
        os.write = write
    else:
        os.open = open_
    from vleval.cli import main
    sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.slow
def test_a_full_disk_stops_the_run_with_one_error_and_no_half_record(toy_cli, tmp_path):
    argv, env, results = toy_cli
    script = tmp_path / "faulty_disk.py"
    script.write_text(textwrap.dedent(FAULTY_DISK))
    proc = subprocess.run([sys.executable, str(script), "full", str(results.parent), *argv[3:]], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "No space left on device; the records written before are intact" in proc.stderr
    data = results.read_bytes()
    assert data.endswith(b"\n") and data.count(b"\n") == 2 and not scan(results).problems


@pytest.mark.slow
def test_a_read_only_output_directory_is_one_clear_error(toy_cli, tmp_path):
    argv, env, results = toy_cli
    results.parent.mkdir()
    script = tmp_path / "faulty_disk.py"
    script.write_text(textwrap.dedent(FAULTY_DISK))
    proc = subprocess.run([sys.executable, str(script), "read-only", str(results.parent), *argv[3:]], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert cli_error(proc.stderr) == (f"vleval: error: cannot write in {results.parent}: Read-only file system "
                                      f"(creating {results}.lock)\n")


def test_output_naming_an_existing_file_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "b.toml").write_text(BENCH_ONE)
    (tmp_path / "taken").write_text("")
    assert main(["run", "--in-process", "-c", str(tmp_path / "b.toml"), "-o", str(tmp_path / "taken")]) == 2
    expected = f"vleval: error: -o {tmp_path / 'taken'}: exists and is not a directory\n"
    assert cli_error(capsys.readouterr().err) == expected


BENCH_ONE = '[benchmarks.one]\nmodels = [{ name = "toy-moe" }]\nshifts = [{ name = "toy-noise" }]\n'
