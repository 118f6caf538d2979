"""What ``vleval run`` does after its cells, kept short: the boards and summaries printed
(:func:`vleval.cli.console.print_report`), then the HTML report (:func:`vleval.report.write_report`).

- :func:`preload` imports what that needs ahead of time (e.g. while the worker process starts and this one idles);
- :class:`PostRun` starts the report's figures that need no board in a forked child as soon as the records are
  loaded, so they are drawn while this process computes the boards and summaries, and meanwhile pauses the cyclic
  garbage collector and keeps BLAS on one thread.

Neither changes any output: the same boards, summaries, page and figure files, byte for byte.
"""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path
from types import TracebackType
from typing import Any

from vleval.results.record import Record

MODULES = ("rich.table", "scipy.special", "vleval.results.sidecars", "vleval.boards.build", "vleval.stats.pooling",
           "vleval.stats.verdicts", "vleval.stats.paired", "vleval.engine.machine_load", "vleval.boards.summaries", "vleval.stats.routing")
REPORT_MODULES = ("vleval.report.page", "vleval.report.figures", "vleval.report.parallel")


def preload(report: bool = True) -> None:
    """Import the modules the boards, summaries and (``report``) the HTML report use: matplotlib with its Agg
    backend and pyplot, whose import is most of the report's fixed cost, and warm mathtext's parser (the log-scale
    tick labels use it). Safe to call at any time, more than once, or not at all: it sets no option that the
    report does not set itself (the Agg backend) and draws nothing."""
    for name in (*MODULES, *(REPORT_MODULES if report else ())):
        importlib.import_module(name)
    with contextlib.suppress(ImportError):
        importlib.import_module("threadpoolctl")  # parallel.one_blas_thread
    if report:
        from matplotlib.mathtext import MathTextParser

        from vleval.report import figures

        figures.prepare()
        MathTextParser("path").parse("$10^{0}$")  # builds the shared parser once (its grammar: ~0.1 s)


class PostRun:
    """The post-cell steps' context. :meth:`loaded` (``print_report``'s ``loaded``) starts the report's figures
    that need no board (:func:`vleval.report.page.start_figures`) on the records, drawn into ``results``' report
    folder by a forked child while this process computes the boards; :attr:`started` goes to
    :func:`vleval.report.write_report`. ``results``: the results file, ``None`` for no report; ``out``: the report's
    folder when not the run's (``results`` with suffix ``.report``). Meanwhile the cyclic garbage collector is
    paused and BLAS runs on one thread (:func:`vleval.report.parallel.paused_gc`, ``one_blas_thread``); on the way
    out, a child whose figures were not used (an error on the way) is stopped."""

    def __init__(self, results: Path | None, out: Path | None = None):
        exists = results is not None and results.exists()
        self.out = (out or results.with_suffix(".report")) if exists else None
        self.started: Any = None
        self._context = contextlib.ExitStack()

    def loaded(self, records: list[Record]) -> None:
        if self.out is not None and self.started is None:
            from vleval.report.page import start_figures

            self.started = start_figures(records, self.out)

    def __enter__(self) -> PostRun:
        from vleval.report.parallel import one_blas_thread, paused_gc

        self._context = contextlib.ExitStack()
        self._context.enter_context(paused_gc())
        self._context.enter_context(one_blas_thread())
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        with self._context:
            if self.started is not None:
                self.started.cancel()  # nothing when write_report took its figures
