"""The sources the corpus is made from, all shipped by dependencies: sklearn's handwritten digits and sample photos,
and Pillow's default font; their SHA-256s go into the corpus manifest."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

from vleval_corpus.scenes import IMAGE_SIZE, Scene, stream_rng


def _sklearn_file(relative: str) -> Path | None:
    spec = importlib.util.find_spec("sklearn")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / relative
        if path.is_file():
            return path
    return None


def _load_digits() -> tuple[np.ndarray, np.ndarray, str]:
    """sklearn's 1797 handwritten 8x8 digits (values 0-16), their labels, and the source's SHA-256."""
    path = _sklearn_file("datasets/data/digits.csv.gz")
    if path is not None:
        raw = path.read_bytes()
        table = np.loadtxt(io.StringIO(gzip.decompress(raw).decode()), delimiter=",", dtype=np.float32)
        return table[:, :64].reshape(-1, 8, 8), table[:, 64].astype(np.int64), hashlib.sha256(raw).hexdigest()
    from sklearn.datasets import load_digits  # pragma: no cover - layout of an unusual sklearn install

    digits = load_digits()  # pragma: no cover
    images = digits.images.astype(np.float32)  # pragma: no cover
    return images, digits.target.astype(np.int64), hashlib.sha256(images.tobytes()).hexdigest()  # pragma: no cover


def _load_photo(name: str) -> tuple[Image.Image, str]:
    """An sklearn sample photo at half resolution, and the source's SHA-256."""
    path = _sklearn_file(f"datasets/images/{name}.jpg")
    if path is not None:
        raw = path.read_bytes()
        with Image.open(io.BytesIO(raw)) as image:
            photo = image.convert("RGB")
        digest = hashlib.sha256(raw).hexdigest()
    else:  # pragma: no cover - layout of an unusual sklearn install
        from sklearn.datasets import load_sample_image

        array = load_sample_image(f"{name}.jpg")
        photo, digest = Image.fromarray(array), hashlib.sha256(array.tobytes()).hexdigest()
    return photo.reduce(2), digest


class Assets:
    """The loaded sources for one seed: digit samples split into train/val/test ``pools``, and the ``photos``."""

    def __init__(self, seed: int) -> None:
        self.digits, labels, digits_hash = _load_digits()
        self._patches: dict[tuple[int, int], Image.Image] = {}
        self.photos: dict[str, Image.Image] = {}
        self.sources = {"digits.csv.gz": digits_hash}
        for name in ("china", "flower"):
            self.photos[name], self.sources[f"{name}.jpg"] = _load_photo(name)
        # Partition the digit samples into train/val/test pools, per digit class.
        order = stream_rng(seed, "digits").permutation(len(labels))
        cut1, cut2 = int(0.6 * len(order)), int(0.8 * len(order))
        self.pools: dict[str, list[np.ndarray]] = {}
        for split, members in (("train", order[:cut1]), ("val", order[cut1:cut2]), ("test", order[cut2:])):
            self.pools[split] = [np.sort(members[labels[members] == d]) for d in range(10)]

    def background(self, scene: Scene) -> np.ndarray:
        """The scene's photo crop, 32x32, desaturated and contrast-reduced (float32 RGB)."""
        x0, y0, width, flip = scene.crop
        patch = self.photos[scene.photo].resize(
            (IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR, box=(x0, y0, x0 + width, y0 + width)
        )
        if flip:
            patch = patch.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        array = np.asarray(patch, dtype=np.float32)
        gray = array.mean(axis=2, keepdims=True)
        array = gray + (array - gray) * scene.saturation
        mean = array.mean()
        return mean + (array - mean) * scene.contrast

    def digit_patch(self, sample: int, width: int) -> Image.Image:
        """Handwritten digit ``sample`` as a ``width``-pixel square greyscale mask (cached)."""
        key = (sample, width)
        if key not in self._patches:
            strokes = np.clip(self.digits[sample] / 12.0, 0.0, 1.0) * 255.0
            image = Image.fromarray(strokes.astype(np.uint8), "L")
            self._patches[key] = image.resize((width, width), Image.Resampling.BILINEAR)
        return self._patches[key]


@lru_cache(maxsize=256)
def font_patch(label: str, width: int) -> Image.Image:
    """``label`` typeset in Pillow's default font as a ``width``-pixel square greyscale mask (synthetic digits)."""
    patch = Image.new("L", (width, width), 0)
    if features.check("freetype2"):
        font = ImageFont.load_default(size=max(8, int(width * 0.95)))
        ImageDraw.Draw(patch).text(
            (width / 2, width / 2), label, fill=255, font=font, anchor="mm", stroke_width=max(1, width // 16),
            stroke_fill=255,
        )
    else:  # pragma: no cover - Pillow without FreeType: a scaled bitmap glyph
        small = Image.new("L", (8, 12), 0)
        ImageDraw.Draw(small).text((1, 0), label, fill=255)
        patch = small.resize((width, width), Image.Resampling.NEAREST)
    return patch
