"""The dataset interface."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

from vleval.api.model import Capability


class Task(str, Enum):
    RETRIEVAL = "retrieval"
    MULTIPLE_CHOICE = "multiple_choice"
    CAPTIONING = "captioning"


#: The capabilities that can serve each task, in order of preference.
TASK_CAPABILITIES: dict[Task, tuple[Capability, ...]] = {
    Task.RETRIEVAL: (Capability.EMBED,),
    Task.MULTIPLE_CHOICE: (Capability.SCORE_OPTIONS, Capability.GENERATE),
    Task.CAPTIONING: (Capability.GENERATE,),
}


class Dataset(Sequence):
    """A finite, indexable set of items of one :class:`Task` (see ``vleval.api.items``).

    ``id`` names the data (e.g. ``"karpathy:flickr30k/test"``); ``content_hash()`` is a hex digest of the bytes the
    items come from (annotation files and images), so two results are comparable only if their hashes match.
    Decode images lazily in ``__getitem__`` with :func:`vleval.api.open_image`.
    """

    task: Task
    id: str

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def content_hash(self) -> str:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Extra facts for the record (paths, split, sizes)."""
        return {}
