"""Runs :func:`vleval.report.parallel.run` on test jobs in a fresh interpreter (one Python thread, so the two-process
path is taken whatever threads the test session has left) and prints the outcome as JSON.

    python tests/parallel_jobs.py FOLDER N [child-dies | one-fails]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from vleval.report import parallel


def jobs(folder: Path, n: int, child_dies: bool = False) -> list[parallel.Job]:
    caller = os.getpid()

    def job(i: int) -> Path | None:
        if child_dies and os.getpid() != caller:
            os._exit(3)
        time.sleep(0.1)  # long enough for the child to take jobs too, even on a busy machine
        if i % 3 == 2:
            return None  # "nothing to draw"
        path = folder / f"{i}.txt"
        with open(path, "a") as handle:  # appended: a job run twice would show
            handle.write(f"{i} {os.getpid()}\n")
        return path

    return [lambda i=i: job(i) for i in range(n)]


def main() -> None:
    folder, n, mode = Path(sys.argv[1]), int(sys.argv[2]), (sys.argv[3:] or [""])[0]
    out: dict = {"caller": os.getpid(), "can_fork": parallel._can_fork()}
    todo = jobs(folder, n, child_dies=mode == "child-dies")
    costs = [1.0] * n
    if mode == "one-fails":
        def broken() -> Path:
            raise ValueError("cannot draw this figure")
        todo, costs = [*todo[:2], broken, *todo[2:]], [1.0, 1.0, 5.0, *[1.0] * (n - 2)]
    try:
        results = parallel.run(todo, costs)
        out["results"] = [None if p is None else str(p) for p in results]
    except ValueError as exc:
        out["error"] = str(exc)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
