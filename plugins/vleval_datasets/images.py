"""Image decoding for the dataset plugins: :func:`vleval.safeio.open_image` with uniform, file-naming errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vleval.api import MAX_IMAGE_PIXELS, UnsafeInputError, open_image
from vleval_datasets.errors import ImageDecodeError

if TYPE_CHECKING:
    from PIL.Image import Image


def decode_image(source: Path | bytes, max_pixels: int = MAX_IMAGE_PIXELS, label: str | None = None) -> Image:
    """Decode ``source`` to RGB via :func:`open_image`.

    Oversized images raise :class:`UnsafeInputError` (``open_image`` also converts Pillow's own bomb error); any other
    failure (missing, unreadable, truncated or corrupt data) raises :class:`ImageDecodeError` naming ``label``
    (default: the path).
    """
    name = label or (str(source) if isinstance(source, Path) else "<bytes>")
    try:
        return open_image(source, max_pixels=max_pixels)
    except UnsafeInputError as error:
        if label is None:
            raise
        raise UnsafeInputError(f"{label}: {error}") from None
    except Exception as error:  # Pillow raises OSError, SyntaxError, EOFError, struct.error... on broken files
        raise ImageDecodeError(f"{name}: cannot decode image: {type(error).__name__}: {error}") from None
