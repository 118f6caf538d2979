"""The shift interface: a named pair of domains, each a registered dataset with its arguments.

Two kinds of shift:

- :class:`Shift`, a pair of datasets (``source()`` and ``target()`` name two registered datasets);
- :class:`TransformShift`, a transform of any registered dataset: ``source()`` is the dataset, ``target()`` the same
  items through :meth:`TransformShift.apply` (same item ids, so source and target are paired item by item).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from vleval.api.items import CIRCULAR_BASE


@dataclass(frozen=True)
class Transform:
    """What turns a dataset's items into a target domain: the shift's identity (``shift``, ``version``, ``params``)
    and its ``apply(item, index, seed)``. Two transforms are equal when their identities are."""

    shift: str
    version: str
    params: dict[str, Any]
    seed: int
    apply: Callable[[Any, int, int], Any] = field(compare=False, repr=False)

    def identity(self) -> dict[str, Any]:
        return {"shift": self.shift, "version": self.version, "params": self.params, "seed": self.seed}


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset and its arguments; with ``transform``, its items as transformed by a shift."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    transform: Transform | None = None

    def untransformed(self) -> DatasetSpec:
        return replace(self, transform=None) if self.transform is not None else self


class Shift:
    """A distribution shift: models are evaluated on ``source()`` and ``target()``; the drop is reported."""

    def source(self) -> DatasetSpec:
        raise NotImplementedError

    def target(self) -> DatasetSpec:
        raise NotImplementedError

    def calibration(self) -> DatasetSpec | None:
        """Held-out source data for calibrating expert pruning; ``None`` means the source dataset with
        ``split="val"``."""
        return None


class ShiftArgumentError(ValueError):
    """A shift argument is missing or invalid; the message names the shift and the argument."""


def dataset_spec(shift: str, arg: str, value: Any) -> DatasetSpec:
    """``value`` (a ``{name = ..., args = {...}}`` table or a :class:`DatasetSpec`) as a :class:`DatasetSpec`."""
    if isinstance(value, DatasetSpec):
        return value
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str) or not value["name"]:
        raise ShiftArgumentError(f"shift {shift!r}: argument {arg!r} must be a table like "
                                 f"{{name = \"karpathy\", args = {{...}}}} naming a registered dataset, got {value!r}")
    unknown = set(value) - {"name", "args"}
    if unknown:
        raise ShiftArgumentError(f"shift {shift!r}: argument {arg!r} has unknown key(s) {sorted(unknown)}; "
                                 "use 'name' and 'args'")
    args = value.get("args") or {}
    if not isinstance(args, Mapping):
        raise ShiftArgumentError(f"shift {shift!r}: {arg}.args must be a table of dataset arguments, got {args!r}")
    return DatasetSpec(value["name"], dict(args))


def item_key(item: Any) -> str:
    """The id the per-item randomness derives from: ``item.id``; for multiple-choice items the circular group
    (``index % CIRCULAR_BASE``), so that the rotations of one question get the same image and question transform."""
    if hasattr(item, "id"):
        return str(item.id)
    index = getattr(item, "index", None)
    if isinstance(index, int):
        return str(index % CIRCULAR_BASE)
    raise TypeError(f"item of type {type(item).__name__} has neither 'id' nor an integer 'index'")


def item_seed(seed: int, key: str, *salt: Any) -> int:
    """A 64-bit seed from ``seed``, an item key and any ``salt`` (e.g. the field transformed): independent of the
    order in which items are visited."""
    blob = json.dumps([int(seed), str(key), *map(str, salt)])
    return int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "little")


def item_rng(seed: int, item: Any, *salt: Any) -> Any:
    """A ``numpy.random.Generator`` for ``item`` (see :func:`item_key`), ``seed`` and ``salt``."""
    import numpy as np

    return np.random.default_rng(item_seed(seed, item_key(item), *salt))


class TransformShift(Shift):
    """A shift that transforms any registered dataset: source = ``dataset``, target = the same items through
    :meth:`apply`, deterministic per item and ``seed``.

    Subclasses set ``name`` and ``version`` (as registered), take their own arguments plus ``dataset``, ``seed`` and
    ``calibration`` (pass them to ``super().__init__``), return their arguments from :meth:`params` (they go into the
    target's content hash and the record) and implement :meth:`apply`.
    """

    name: str = ""
    version: str = ""

    def __init__(self, dataset: Mapping[str, Any] | DatasetSpec | None = None, seed: int = 0,
                 calibration: Mapping[str, Any] | DatasetSpec | None = None) -> None:
        shift = self.name or type(self).__name__
        if dataset is None:
            raise ShiftArgumentError(f"shift {shift!r}: argument 'dataset' is required: the dataset to transform, "
                                     "a table like {name = \"mmbench\", args = {path = ...}}")
        self.dataset = dataset_spec(shift, "dataset", dataset)
        if self.dataset.transform is not None:
            raise ShiftArgumentError(f"shift {shift!r}: argument 'dataset' must name a registered dataset, not a "
                                     "transformed one")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ShiftArgumentError(f"shift {shift!r}: argument 'seed' must be an integer >= 0, got {seed!r}")
        self.seed = seed
        self._calibration = None if calibration is None else dataset_spec(shift, "calibration", calibration)

    def params(self) -> dict[str, Any]:
        """The transform's own arguments (JSON-serialisable), e.g. ``{"corruption": "fog", "severity": 3}``."""
        return {}

    def apply(self, item: Any, index: int, seed: int) -> Any:
        """The transformed item: a new item (never modify ``item``) with the same id. ``index`` is the item's
        position, ``seed`` the shift's; derive randomness with :func:`item_rng` (item id + seed), not from ``index``
        or the order of calls."""
        raise NotImplementedError

    def source(self) -> DatasetSpec:
        return self.dataset

    def target(self) -> DatasetSpec:
        transform = Transform(self.name or type(self).__name__, self.version, dict(self.params()), self.seed,
                              self.apply)
        return replace(self.dataset, transform=transform)

    def calibration(self) -> DatasetSpec | None:
        """``calibration`` if given, else ``None``: the wrapped dataset with ``split="val"``."""
        return self._calibration


def transformed_hash(source_hash: str, transform: Transform) -> str:
    """The target's content hash: sha256 of (source content hash, shift name, version, params, seed)."""
    blob = json.dumps([source_hash, transform.identity()], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class TransformedDataset:
    """``dataset``'s items through ``transform`` (a :class:`vleval.api.Dataset`; same length, task and item ids)."""

    def __init__(self, dataset: Any, transform: Transform) -> None:
        self.base, self.transform = dataset, transform
        self.task = dataset.task
        params = [f"{k}={'+'.join(map(str, v)) if isinstance(v, list | tuple) else v}"
                  for k, v in sorted(transform.params.items())] + [f"seed={transform.seed}"]
        self.id = f"{dataset.id}+{transform.shift}({','.join(params)})"
        self._hash: str | None = None

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            index += len(self)
        return self.transform.apply(self.base[index], index, self.transform.seed)

    def content_hash(self) -> str:
        if self._hash is None:
            self._hash = transformed_hash(self.base.content_hash(), self.transform)
        return self._hash

    def describe(self) -> dict[str, Any]:
        describe = getattr(self.base, "describe", None)
        base = describe() if callable(describe) else {}
        return {**base, "source_id": self.base.id, "transform": self.transform.identity()}
