"""Plugin outputs checked at the boundary, before any metric sees them.

A model's answer to one call must match the call: embeddings one finite row per image / caption with equal
dimensions, option scores one finite number per option, generations one string per prompt. A violation raises
:class:`PluginOutputError` naming the plugin, the method, what was expected and what came back; the runner records
the cell as failed and goes on, so a NaN never turns into a plausible number (NaN embeddings ranked as R@1 = 100).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class PluginOutputError(ValueError):
    """A plugin returned something of the wrong shape, count or type, or a non-finite value."""


def check_call(mode: str, plugin: str, batch: Sequence[Any], result: Any) -> None:
    """Check ``result``, what a task strategy's call (``mode``: embed, score or generate) returned for ``batch``."""
    if mode == "embed":
        check_embeddings(plugin, batch, result)
    elif mode == "score":
        check_scores(plugin, batch, result)
    elif mode == "generate":
        check_generations(plugin, len(batch), result)


def _fail(plugin: str, method: str, message: str) -> PluginOutputError:
    return PluginOutputError(f"model plugin {plugin!r}: {method} {message}")


def as_matrix(plugin: str, method: str, value: Any, rows: int, what: str) -> np.ndarray:
    """``value`` (numpy array, torch tensor, nested lists) as a finite ``[rows, D]`` float64 matrix."""
    detach = getattr(value, "detach", None)
    try:
        array = detach().float().cpu().numpy() if detach is not None else np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _fail(plugin, method, f"returned {type(value).__name__}, not a numeric array ({exc}); "
                    f"expected shape ({rows}, D)") from None
    if array.ndim != 2 or array.shape[0] != rows or array.shape[1] < 1:
        raise _fail(plugin, method, f"returned shape {tuple(array.shape)} for {rows} {what}; "
                    f"expected ({rows}, D): one row per {what.rstrip('s')}")
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        row, col = (int(i) for i in bad[0])
        raise _fail(plugin, method, f"returned {array[row, col]} at [{row}, {col}] ({len(bad)} non-finite values); "
                    "expected finite embeddings")
    return array


def check_embeddings(plugin: str, batch: Sequence[Any], result: Any) -> None:
    images_out, texts_out = result
    captions = sum(len(item.captions) for item in batch)
    images = as_matrix(plugin, "embed_images", images_out, len(batch), "images")
    texts = as_matrix(plugin, "embed_texts", texts_out, captions, "captions")
    if images.shape[1] != texts.shape[1]:
        raise _fail(plugin, "embed_texts", f"returned dimension {texts.shape[1]}; expected {images.shape[1]}, "
                    "the dimension of embed_images (one shared space)")


def check_scores(plugin: str, batch: Sequence[Any], result: Any) -> None:
    if not isinstance(result, Sequence | np.ndarray) or len(result) != len(batch):
        got = f"{len(result)} score lists" if isinstance(result, Sequence | np.ndarray) else type(result).__name__
        raise _fail(plugin, "score_options", f"returned {got} for {len(batch)} items; expected one list per item")
    options = {len(item.options) for item in batch}
    if len(options) == 1 and _all_finite_rows(result, len(batch), options.pop()):
        return  # every item's scores at once; otherwise item by item, to name the first bad one
    for item, scores in zip(batch, result, strict=True):
        letters = list(item.options)
        try:
            values = np.asarray(scores, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise _fail(plugin, "score_options", f"returned {scores!r} for item {item.index}; expected "
                        f"{len(letters)} numbers") from None
        if values.size != len(letters):
            raise _fail(plugin, "score_options", f"returned {values.size} scores for item {item.index} "
                        f"({len(letters)} options {', '.join(letters)}); expected one score per option")
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise _fail(plugin, "score_options", f"returned {values[bad[0]]} for option {letters[bad[0]]} of item "
                        f"{item.index}; expected a finite score per option")


def _all_finite_rows(result: Any, rows: int, columns: int) -> bool:
    """Whether ``result`` converts to a finite float64 ``[rows, columns]`` matrix (row ``i`` is then what
    ``np.asarray(result[i], dtype=np.float64)`` gives for item ``i``: ``columns`` finite scores)."""
    try:
        values = np.asarray(result, dtype=np.float64)
    except Exception:  # anything the item-by-item check will name (or raise) itself
        return False
    return values.shape == (rows, columns) and bool(np.isfinite(values).all())


def check_generations(plugin: str, prompts: int, result: Any) -> None:
    if isinstance(result, str) or not isinstance(result, Sequence) or len(result) != prompts:
        got = f"{len(result)} texts" if isinstance(result, Sequence) and not isinstance(result, str) \
            else type(result).__name__
        raise _fail(plugin, "generate", f"returned {got} for {prompts} prompts; expected one string per prompt")
    for i, text in enumerate(result):
        if not isinstance(text, str):
            raise _fail(plugin, "generate", f"returned {type(text).__name__} at position {i}; expected a string")
