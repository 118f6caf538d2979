"""A small offline corpus in the exact formats of Flickr30K/MSCOCO (Karpathy JSON) and MMBench (TSV).

:func:`ensure_corpus` generates it once per seed, deterministically, from data the dependencies ship (scikit-learn's
handwritten digits and its two sample photos ``china.jpg``/``flower.jpg``) plus Pillow drawing. Read it with the
``karpathy`` and ``mmbench`` datasets. Layout under the corpus root::

    corpus.json                                 manifest (format, version, seed, sizes, source hashes)
    mini-flickr30k/dataset_flickr30k.json       Karpathy JSON; images in mini-flickr30k/images/
    mini-mscoco/dataset_coco.json               Karpathy JSON (COCO layout, filepath train2014|val2014, cocoid);
                                                images in mini-mscoco/images/<filepath>/
    mini-mmbench-natural.tsv                    MMBench TSV, 4 circular rotations per question
    mini-mmbench-synthetic.tsv                  the same questions and scenes, rendered clean and flat
    mini-mmbench-natural-val.tsv                other scenes (held-out digit samples), for calibration

**Scenes** (32x32 RGB PNG): one object, either a shape from :data:`SHAPES` or a handwritten digit from
:data:`DIGITS`, in a colour from :data:`COLORS`, at one of the nine :data:`POSITIONS` (a 3x3 grid), of a size from
:data:`SIZES`, with a few small grey distractor specks or strokes over a background.

**Styles.** *natural*: a desaturated, low-contrast crop of a real photo, handwritten digit strokes (sklearn digits),
colour jitter, gamma/brightness variation and pixel noise. *synthetic*: the same scene on a flat background (the mean
colour of the natural crop), exact palette colours, digits typeset in Pillow's default font, no noise.

**Domains.** mini-flickr30k: china.jpg backgrounds, mostly large objects, 35% digits, uniform colours, 0-1
distractor, Flickr-style captions (``"A red circle in the top left corner."``). mini-mscoco: flower.jpg
backgrounds, mostly small objects, 50% digits, skewed colour frequencies, 1-3 distractors, COCO-style captions
(``"there is a small circle that is red near the upper left"``). Both use the same attribute words (colours, shape
names, ``digit``/``number`` + numeral); the position phrases differ (:data:`FLICKR_POSITION_PHRASES`,
:data:`COCO_POSITION_PHRASES`). Every caption names the colour, the object and the position; some name the size.

**MMBench questions** (:data:`QUESTION_TEMPLATES`): category ``color`` (l2 ``attribute_recognition``), ``shape``
(``object_recognition``), ``digit`` (``ocr``) and ``position`` (``spatial_reasoning``). Options are words of the
vocabulary: colour names, shape names, digits ``"0"``-``"9"`` and position names such as ``"top left"``; an
image-text model can answer by scoring the image against each option. Rotation ``r`` of base question ``b`` has
index ``b + r * 1_000_000`` and options shifted by ``r``; its ``image`` field is ``b`` (a reference to the first
rotation's image, as in the released MMBench files).

Digit samples are partitioned (by the seed) into train/val/test pools: Karpathy train splits use the train pool,
val splits and the natural-val TSV the val pool, test splits and the natural/synthetic TSVs the test pool.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import math
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

from vleval_datasets.errors import CorpusError

CORPUS_FORMAT = "vleval-mini-corpus"
CORPUS_VERSION = 1
IMAGE_SIZE = 32
#: Palette: colour name -> RGB.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 230),
    "yellow": (240, 215, 40),
    "purple": (150, 60, 200),
    "orange": (250, 140, 30),
}
SHAPES = ("circle", "square", "triangle", "cross")
DIGITS = tuple("0123456789")
#: Position name -> object centre as fractions of the image width and height.
POSITIONS: dict[str, tuple[float, float]] = {
    "top left": (0.25, 0.25),
    "top": (0.5, 0.25),
    "top right": (0.75, 0.25),
    "left": (0.25, 0.5),
    "center": (0.5, 0.5),
    "right": (0.75, 0.5),
    "bottom left": (0.25, 0.75),
    "bottom": (0.5, 0.75),
    "bottom right": (0.75, 0.75),
}
SIZES = ("small", "large")
#: Object size range in pixels (of the 32-pixel image) per size word.
SIZE_PIXELS: dict[str, tuple[float, float]] = {"small": (8.0, 10.0), "large": (12.0, 15.0)}
#: MMBench category -> l2-category.
CATEGORIES: dict[str, str] = {
    "color": "attribute_recognition",
    "shape": "object_recognition",
    "digit": "ocr",
    "position": "spatial_reasoning",
}
#: Option vocabulary per MMBench category.
OPTION_VALUES: dict[str, tuple[str, ...]] = {
    "color": tuple(COLORS),
    "shape": SHAPES,
    "digit": DIGITS,
    "position": tuple(POSITIONS),
}
QUESTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "color": ("What color is the {noun}?", "What is the color of the {noun} in the image?"),
    "shape": ("Which shape is shown in the image?", "What shape is the colored object?"),
    "digit": ("Which digit is written in the image?", "What number is shown in the image?"),
    "position": ("Where is the {color} {noun} located in the image?", "In which part of the image is the {noun}?"),
}
MMBENCH_HINT = "The image shows one colored shape or digit on a background."
OPTION_LETTERS = ("A", "B", "C", "D")
ROTATION_STRIDE = 1_000_000

FLICKR_POSITION_PHRASES: dict[str, tuple[str, ...]] = {
    "top left": ("in the top left corner", "at the top left"),
    "top": ("at the top", "near the top edge"),
    "top right": ("in the top right corner", "at the top right"),
    "left": ("on the left", "on the left side"),
    "center": ("in the center", "in the middle"),
    "right": ("on the right", "on the right side"),
    "bottom left": ("in the bottom left corner", "at the bottom left"),
    "bottom": ("at the bottom", "near the bottom edge"),
    "bottom right": ("in the bottom right corner", "at the bottom right"),
}
COCO_POSITION_PHRASES: dict[str, tuple[str, ...]] = {
    "top left": ("near the upper left", "in the top left of the picture"),
    "top": ("near the top of the picture", "up at the top"),
    "top right": ("near the upper right", "in the top right of the picture"),
    "left": ("toward the left", "on the left of the picture"),
    "center": ("in the middle of the picture", "near the center"),
    "right": ("toward the right", "on the right of the picture"),
    "bottom left": ("near the lower left", "in the bottom left of the picture"),
    "bottom": ("near the bottom of the picture", "down at the bottom"),
    "bottom right": ("near the lower right", "in the bottom right of the picture"),
}
FLICKR_TEMPLATES = (
    "{A_color} {obj} {pos}.",
    "{A_size} {color} {obj} {pos}.",
    "{Color} {obj} {pos}.",
    "The image shows {a_color} {obj} {pos}.",
    "{A_color} {obj} {pos} on a textured background.",
    "{A_size} {color} {obj} is {pos}.",
    "There is {a_color} {obj} {pos} of the photo.",
)
COCO_TEMPLATES = (
    "there is {a_size} {obj} that is {color} {pos}",
    "{a_size} {color} {obj} {pos}",
    "a picture of {a_color} {obj} {pos}",
    "{pos} there is {a_color} {obj}",
    "an image with {a_color} {obj} {pos} and some clutter",
    "{a_color} {obj} can be seen {pos}",
    "the {obj} {pos} is {color}",
)
FLICKR_DIGIT_NOUNS = ("digit {d}", "handwritten digit {d}", "number {d}")
COCO_DIGIT_NOUNS = ("number {d}", "digit {d}", "handwritten number {d}")
FLICKR_SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small",), "large": ("large", "big")}
COCO_SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small", "tiny"), "large": ("large", "big")}
CAPTIONS_PER_IMAGE = 5

#: Images per split.
FLICKR_SPLITS: dict[str, int] = {"train": 1600, "val": 200, "test": 200}
COCO_SPLITS: dict[str, int] = {"train": 400, "val": 100, "test": 200}
#: Base questions (each written as 4 rotations) in the natural/synthetic TSVs and in the natural-val TSV.
MMBENCH_QUESTIONS = 150
MMBENCH_VAL_QUESTIONS = 100

#: Called as ``progress(stage, done, total)`` while generating.
Progress = Callable[[str, int, int], None]

_MANIFEST = "corpus.json"
_TSV_COLUMNS = (
    "index", "question", "hint", "A", "B", "C", "D", "answer", "category", "l2-category", "image",
    "source", "comment", "split",
)
_STREAMS = {"digits": 0, "flickr": 1, "coco": 2, "mmbench": 3, "mmbench-val": 4}


@dataclass(frozen=True)
class CorpusPaths:
    """Where the files of a generated corpus lie."""

    root: Path
    flickr_annotations: Path
    flickr_images: Path
    coco_annotations: Path
    coco_images: Path
    mmbench_natural: Path
    mmbench_synthetic: Path
    mmbench_natural_val: Path

    @classmethod
    def at(cls, root: str | Path) -> CorpusPaths:
        """The corpus layout under ``root`` (whether or not it exists)."""
        root = Path(root)
        return cls(
            root=root,
            flickr_annotations=root / "mini-flickr30k" / "dataset_flickr30k.json",
            flickr_images=root / "mini-flickr30k" / "images",
            coco_annotations=root / "mini-mscoco" / "dataset_coco.json",
            coco_images=root / "mini-mscoco" / "images",
            mmbench_natural=root / "mini-mmbench-natural.tsv",
            mmbench_synthetic=root / "mini-mmbench-synthetic.tsv",
            mmbench_natural_val=root / "mini-mmbench-natural-val.tsv",
        )


def default_corpus_dir(seed: int = 0, cache_dir: str | Path | None = None) -> Path:
    """``<cache_dir or $VLEVAL_CACHE or ~/.cache/vleval>/corpus-v1-seed<seed>``."""
    base = cache_dir or os.environ.get("VLEVAL_CACHE") or Path.home() / ".cache" / "vleval"
    return Path(base).expanduser() / f"corpus-v{CORPUS_VERSION}-seed{int(seed)}"


def ensure_corpus(root: str | Path | None = None, seed: int = 0, progress: Progress | None = None) -> CorpusPaths:
    """Generate the corpus for ``seed`` into ``root`` unless it is already there; return its paths.

    ``root`` is the corpus directory itself (default :func:`default_corpus_dir`); it must not exist, be empty, or
    hold a complete corpus of the same seed and version. Generation writes a sibling temporary directory and
    renames it into place, so an interrupted run never leaves a partial corpus at ``root``.
    """
    seed = int(seed)
    root = Path(root).expanduser() if root is not None else default_corpus_dir(seed)
    if _is_complete(root, seed):
        return CorpusPaths.at(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise CorpusError(f"{root} exists but is not a complete vleval corpus for seed {seed}; remove it or pick "
                          "another directory")
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(root)
    staging = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
        _generate(staging, seed, progress)
        try:
            os.rename(staging, root)  # atomic; replaces an empty directory
        except OSError:
            if not _is_complete(root, seed):  # another process may have won the race
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return CorpusPaths.at(root)


def _remove_stale_staging(root: Path, min_age_s: float = 600.0) -> None:
    """Delete staging directories of ``root`` left by generations killed at least ``min_age_s`` ago."""
    now = time.time()
    for staging in root.parent.glob(f".{root.name}.tmp-*-*"):
        try:
            pid = int(staging.name.rsplit("-", 2)[1])
            if now - staging.stat().st_mtime < min_age_s:
                continue
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(staging, ignore_errors=True)
        except (ValueError, OSError):
            continue


def _is_complete(root: Path, seed: int) -> bool:
    manifest = root / _MANIFEST
    if not manifest.is_file():
        return False
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if data.get("format") != CORPUS_FORMAT or data.get("version") != CORPUS_VERSION:
        return False
    if data.get("seed") != seed:
        raise CorpusError(f"{root} holds the corpus for seed {data.get('seed')}, not seed {seed}")
    paths = CorpusPaths.at(root)
    return all(p.exists() for p in (paths.flickr_annotations, paths.coco_annotations, paths.mmbench_natural,
                                    paths.mmbench_synthetic, paths.mmbench_natural_val))


# --------------------------------------------------------------------------------------------------- sources


def _sklearn_file(relative: str) -> Path | None:
    import importlib.util

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


class _Assets:
    def __init__(self, seed: int) -> None:
        self.digits, labels, digits_hash = _load_digits()
        self._patches: dict[tuple[int, int], Image.Image] = {}
        self.photos: dict[str, Image.Image] = {}
        self.sources = {"digits.csv.gz": digits_hash}
        for name in ("china", "flower"):
            self.photos[name], self.sources[f"{name}.jpg"] = _load_photo(name)
        # Partition the digit samples into train/val/test pools, per digit class.
        order = _rng(seed, "digits").permutation(len(labels))
        cut1, cut2 = int(0.6 * len(order)), int(0.8 * len(order))
        self.pools: dict[str, list[np.ndarray]] = {}
        for split, members in (("train", order[:cut1]), ("val", order[cut1:cut2]), ("test", order[cut2:])):
            self.pools[split] = [np.sort(members[labels[members] == d]) for d in range(10)]

    def background(self, scene: Scene) -> np.ndarray:
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
def _font_patch(label: str, width: int) -> Image.Image:
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


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAMS[stream], CORPUS_VERSION]))


# --------------------------------------------------------------------------------------------------- scenes


@dataclass(frozen=True)
class Scene:
    """Everything needed to render one image in either style."""

    kind: str  # "shape" or "digit"
    label: str  # shape name or digit character
    color: str
    position: str
    size: str
    size_px: float
    center: tuple[float, float]
    angle: float
    digit_sample: int  # row of the sklearn digits, -1 for shapes
    rgb: tuple[float, float, float]  # jittered colour used by the natural style
    distractors: tuple[tuple[float, float, float, float, int], ...]  # x, y, extent, angle, kind (0 dot, 1 stroke)
    distractor_gray: float
    photo: str
    crop: tuple[int, int, int, bool]  # x0, y0, width, horizontal flip
    saturation: float
    contrast: float
    gamma: float
    brightness: float
    noise: float
    noise_seed: int


@dataclass(frozen=True)
class _Profile:
    photo: str
    digit_prob: float
    color_weights: tuple[float, ...]
    large_prob: float
    distractors: tuple[int, int]


_UNIFORM = tuple(1.0 / len(COLORS) for _ in COLORS)
_FLICKR = _Profile("china", 0.35, _UNIFORM, 0.75, (0, 1))
_COCO = _Profile("flower", 0.5, (0.28, 0.07, 0.25, 0.07, 0.25, 0.08), 0.2, (1, 3))
_MMBENCH = _Profile("china", 0.4, _UNIFORM, 0.6, (0, 1))


def _sample_scene(rng: np.random.Generator, profile: _Profile, assets: _Assets, pool: str,
                  kind: str | None = None) -> Scene:
    if kind is None:
        kind = "digit" if rng.random() < profile.digit_prob else "shape"
    color = list(COLORS)[rng.choice(len(COLORS), p=profile.color_weights)]
    position = list(POSITIONS)[rng.integers(len(POSITIONS))]
    size = "large" if rng.random() < profile.large_prob else "small"
    size_px = float(rng.uniform(*SIZE_PIXELS[size]))
    if kind == "digit":
        digit = int(rng.integers(10))
        members = assets.pools[pool][digit]
        label, sample = str(digit), int(members[rng.integers(len(members))])
    else:
        label, sample = SHAPES[rng.integers(len(SHAPES))], -1
    fx, fy = POSITIONS[position]
    cx = fx * IMAGE_SIZE + float(rng.uniform(-1.5, 1.5))
    cy = fy * IMAGE_SIZE + float(rng.uniform(-1.5, 1.5))
    angle = float(rng.uniform(-15, 15))
    rgb = tuple(float(v) for v in np.clip(np.array(COLORS[color]) + rng.normal(0, 10, 3), 0, 255))
    distractors = []
    for _ in range(int(rng.integers(profile.distractors[0], profile.distractors[1] + 1))):
        for _attempt in range(10):
            x, y = (float(v) for v in rng.uniform(2, IMAGE_SIZE - 2, 2))
            if math.hypot(x - cx, y - cy) > size_px / 2 + 3:
                break
        dkind = int(rng.integers(2))
        extent = float(rng.uniform(1.0, 1.8) if dkind == 0 else rng.uniform(3.0, 6.0))
        distractors.append((x, y, extent, float(rng.uniform(0, 180)), dkind))
    photo = assets.photos[profile.photo]
    width = int(rng.integers(32, 97))
    crop = (int(rng.integers(photo.width - width + 1)), int(rng.integers(photo.height - width + 1)), width,
            bool(rng.random() < 0.5))
    return Scene(
        kind=kind, label=label, color=color, position=position, size=size, size_px=size_px, center=(cx, cy),
        angle=angle, digit_sample=sample, rgb=rgb,  # type: ignore[arg-type]
        distractors=tuple(distractors), distractor_gray=float(rng.uniform(50, 210)), photo=profile.photo,
        crop=crop, saturation=float(rng.uniform(0.3, 0.6)), contrast=float(rng.uniform(0.5, 0.8)),
        gamma=float(rng.uniform(0.8, 1.25)), brightness=float(rng.uniform(0.85, 1.15)),
        noise=float(rng.uniform(2.0, 6.0)), noise_seed=int(rng.integers(2**31)),
    )


_SCALE = 4  # masks are drawn at 4x and box-filtered down (anti-aliasing)


def _rotated(points: list[tuple[float, float]], center: tuple[float, float], angle: float) -> list[tuple[float, float]]:
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    cx, cy = center
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in points]


def _mask(canvas: Image.Image) -> np.ndarray:
    small = canvas.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)[..., None] / 255.0


def _object_mask(scene: Scene, style: str, assets: _Assets) -> np.ndarray:
    size = IMAGE_SIZE * _SCALE
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    center = (scene.center[0] * _SCALE, scene.center[1] * _SCALE)
    half = scene.size_px * _SCALE / 2
    if scene.kind == "digit":
        width = max(4, round(scene.size_px * _SCALE))
        natural = style == "natural"
        patch = assets.digit_patch(scene.digit_sample, width) if natural else _font_patch(scene.label, width)
        patch = patch.rotate(scene.angle, resample=Image.Resampling.BILINEAR)
        canvas.paste(patch, (round(center[0] - width / 2), round(center[1] - width / 2)))
    elif scene.label == "circle":
        draw.ellipse((center[0] - half, center[1] - half, center[0] + half, center[1] + half), fill=255)
    elif scene.label == "square":
        s = half * 0.85
        draw.polygon(_rotated([(-s, -s), (s, -s), (s, s), (-s, s)], center, scene.angle), fill=255)
    elif scene.label == "triangle":
        points = [(half * math.cos(a), half * math.sin(a) + half * 0.15) for a in (-math.pi / 2, math.pi / 6,
                                                                                  5 * math.pi / 6)]
        draw.polygon(_rotated(points, center, scene.angle), fill=255)
    else:  # cross
        t = half * 0.36
        for points in ([(-half, -t), (half, -t), (half, t), (-half, t)], [(-t, -half), (t, -half), (t, half),
                                                                            (-t, half)]):
            draw.polygon(_rotated(points, center, scene.angle), fill=255)
    return _mask(canvas)


def _distractor_mask(scene: Scene) -> np.ndarray | None:
    if not scene.distractors:
        return None
    size = IMAGE_SIZE * _SCALE
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    for x, y, extent, angle, kind in scene.distractors:
        x, y, extent = x * _SCALE, y * _SCALE, extent * _SCALE
        if kind == 0:
            draw.ellipse((x - extent, y - extent, x + extent, y + extent), fill=255)
        else:
            dx, dy = extent * math.cos(math.radians(angle)), extent * math.sin(math.radians(angle))
            draw.line((x - dx, y - dy, x + dx, y + dy), fill=255, width=_SCALE)
    return _mask(canvas)


def render_scene(scene: Scene, style: str, assets: _Assets) -> Image.Image:
    """Render ``scene`` as a 32x32 RGB image in the ``"natural"`` or ``"synthetic"`` style."""
    background = assets.background(scene)
    if style == "synthetic":
        image = np.broadcast_to(background.mean(axis=(0, 1)), background.shape).copy()
    elif style == "natural":
        image = background
    else:
        raise ValueError(f"unknown style {style!r}; use 'natural' or 'synthetic'")
    distractors = _distractor_mask(scene)
    if distractors is not None:
        image = image * (1 - distractors) + scene.distractor_gray * distractors
    mask = _object_mask(scene, style, assets)
    color = np.array(scene.rgb if style == "natural" else COLORS[scene.color], dtype=np.float32)
    image = image * (1 - mask) + color * mask
    if style == "natural":
        image = 255.0 * np.clip(image / 255.0, 0, 1) ** scene.gamma * scene.brightness
        image = image + np.random.default_rng(scene.noise_seed).normal(0, scene.noise, image.shape)
    return Image.fromarray(np.clip(np.rint(image), 0, 255).astype(np.uint8), "RGB")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------- captions


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _caption(scene: Scene, rng: np.random.Generator, template: str, style: str) -> str:
    coco = style == "coco"
    nouns = COCO_DIGIT_NOUNS if coco else FLICKR_DIGIT_NOUNS
    obj = nouns[rng.integers(len(nouns))].format(d=scene.label) if scene.kind == "digit" else scene.label
    phrases = (COCO_POSITION_PHRASES if coco else FLICKR_POSITION_PHRASES)[scene.position]
    sizes = (COCO_SIZE_WORDS if coco else FLICKR_SIZE_WORDS)[scene.size]
    size = sizes[rng.integers(len(sizes))]
    fields = {
        "color": scene.color, "Color": scene.color.capitalize(), "obj": obj,
        "pos": phrases[rng.integers(len(phrases))], "size": size,
        "a_color": _article(scene.color), "A_color": _article(scene.color).capitalize(),
        "a_size": _article(size), "A_size": _article(size).capitalize(),
    }
    text = template.format(**fields)
    if coco:
        if rng.random() < 0.5:
            text = text[0].upper() + text[1:]
        if rng.random() < 0.3:
            text += "."
    return text


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def caption_vocabulary() -> list[str]:
    """Every word the generated captions can contain (lowercase tokens), sorted."""
    words: set[str] = set()
    for text in (*FLICKR_TEMPLATES, *COCO_TEMPLATES):
        words.update(_tokens(re.sub(r"\{[^}]*\}", " ", text)))
    for group in (FLICKR_POSITION_PHRASES, COCO_POSITION_PHRASES, FLICKR_SIZE_WORDS, COCO_SIZE_WORDS):
        for phrases in group.values():
            for phrase in phrases:
                words.update(_tokens(phrase))
    for noun in (*FLICKR_DIGIT_NOUNS, *COCO_DIGIT_NOUNS):
        words.update(_tokens(noun.format(d="")))
    words.update(COLORS, SHAPES, DIGITS, ("a", "an"))
    return sorted(words)


# --------------------------------------------------------------------------------------------------- writers


def _write_karpathy(
    directory: Path, assets: _Assets, rng: np.random.Generator, profile: _Profile, splits: dict[str, int],
    coco: bool, stage: str, progress: Progress | None,
) -> None:
    labels = np.array([split for split, count in splits.items() for _ in range(count)])
    labels = labels[rng.permutation(len(labels))]  # splits interleaved, as in the released files
    templates = COCO_TEMPLATES if coco else FLICKR_TEMPLATES
    images_dir = directory / "images"
    records: list[dict[str, Any]] = []
    sentid = 0
    for imgid, split in enumerate(labels.tolist()):
        scene = _sample_scene(rng, profile, assets, "train" if split in ("train", "restval") else split)
        chosen = rng.permutation(len(templates))[:CAPTIONS_PER_IMAGE]
        sentences = []
        for t in chosen.tolist():
            raw = _caption(scene, rng, templates[t], "coco" if coco else "flickr")
            sentences.append({"tokens": _tokens(raw), "raw": raw, "imgid": imgid, "sentid": sentid})
            sentid += 1
        sentids = [s["sentid"] for s in sentences]
        if coco:
            filepath = "train2014" if split == "train" else "val2014"
            cocoid = 100_003 + 7_919 * imgid
            filename = f"COCO_{filepath}_{cocoid:012d}.png"
            record = {"filepath": filepath, "sentids": sentids, "filename": filename, "imgid": imgid,
                      "split": split, "sentences": sentences, "cocoid": cocoid}
            target = images_dir / filepath / filename
        else:
            filename = f"{1_000_268_201 + 104_729 * imgid}.png"
            record = {"sentids": sentids, "imgid": imgid, "sentences": sentences, "split": split,
                      "filename": filename}
            target = images_dir / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_png(render_scene(scene, "natural", assets)))
        records.append(record)
        if progress is not None and (imgid + 1) % 250 == 0:
            progress(stage, imgid + 1, len(labels))
    name = "coco" if coco else "flickr30k"
    data = {"images": records, "dataset": f"mini-{'mscoco' if coco else name}"}
    (directory / f"dataset_{name}.json").write_text(json.dumps(data, separators=(", ", ": ")), encoding="utf-8")
    if progress is not None:
        progress(stage, len(labels), len(labels))


@dataclass(frozen=True)
class _Question:
    base: int
    category: str
    scene: Scene
    question: str
    hint: str
    options: tuple[str, ...]  # in base (rotation 0) order
    answer: int  # position of the right option in ``options``


def _sample_questions(rng: np.random.Generator, assets: _Assets, count: int, pool: str) -> list[_Question]:
    categories = list(CATEGORIES)
    questions = []
    for base in range(count):
        category = categories[base % len(categories)]
        kind = {"shape": "shape", "digit": "digit"}.get(category)
        scene = _sample_scene(rng, _MMBENCH, assets, pool, kind=kind)
        truth = {"color": scene.color, "shape": scene.label, "digit": scene.label, "position": scene.position}
        values = OPTION_VALUES[category]
        wrong = [v for v in values if v != truth[category]]
        picks = [wrong[i] for i in rng.choice(len(wrong), size=len(OPTION_LETTERS) - 1, replace=False)]
        options = [truth[category], *picks]
        order = rng.permutation(len(options))
        options = [options[i] for i in order]
        templates = QUESTION_TEMPLATES[category]
        noun = "digit" if scene.kind == "digit" else "shape"
        text = templates[rng.integers(len(templates))].format(noun=noun, color=scene.color)
        hint = MMBENCH_HINT if rng.random() < 0.3 else ""
        questions.append(_Question(base, category, scene, text, hint, tuple(options),
                                   options.index(truth[category])))
    return questions


def _write_tsv(path: Path, questions: list[_Question], style: str, assets: _Assets) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(_TSV_COLUMNS)
        n = len(OPTION_LETTERS)
        for q in questions:
            image = base64.b64encode(_png(render_scene(q.scene, style, assets))).decode("ascii")
            for r in range(n):
                options = [q.options[(i + r) % n] for i in range(n)]
                answer = OPTION_LETTERS[(q.answer - r) % n]
                writer.writerow([
                    q.base + r * ROTATION_STRIDE, q.question, q.hint, *options, answer, q.category,
                    CATEGORIES[q.category], image if r == 0 else str(q.base), "vleval-mini", "", "dev",
                ])


def _generate(directory: Path, seed: int, progress: Progress | None) -> None:
    assets = _Assets(seed)
    paths = CorpusPaths.at(directory)
    paths.flickr_images.mkdir(parents=True)
    paths.coco_images.mkdir(parents=True)
    _write_karpathy(paths.flickr_annotations.parent, assets, _rng(seed, "flickr"), _FLICKR, FLICKR_SPLITS,
                    False, "mini-flickr30k", progress)
    _write_karpathy(paths.coco_annotations.parent, assets, _rng(seed, "coco"), _COCO, COCO_SPLITS,
                    True, "mini-mscoco", progress)
    questions = _sample_questions(_rng(seed, "mmbench"), assets, MMBENCH_QUESTIONS, "test")
    _write_tsv(paths.mmbench_natural, questions, "natural", assets)
    _write_tsv(paths.mmbench_synthetic, questions, "synthetic", assets)
    val_questions = _sample_questions(_rng(seed, "mmbench-val"), assets, MMBENCH_VAL_QUESTIONS, "val")
    _write_tsv(paths.mmbench_natural_val, val_questions, "natural", assets)
    if progress is not None:
        progress("mini-mmbench", 1, 1)
    manifest = {
        "format": CORPUS_FORMAT, "version": CORPUS_VERSION, "seed": seed,
        "sizes": {"mini-flickr30k": FLICKR_SPLITS, "mini-mscoco": COCO_SPLITS,
                  "mini-mmbench": {"questions": MMBENCH_QUESTIONS, "rotations": len(OPTION_LETTERS)},
                  "mini-mmbench-val": {"questions": MMBENCH_VAL_QUESTIONS, "rotations": len(OPTION_LETTERS)}},
        "sources": assets.sources,
    }
    (directory / _MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
