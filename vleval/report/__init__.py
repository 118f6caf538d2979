"""``vleval report``: a static HTML page with figures from results files (see ``docs/report.md``).

:func:`write_report` is what ``vleval run`` calls at the end of a run; matplotlib is imported only when figures
are drawn (Agg backend, PNG files next to ``index.html``), in two processes where possible
(:mod:`vleval.report.parallel`); ``vleval run`` starts those that need no board early
(:func:`vleval.report.page.start_figures`, via :mod:`vleval.cli.post_run`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vleval.results.record import Record


def load_results(paths: list[Path], validate: bool = True) -> tuple[list[Record], object]:
    """Records of every file and a per-item reader (sidecars relative to the file each record came from);
    ``validate``: check each file against the schema first (``records.load``)."""
    from vleval.results import sidecars as item_results
    from vleval.results.store import load

    records, homes = [], {}
    for path in map(Path, paths):
        for record in load([path], validate=validate):
            records.append(record)
            homes[record.cell_key] = path
    return records, item_results.reader(homes)


def write_report(results_path: Path | list[Path], out_dir: Path, *, allow_mixed: bool = False,
                 margin: float = 1.0, boards: list | None = None,
                 sections: list[tuple[str, list[str]]] | None = None, started: Any = None) -> Path:
    """Write ``out_dir/index.html`` and its figures from one or more results files; return the page's path.

    ``boards`` (:func:`vleval.boards.build.build`) and ``sections`` (:func:`vleval.boards.summaries.sections`) of the same
    records, when the caller computed them already (``vleval run`` prints both), are reused instead of recomputed:
    they are most of the report's time. Such a caller has read these records already (``vleval run``, whose store
    checked each against the schema as it was written), so they are not schema-checked a second time.
    ``started``: :func:`vleval.report.page.start_figures` of these records into ``out_dir`` (figures that need no
    board, drawn by a child while the caller computed the boards); started here when the boards are computed here."""
    from vleval.report import parallel
    from vleval.report.page import build_page, start_figures

    paths = [Path(p) for p in (results_path if isinstance(results_path, list) else [results_path])]
    with parallel.paused_gc(), parallel.one_blas_thread():
        records, items = load_results(paths, validate=boards is None)
        if boards is None and started is None:  # drawn while the boards are computed here
            started = start_figures(records, Path(out_dir), allow_mixed=allow_mixed)
        try:
            return build_page(records, items, Path(out_dir), sources=paths, allow_mixed=allow_mixed, margin=margin,
                              boards=boards, sections=sections, started=started)
        except BaseException:
            if started is not None:
                started.cancel()  # nothing when its figures were taken
            raise
