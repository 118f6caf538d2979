"""``vleval report``: a static HTML page with figures from results files (see ``docs/report.md``).

:func:`write_report` is also what ``vleval run`` calls at the end of a run, with the boards and summaries it printed.
"""

from __future__ import annotations

from pathlib import Path

from vleval.boards.build import Board
from vleval.boards.summaries import Section
from vleval.report.page import build_page
from vleval.results.sidecars import load_results


def write_report(results_path: Path | list[Path], out_dir: Path, *, allow_mixed: bool = False,
                 margin: float = 1.0, boards: list[Board] | None = None,
                 sections: list[Section] | None = None) -> Path:
    """Write ``out_dir/index.html`` and its figures from one or more results files; return the page's path.

    ``boards`` (:func:`vleval.boards.build.build`) and ``sections`` (:func:`vleval.boards.summaries.sections`) of
    the same records, when the caller computed them already (``vleval run`` prints both), are reused instead of
    recomputed: they are most of the report's time. Such a caller has read these records already (``vleval run``,
    whose store checked each against the schema as it was written), so they are not schema-checked a second time."""
    paths = [Path(p) for p in (results_path if isinstance(results_path, list) else [results_path])]
    records, items = load_results(paths, validate=boards is None)
    return build_page(records, items, Path(out_dir), sources=paths, allow_mixed=allow_mixed, margin=margin,
                      boards=boards, sections=sections)
