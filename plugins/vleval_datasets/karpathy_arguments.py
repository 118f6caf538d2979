"""The ``karpathy`` dataset's protocol arguments: splits, captions per image, folds and task, checked."""

from __future__ import annotations

from vleval.api import Task
from vleval_datasets.errors import DatasetFormatError

#: Split names used by the Karpathy files. ``split`` may join several with ``+`` (e.g. ``"train+restval"``).
KARPATHY_SPLITS = ("train", "val", "test", "restval")
#: ``captions_per_image`` value that keeps every caption of every image (``0`` means the same).
ALL_CAPTIONS = "all"
#: Images per fold: the MSCOCO 1K test protocol's five folds of the 5K test split.
DEFAULT_FOLD_SIZE = 1000
#: Leading captions kept per image for retrieval when ``captions_per_image`` is not given (captioning keeps all).
RETRIEVAL_CAPTIONS = 5
#: The ``task`` values and the items each yields.
TASKS = {Task.RETRIEVAL.value: Task.RETRIEVAL, Task.CAPTIONING.value: Task.CAPTIONING}


def captions_protocol(value: int | str) -> int | None:
    """``captions_per_image`` as a count of leading captions (``None``: all captions); raises on anything else."""
    if isinstance(value, str) and value.strip().lower() == ALL_CAPTIONS:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DatasetFormatError(f"karpathy: captions_per_image must be an integer >= 0 or 'all', got {value!r}")
    try:
        count = int(value)
    except ValueError:
        raise DatasetFormatError(
            f"karpathy: captions_per_image must be an integer >= 0 or 'all', got {value!r}"
        ) from None
    if count < 0:
        raise DatasetFormatError(f"karpathy: captions_per_image must be an integer >= 0 or 'all', got {value!r}")
    return count or None


def task_argument(value: str | Task) -> Task:
    """``task`` as a :class:`Task` (``"retrieval"`` or ``"captioning"``); raises on anything else."""
    task = TASKS.get(value.value if isinstance(value, Task) else value) if isinstance(value, str) else None
    if task is None:
        raise DatasetFormatError(f"karpathy: task must be one of {sorted(TASKS)}, got {value!r}")
    return task


def fold_arguments(fold: int | None, fold_size: int) -> tuple[int | None, int]:
    """``fold`` (``None`` or an integer >= 0) and ``fold_size`` (an integer >= 1), checked."""
    for name, value, low in (("fold", fold, 0), ("fold_size", fold_size, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise DatasetFormatError(f"karpathy: {name} must be an integer >= {low}, got {value!r}")
    return fold, fold_size
