"""Guarded file access for dataset plugins: no path traversal, no decompression bombs."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

#: Largest image accepted, in pixels (about 8K x 8K). Larger files are refused before decoding.
MAX_IMAGE_PIXELS = 64_000_000


class UnsafeInputError(ValueError):
    """A dataset file tried to escape its root or to decode into an oversized image."""


def safe_join(root: str | Path, relative: str) -> Path:
    """``root / relative``, refusing absolute paths and any path that resolves outside ``root``.

    Symbolic links are followed and their target must stay inside ``root`` too, with one exception: in a Hugging
    Face cache snapshot (``<repo>/snapshots/<revision>/...``, files linked into ``<repo>/blobs/``), a target inside
    that repository's folder is allowed, so a dataset downloaded with ``hf download`` reads as it is laid out.
    """
    root_path = Path(root).resolve()
    if Path(relative).is_absolute():
        raise UnsafeInputError(f"absolute path {relative!r} not allowed inside dataset root {root_path}")
    lexical = Path(os.path.normpath(root_path / relative))
    if not lexical.is_relative_to(root_path):
        raise UnsafeInputError(f"path {relative!r} escapes the dataset root {root_path}")
    path = lexical.resolve()
    if not any(path.is_relative_to(allowed) for allowed in (root_path, *_hf_cache_repo(root_path))):
        raise UnsafeInputError(f"path {relative!r} escapes the dataset root {root_path} (it links to {path})")
    return path


def _hf_cache_repo(root: Path) -> tuple[Path, ...]:
    """The repository folder of a Hugging Face cache snapshot that ``root`` lies in (it holds ``blobs/``), if any."""
    for parent in (root, *root.parents):
        if parent.parent.name == "snapshots" and (parent.parent.parent / "blobs").is_dir():
            return (parent.parent.parent,)
    return ()


def open_image(source: str | Path | bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> Image:
    """Decode an image file or bytes to RGB, refusing images over ``max_pixels`` before their pixels are decoded."""
    from PIL import Image

    stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    with stream:
        try:
            image = Image.open(stream)
            width, height = image.size
            if width * height > max_pixels:
                raise UnsafeInputError(f"image {name} is {width}x{height} pixels, over the limit of {max_pixels} "
                                       "(possible decompression bomb)")
            image.load()
        except Image.DecompressionBombError as exc:  # Pillow's own, far higher limit
            raise UnsafeInputError(f"image {name}: {exc}") from None
        return image.convert("RGB")


def hash_files(paths: Iterable[str | Path], chunk: int = 1 << 20) -> str:
    """SHA-256 over the names and bytes of ``paths`` (in the given order)."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
    return digest.hexdigest()
