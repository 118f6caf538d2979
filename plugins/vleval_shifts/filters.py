"""The filters and textures the ImageNet-C corruptions are built from (numpy and scipy): skimage's Gaussian filter,
cv2's Gaussian kernel, the reference's anti-aliased disk, plasma fractal and clipped zoom, ImageMagick's motion blur,
and the procedural frost texture that stands in for the reference's frost photographs."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage


def gaussian(x: np.ndarray, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> np.ndarray:
    """skimage.filters.gaussian (per channel of an [H, W, C] array): scipy's filter, same defaults."""
    sigmas = (sigma, sigma, 0) if x.ndim == 3 else sigma
    return ndimage.gaussian_filter(x, sigmas, mode=mode, truncate=truncate)


def cv2_gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """cv2.getGaussianKernel(size, sigma) for sigma > 0."""
    i = np.arange(size) - (size - 1) / 2
    k = np.exp(-(i ** 2) / (2 * sigma ** 2))
    return k / k.sum()


def disk(radius: float, alias_blur: float) -> np.ndarray:
    """The reference's anti-aliased disk kernel (cv2.GaussianBlur's default border is scipy's ``mirror``)."""
    span, ksize = (8, 3) if radius <= 8 else (int(radius), 5)
    L = np.arange(-span, span + 1)
    X, Y = np.meshgrid(L, L)
    kernel = np.array(radius ** 2 >= X ** 2 + Y ** 2, dtype=np.float32)
    kernel /= kernel.sum()
    g = cv2_gaussian_kernel(ksize, alias_blur)
    kernel = ndimage.correlate1d(kernel, g, axis=0, mode="mirror")
    return ndimage.correlate1d(kernel, g, axis=1, mode="mirror")


def plasma_fractal(rng: np.random.Generator, mapsize: int = 256, wibbledecay: float = 3) -> np.ndarray:
    """The reference's diamond-square height map in [0, 1], ``mapsize`` a power of two."""
    assert mapsize & (mapsize - 1) == 0
    maparray = np.empty((mapsize, mapsize), dtype=np.float64)
    maparray[0, 0] = 0
    stepsize, wibble = mapsize, 100.0

    def wibbledmean(array: np.ndarray) -> np.ndarray:
        return array / 4 + wibble * rng.uniform(-wibble, wibble, array.shape)

    while stepsize >= 2:
        half = stepsize // 2
        corner = maparray[0:mapsize:stepsize, 0:mapsize:stepsize]
        square = corner + np.roll(corner, shift=-1, axis=0)
        square += np.roll(square, shift=-1, axis=1)
        maparray[half:mapsize:stepsize, half:mapsize:stepsize] = wibbledmean(square)
        dr = maparray[half:mapsize:stepsize, half:mapsize:stepsize]
        ul = maparray[0:mapsize:stepsize, 0:mapsize:stepsize]
        lt = dr + np.roll(dr, 1, axis=0) + ul + np.roll(ul, -1, axis=1)
        maparray[0:mapsize:stepsize, half:mapsize:stepsize] = wibbledmean(lt)
        tt = dr + np.roll(dr, 1, axis=1) + ul + np.roll(ul, -1, axis=0)
        maparray[half:mapsize:stepsize, 0:mapsize:stepsize] = wibbledmean(tt)
        stepsize //= 2
        wibble /= wibbledecay
    maparray -= maparray.min()
    return maparray / maparray.max()


def clipped_zoom(img: np.ndarray, zoom_factor: float) -> np.ndarray:
    """Zoom the centre of ``img`` by ``zoom_factor`` (bilinear) back to its size (the reference's, per axis)."""
    h, w = img.shape[:2]
    ch, cw = int(np.ceil(h / zoom_factor)), int(np.ceil(w / zoom_factor))
    top, left = (h - ch) // 2, (w - cw) // 2
    zoomed = ndimage.zoom(img[top:top + ch, left:left + cw], (zoom_factor, zoom_factor, 1), order=1)
    th, tw = (zoomed.shape[0] - h) // 2, (zoomed.shape[1] - w) // 2
    return zoomed[th:th + h, tw:tw + w]


def motion_blur_array(x: np.ndarray, radius: int, sigma: float, angle: float) -> np.ndarray:
    """ImageMagick's MotionBlurImage: a one-sided line kernel of width ``2 * radius + 1`` with Gaussian weights
    ``exp(-i^2 / 2 sigma^2)`` (normalised) along ``angle`` degrees; pixels outside repeat the edge."""
    width = 2 * int(radius) + 1
    kernel = np.exp(-(np.arange(width) ** 2) / (2 * sigma ** 2))
    kernel /= kernel.sum()
    px, py = width * math.sin(math.radians(angle)), width * math.cos(math.radians(angle))
    norm = math.hypot(px, py)
    h, w = x.shape[:2]
    pad = width
    padded = np.pad(x.astype(np.float64), [(pad, pad), (pad, pad)] + [(0, 0)] * (x.ndim - 2), mode="edge")
    out = np.zeros(x.shape, dtype=np.float64)
    for i in range(width):
        ox = math.ceil(i * py / norm - 0.5)
        oy = math.ceil(i * px / norm - 0.5)
        out += kernel[i] * padded[pad + oy:pad + oy + h, pad + ox:pad + ox + w]
    return out


def frost_texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A procedural stand-in for the reference's frost photographs (not redistributable here): ice needles (short
    bright strokes, blurred) over a plasma-fractal haze, pale blue-white, values in [0, 255], ``[H, W, 3]``."""
    h, w = shape
    size = 1 << (max(h, w, 2) - 1).bit_length()
    haze = plasma_fractal(rng, size, 1.8)[:h, :w]
    needles = np.zeros((h, w))
    for _ in range(max(8, h * w // 60)):
        y, x0 = rng.uniform(0, h), rng.uniform(0, w)
        angle, length = rng.uniform(0, np.pi), rng.uniform(2, max(3.0, min(h, w) / 6))
        t = np.linspace(0, length, int(length * 2) + 2)
        ys = np.clip((y + t * np.sin(angle)).astype(int), 0, h - 1)
        xs = np.clip((x0 + t * np.cos(angle)).astype(int), 0, w - 1)
        needles[ys, xs] = np.maximum(needles[ys, xs], rng.uniform(0.5, 1.0))
    needles = np.clip(ndimage.gaussian_filter(needles, 0.6) * 2.5, 0, 1)
    intensity = np.clip(0.35 + 0.35 * haze + 0.6 * needles, 0, 1)
    tint = np.array([0.86, 0.93, 1.0])  # frost on glass: blue-white
    return intensity[..., np.newaxis] * tint * 255
