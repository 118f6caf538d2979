"""Multiple-choice accuracy, plain ("vanilla") and MMBench CircularEval, scored as VLMEvalKit scores them.

Both metrics take ``extraction`` (``"vlmevalkit"``, the default, or ``"strict"``; see :mod:`vleval_metrics.matching`)
and apply it to the raw generated answers when the model generated them; a model that scored the options is taken
at its highest-scoring option. Extraction failures count as wrong (VLMEvalKit records ``'Z'``) and their rate is
reported as ``extraction_failures`` (percent of rows); ``unanswered`` keeps its older name for the same figure.

CircularEval in ``vlmevalkit`` mode groups exactly as VLMEvalKit's ``mcq_circular_eval``: the rows whose
``index % CIRCULAR_BASE`` equals a rotation-0 row's ``index`` form that question's group, which is judged on the rows
present (a question counts if every one of them is right); rows of a question without its rotation-0 row are not
scored.
``strict`` scores only complete groups (one row per option) and counts the others in ``incomplete_questions``.
Per-category and per-l2-category figures follow VLMEvalKit's ``report_acc`` (a question's category is its rotation-0
row's).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from vleval.api import CIRCULAR_BASE, MCOutputs, Metric, MetricValue, Task
from vleval_metrics.matching import MODES, extract
from vleval_metrics.stats import percent_with_ci


def _check_mode(extraction: str) -> str:
    if extraction not in MODES:
        raise ValueError(f"extraction must be one of {', '.join(MODES)}, not {extraction!r}")
    return extraction


def extracted_letters(outputs: MCOutputs, mode: str) -> tuple[list[str | None], int]:
    """Each row's letter under ``mode`` and the number of rows where nothing could be extracted."""
    raw = outputs.raw_answers or [None] * len(outputs.predictions)
    options = outputs.options or [{}] * len(outputs.predictions)
    letters: list[str | None] = []
    failures = 0
    for prediction, answer, opts in zip(outputs.predictions, raw, options, strict=True):
        if answer is None:  # the model scored the options: its choice needs no extraction
            letters.append(prediction)
            failures += prediction is None
            continue
        found = extract(answer, opts, mode)
        letters.append(found.letter)
        failures += found.failed
    return letters, failures


def _by_group(values: dict[str, list[float]], prefix: str) -> dict[str, MetricValue]:
    return {f"{prefix}{name}": percent_with_ci(hits) for name, hits in sorted(values.items()) if name}


def _breakdown(hits: Sequence[float], categories: Sequence[str], l2: Sequence[str], metric: str) -> dict:
    out: dict[str, MetricValue] = {}
    for labels, prefix in ((categories, f"{metric}/"), (l2, f"{metric}/l2/")):
        groups: dict[str, list[float]] = defaultdict(list)
        for label, hit in zip(labels or [""] * len(hits), hits, strict=True):
            groups[label].append(hit)
        out.update(_by_group(groups, prefix))
    return out


class Accuracy(Metric):
    """Vanilla accuracy over every row, per category and l2-category, and over rotation-0 rows only."""

    task = Task.MULTIPLE_CHOICE
    primary = "accuracy"

    def __init__(self, extraction: str = "vlmevalkit"):
        self.extraction = _check_mode(extraction)

    def describe(self) -> dict[str, str]:
        return {"extraction": self.extraction}

    def compute(self, outputs: MCOutputs) -> dict[str, MetricValue]:
        letters, failures = extracted_letters(outputs, self.extraction)
        hits = [float(p is not None and p == a) for p, a in zip(letters, outputs.answers, strict=True)]
        out = {"accuracy": percent_with_ci(hits)}
        out.update(_breakdown(hits, outputs.categories, outputs.l2_categories, "accuracy"))
        first = [h for h, index in zip(hits, outputs.indices, strict=True) if index < CIRCULAR_BASE]
        if first:
            out["accuracy_rotation0"] = percent_with_ci(first)
        rate = MetricValue(value=100.0 * failures / max(len(hits), 1))
        out["extraction_failures"] = rate
        out["unanswered"] = rate
        return out


class CircularAccuracy(Metric):
    """MMBench CircularEval: a question counts only if all of its rotations are answered right."""

    task = Task.MULTIPLE_CHOICE
    primary = "circular_accuracy"

    def __init__(self, extraction: str = "vlmevalkit"):
        self.extraction = _check_mode(extraction)

    def describe(self) -> dict[str, str]:
        return {"extraction": self.extraction}

    def compute(self, outputs: MCOutputs) -> dict[str, MetricValue]:
        letters, failures = extracted_letters(outputs, self.extraction)
        n = len(letters)
        categories = outputs.categories or [""] * n
        l2 = outputs.l2_categories or [""] * n
        sizes = outputs.num_options or [0] * n
        rows: dict[int, list[bool]] = defaultdict(list)
        main: dict[int, int] = {}  # question -> its rotation-0 row
        for i, (index, letter, answer) in enumerate(zip(outputs.indices, letters, outputs.answers, strict=True)):
            question = int(index % CIRCULAR_BASE)
            rows[question].append(letter is not None and letter == answer)
            if index == question:
                main.setdefault(question, i)
        if self.extraction == "vlmevalkit":
            scored = [q for q in rows if q in main]
        else:
            scored = [q for q in rows if q in main and (not sizes[main[q]] or len(rows[q]) >= sizes[main[q]])]
        hits = [float(all(rows[q])) for q in scored]
        out = {
            "questions": MetricValue(value=float(len(scored))),
            "incomplete_questions": MetricValue(value=float(len(rows) - len(scored))),
            "extraction_failures": MetricValue(value=100.0 * failures / max(n, 1)),
        }
        if hits:  # undefined without a single scored question
            out["circular_accuracy"] = percent_with_ci(hits)
            out.update(_breakdown(
                hits, [categories[main[q]] for q in scored], [l2[main[q]] for q in scored], "circular_accuracy"
            ))
        return out
