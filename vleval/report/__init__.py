"""``vleval report``: a static HTML page with figures from results files (see ``docs/report.md``).

:func:`write_report` is what ``vleval run`` calls at the end of a run; matplotlib is imported only when figures
are drawn (Agg backend, PNG files next to ``index.html``), in two processes where possible
(:mod:`vleval.report.parallel`).
"""

from __future__ import annotations

from pathlib import Path

from vleval.record import Record


def load_results(paths: list[Path], validate: bool = True) -> tuple[list[Record], object]:
    """Records of every file and a per-item reader (sidecars relative to the file each record came from);
    ``validate``: check each file against the schema first (``records.load``)."""
    from vleval import item_results
    from vleval.records import load

    records, homes = [], {}
    for path in map(Path, paths):
        for record in load([path], validate=validate):
            records.append(record)
            homes[record.cell_key] = path
    return records, item_results.reader(homes)


def write_report(results_path: Path | list[Path], out_dir: Path, *, allow_mixed: bool = False,
                 margin: float = 1.0, boards: list | None = None,
                 sections: list[tuple[str, list[str]]] | None = None) -> Path:
    """Write ``out_dir/index.html`` and its figures from one or more results files; return the page's path.

    ``boards`` (:func:`vleval.leaderboard.build`) and ``sections`` (:func:`vleval.summary.sections`) of the same
    records, when the caller computed them already (``vleval run`` prints both), are reused instead of recomputed:
    they are most of the report's time. Such a caller has read these records already (``vleval run``, whose store
    checked each against the schema as it was written), so they are not schema-checked a second time."""
    from vleval.report.page import build_page

    paths = [Path(p) for p in (results_path if isinstance(results_path, list) else [results_path])]
    records, items = load_results(paths, validate=boards is None)
    return build_page(records, items, Path(out_dir), sources=paths, allow_mixed=allow_mixed, margin=margin,
                      boards=boards, sections=sections)
