"""Scene rendering: a :class:`~vleval_corpus.scenes.Scene` to a 32x32 RGB image, natural or synthetic, and PNG bytes."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw

from vleval_corpus.assets import Assets, font_patch
from vleval_corpus.scenes import COLORS, IMAGE_SIZE, Scene

_SCALE = 4  # masks are drawn at 4x and box-filtered down (anti-aliasing)


def _rotated(points: list[tuple[float, float]], center: tuple[float, float], angle: float) -> list[tuple[float, float]]:
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    cx, cy = center
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in points]


def _mask(canvas: Image.Image) -> np.ndarray:
    small = canvas.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)[..., None] / 255.0


def _object_mask(scene: Scene, style: str, assets: Assets) -> np.ndarray:
    size = IMAGE_SIZE * _SCALE
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    center = (scene.center[0] * _SCALE, scene.center[1] * _SCALE)
    half = scene.size_px * _SCALE / 2
    if scene.kind == "digit":
        width = max(4, round(scene.size_px * _SCALE))
        natural = style == "natural"
        patch = assets.digit_patch(scene.digit_sample, width) if natural else font_patch(scene.label, width)
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


def render_scene(scene: Scene, style: str, assets: Assets) -> Image.Image:
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


def png(image: Image.Image) -> bytes:
    """``image`` encoded as PNG (Pillow's default settings)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
