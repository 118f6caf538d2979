"""One writer per results file: an advisory ``fcntl.flock`` on ``<results>.lock``, held for a whole run.

The lock file records its holder (pid, host, start time) so that a refused run can say who holds it. The lock is
tied to the open file description, so the kernel releases it when the holder exits, however it exits (SIGKILL
included); the file itself is left in place (unlinking it would let two processes lock two different inodes).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from vleval.results.store import ResultsFileError


class ResultsLocked(ResultsFileError):
    """Another process holds the results file; the message names it."""


def lock_path(results: Path) -> Path:
    return results.with_name(results.name + ".lock")


class RunLock:
    """``with RunLock(results):`` — exclusive, non-blocking; raises :class:`ResultsLocked` if held elsewhere."""

    def __init__(self, results: Path):
        self.results = Path(results)
        self.path = lock_path(self.results)
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise ResultsFileError(f"cannot write in {self.path.parent}: {exc.strerror} (creating {self.path})"
                                   ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise ResultsLocked(f"{self.results} is being written by another vleval run ({holder}); wait for it "
                                f"to finish or use another -o directory (lock: {self.path})") from None
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # no stale holder shown once released
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _read_holder(fd: int, attempts: int = 20, pause_s: float = 0.025) -> str:
    """``pid 123 on host, since <time>`` from the lock file, or a note that it is still being written. The holder
    writes its details just after taking the lock, so a run that lost the race waits a moment (up to
    ``attempts * pause_s``) for them rather than naming no holder."""
    for attempt in range(attempts):
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode())
            return f"pid {info['pid']} on {info['host']}, since {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            if attempt + 1 < attempts:
                time.sleep(pause_s)
    return "holder not yet recorded"
