"""``check_dataset`` and ``check_shift``: items of the task's type, stable content hashes, resolvable domains."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from vleval.api import CaptionItem, Dataset, DatasetSpec, MCItem, RetrievalItem, Shift, Task
from vleval.testing.common import Report, call, expect

ITEM_TYPES: dict[Task, type] = {Task.RETRIEVAL: RetrievalItem, Task.MULTIPLE_CHOICE: MCItem,
                                Task.CAPTIONING: CaptionItem}
HEX = re.compile(r"^[0-9a-f]{16,}$")


def check_dataset(dataset: Dataset, *, name: str | None = None, fresh: Callable[[], Dataset] | None = None,
                  modified: Callable[[], Dataset] | None = None, max_items: int = 8) -> Report:
    """Check ``dataset`` against :class:`vleval.api.Dataset`; raise :class:`AssertionError` naming plugin, method,
    expected and actual on the first violation.

    ``fresh``: makes a second instance over the same data (its content hash must be equal); ``modified``: makes one
    over changed content (its hash must differ). Up to ``max_items`` items (first, last, evenly spaced) are read.
    """
    plugin = name or type(dataset).__name__
    report = Report(plugin)
    task = getattr(dataset, "task", None)
    expect(isinstance(task, Task), plugin, "task", "a vleval.api.Task", repr(task))
    expect(isinstance(getattr(dataset, "id", None), str) and bool(dataset.id), plugin, "id", "a non-empty string",
           repr(getattr(dataset, "id", None)))
    size = call(plugin, "__len__", len, dataset)
    expect(size >= 1, plugin, "__len__", "at least one item", size)
    step = max(size // max(max_items - 1, 1), 1)
    for index in sorted({*range(0, size, step), size - 1})[:max_items]:
        item = call(plugin, "__getitem__", dataset.__getitem__, index)
        _check_item(plugin, task, index, item)
        again = call(plugin, "__getitem__", dataset.__getitem__, index)
        expect(_same_item(item, again), plugin, f"__getitem__({index})", "the same item on every read",
               "a different item the second time")
    try:
        dataset[size]
    except IndexError:
        pass
    except Exception as exc:
        expect(False, plugin, f"__getitem__({size})", "IndexError past the end (Sequence protocol)",
               f"{type(exc).__name__}: {exc}")
    else:
        expect(False, plugin, f"__getitem__({size})", "IndexError past the end (Sequence protocol)", "an item")
    report.ok("items")
    digest = call(plugin, "content_hash", dataset.content_hash)
    expect(isinstance(digest, str) and bool(HEX.match(digest)), plugin, "content_hash",
           "a lowercase hex digest (>= 16 characters)", repr(digest))
    expect(dataset.content_hash() == digest, plugin, "content_hash", f"the same digest twice ({digest})",
           dataset.content_hash())
    report.ok("content_hash")
    facts = call(plugin, "describe", dataset.describe)
    expect(isinstance(facts, dict), plugin, "describe", "a dict", type(facts).__name__)
    try:
        json.dumps(facts)
    except (TypeError, ValueError) as exc:
        expect(False, plugin, "describe", "JSON-serialisable facts (they go into records)", str(exc))
    report.ok("describe")
    if fresh is None:
        report.skip("content_hash stable across instances", "no fresh=")
    else:
        other = fresh()
        expect(other.content_hash() == digest and len(other) == size, plugin, "content_hash",
               f"a second instance over the same data to hash {digest} with {size} items",
               f"{other.content_hash()} with {len(other)} items")
        report.ok("content_hash stable across instances")
    if modified is None:
        report.skip("content_hash changes with content", "no modified=")
    else:
        changed = modified().content_hash()
        expect(changed != digest, plugin, "content_hash", "a different digest when the content changed",
               f"the same digest {digest}")
        report.ok("content_hash changes with content")
    return report


def _check_item(plugin: str, task: Task, index: int, item: Any) -> None:
    where = f"__getitem__({index})"
    want = ITEM_TYPES[task]
    expect(isinstance(item, want), plugin, where, f"a vleval.api.{want.__name__} (task {task.value!r})",
           type(item).__name__)
    image = getattr(item, "image", None)
    if not (isinstance(item, MCItem) and image is None):
        expect(_is_rgb_image(image), plugin, where, "an RGB PIL image (decoded with open_image)",
               getattr(image, "mode", type(image).__name__))
    if isinstance(item, RetrievalItem):
        expect(bool(item.captions) and all(isinstance(c, str) and c for c in item.captions), plugin, where,
               "a non-empty list of non-empty caption strings", item.captions)
    elif isinstance(item, MCItem):
        expect(isinstance(item.options, dict) and len(item.options) >= 2, plugin, where,
               "options: a dict of at least 2 letters", item.options)
        expect(item.answer in item.options, plugin, where, f"answer among the option letters {list(item.options)}",
               repr(item.answer))
        expect(isinstance(item.index, int), plugin, where, "an int index", item.index)
    elif isinstance(item, CaptionItem):
        expect(all(isinstance(r, str) for r in item.references), plugin, where, "reference strings", item.references)


def _is_rgb_image(image: Any) -> bool:
    return getattr(image, "mode", None) == "RGB" and callable(getattr(image, "tobytes", None))


def _same_item(a: Any, b: Any) -> bool:
    fields = {k: v for k, v in vars(a).items() if k != "image"}
    other = {k: v for k, v in vars(b).items() if k != "image"}
    image_a, image_b = getattr(a, "image", None), getattr(b, "image", None)
    same_image = (image_a is None and image_b is None) or (
        image_a is not None and image_b is not None and image_a.size == image_b.size
        and image_a.tobytes() == image_b.tobytes())
    return fields == other and same_image


def check_shift(shift: Shift, *, name: str | None = None, registry: Any = None, create: bool = False) -> Report:
    """Check ``shift`` against :class:`vleval.api.Shift`: ``source``/``target`` (and ``calibration`` if given) are
    ``DatasetSpec``s with JSON-serialisable args, source differs from target. With ``registry`` (a
    :class:`vleval.registry.discovery.Registry`, e.g. from :func:`vleval.testing.plugin_registry`) their names must be
    registered datasets; with ``create=True`` too, both domains are created and must share one task."""
    plugin = name or type(shift).__name__
    report = Report(plugin)
    specs: dict[str, DatasetSpec] = {}
    for method in ("source", "target", "calibration"):
        spec = call(plugin, method, getattr(shift, method))
        if spec is None and method == "calibration":
            report.skip("calibration", "None: the source dataset with split='val'")
            continue
        expect(isinstance(spec, DatasetSpec) and isinstance(spec.name, str) and bool(spec.name), plugin, method,
               "a vleval.api.DatasetSpec(name, args)", spec)
        expect(isinstance(spec.args, dict), plugin, method, "args: a dict", spec.args)
        try:
            json.dumps(spec.args)
        except (TypeError, ValueError) as exc:
            expect(False, plugin, method, "JSON-serialisable args (they go into records)", str(exc))
        specs[method] = spec
    expect(specs["source"] != specs["target"], plugin, "target", f"a domain other than the source {specs['source']}",
           specs["target"])
    report.ok("specs")
    if registry is None:
        report.skip("registered datasets", "no registry=")
        return report
    for method, spec in specs.items():
        try:
            registry.get("dataset", spec.name)
        except Exception as exc:
            expect(False, plugin, method, "the name of a registered dataset", f"{type(exc).__name__}: {exc}")
    report.ok("registered datasets")
    if create:
        tasks = {}
        for method in ("source", "target"):
            spec = specs[method]
            dataset = call(plugin, f"{method} (creating dataset {spec.name!r})", registry.create, "dataset", spec.name,
                           spec.args)
            tasks[method] = dataset.task
        expect(tasks["source"] == tasks["target"], plugin, "target", f"the source's task {tasks['source']}",
               tasks["target"])
        report.ok("domains created")
    return report
