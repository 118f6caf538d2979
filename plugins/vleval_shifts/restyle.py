"""Natural -> synthetic restyling of an image: flat-colour posterize, edge render, rendered-text overlay."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from scipy import ndimage

STYLES = ("posterize", "edges", "text-overlay")
WORDS = ("stop", "open", "exit", "sale", "cafe", "park", "hotel", "bus", "taxi", "north", "menu", "bank", "zoo",
         "free", "info", "gate", "wifi", "shop", "road", "ticket")


def posterize(image: Image.Image, colors: int) -> Image.Image:
    """Flat colour regions: a 3 x 3 median (removes texture and noise), then ``colors`` colours (median cut)."""
    flat = image.convert("RGB").filter(ImageFilter.MedianFilter(3))
    return flat.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert("RGB")


def edges(image: Image.Image, threshold: float) -> Image.Image:
    """A line drawing: dark lines where the Sobel gradient of the luminance exceeds ``threshold`` times its
    maximum, on white."""
    gray = np.asarray(image.convert("L"), dtype=np.float64)
    magnitude = np.hypot(ndimage.sobel(gray, axis=0, mode="nearest"), ndimage.sobel(gray, axis=1, mode="nearest"))
    peak = magnitude.max()
    lines = magnitude > threshold * peak if peak > 0 else np.zeros_like(gray, dtype=bool)
    out = np.where(lines, 0, 255).astype(np.uint8)
    return Image.fromarray(np.repeat(out[..., np.newaxis], 3, axis=2))


def text_overlay(image: Image.Image, count: int, rng: np.random.Generator) -> Image.Image:
    """``count`` short words (from a fixed list) rendered at random places, sizes and colours (Pillow's default
    font, on a contrasting box)."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    for _ in range(count):
        word = WORDS[int(rng.integers(len(WORDS)))]
        size = max(6, int(min(w, h) * rng.uniform(0.15, 0.3)))
        font = ImageFont.load_default(size=size)
        left, top, right, bottom = draw.textbbox((0, 0), word, font=font)
        x = int(rng.integers(0, max(1, w - (right - left))))
        y = int(rng.integers(0, max(1, h - (bottom - top))))
        ink = tuple(int(v) for v in rng.integers(0, 256, size=3))
        paper = tuple(255 - v for v in ink)
        draw.rectangle((x + left - 1, y + top - 1, x + right + 1, y + bottom + 1), fill=paper)
        draw.text((x, y), word, fill=ink, font=font)
    return out


def restyle(image: Image.Image, style: str, rng: np.random.Generator, *, colors: int = 6, threshold: float = 0.25,
            count: int = 2) -> Image.Image:
    if style == "posterize":
        return posterize(image, colors)
    if style == "edges":
        return edges(image, threshold)
    if style == "text-overlay":
        return text_overlay(image, count, rng)
    raise ValueError(f"unknown style {style!r}; expected one of {', '.join(STYLES)}")
