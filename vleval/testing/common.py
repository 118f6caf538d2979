"""What every check shares: the failure message, the report, array conversion and exact comparison."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np


@dataclass
class Report:
    """What a check verified (``passed``) and what it could not apply, with the reason (``skipped``)."""

    plugin: str
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def ok(self, check: str) -> None:
        self.passed.append(check)

    def skip(self, check: str, why: str) -> None:
        self.skipped[check] = why


def fail(plugin: str, method: str, expected: str, actual: Any) -> NoReturn:
    """Raise the kit's :class:`AssertionError`: ``<plugin>: <method>: expected <expected>; got <actual>``."""
    text = actual if isinstance(actual, str) else repr(actual)
    if len(text) > 300:
        text = text[:300] + "..."
    raise AssertionError(f"{plugin}: {method}: expected {expected}; got {text}")


def expect(condition: bool, plugin: str, method: str, expected: str, actual: Any) -> None:
    if not condition:
        fail(plugin, method, expected, actual)


def call(plugin: str, method: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; an exception becomes the kit's failure naming ``method``."""
    try:
        return fn(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as exc:
        fail(plugin, method, "a result", f"{type(exc).__name__}: {exc}")


def to_numpy(value: Any) -> np.ndarray:
    """A numpy copy of an array result (``numpy.ndarray`` or ``torch.Tensor``)."""
    detach = getattr(value, "detach", None)
    if detach is not None:
        value = detach().cpu()
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    return np.array(value, copy=True)


def identical(a: Any, b: Any) -> bool:
    """Bitwise equality of two outputs: arrays by dtype, shape and bytes; lists and strings exactly."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def describe_difference(a: Any, b: Any) -> str:
    """A short account of how two outputs differ."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype:
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        return f"{int((diff > 0).sum())} of {a.size} values differ (max |difference| {float(diff.max()):.3g})"
    return f"{a!r} vs {b!r}"
