"""The 15 ImageNet-C corruptions at severities 1-5, with numpy, scipy and Pillow (no OpenCV, ImageMagick, skimage).

Parameters are copied from the reference, ``ImageNet-C/create_c/make_imagenet_c.py`` in hendrycks/robustness
(commit e0377d4). Each function takes an RGB uint8 array ``[H, W, 3]``, a severity and a
``numpy.random.Generator`` (the item's: see :func:`vleval.api.item_rng`) and returns floats in ``[0, 255]``. How
each differs from the reference, beyond the random stream (a per-item generator instead of the global one), is in
``docs/shifts.md``: motion blur (and the snow streaks) emulate ImageMagick's MotionBlurImage; frost uses a
procedural texture instead of the six frost photographs; elastic's affine warp interpolates in floating point
where OpenCV uses 5-bit fixed point. Spatial parameters are in pixels, as in the reference (which corrupts
224 x 224 crops); images are corrupted at their own size.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage

from vleval_shifts.filters import clipped_zoom, disk, frost_texture, gaussian, motion_blur_array, plasma_fractal

CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
               "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
               "jpeg_compression")

# make_imagenet_c.py, `c = [...][severity - 1]` of each function (zoom_blur: np.arange(1, stop, step)).
PARAMS: dict[str, list] = {
    "gaussian_noise": [.08, .12, 0.18, 0.26, 0.38],
    "shot_noise": [60, 25, 12, 5, 3],
    "impulse_noise": [.03, .06, .09, 0.17, 0.27],
    "defocus_blur": [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)],
    "glass_blur": [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)],  # sigma, max_delta, iterations
    "motion_blur": [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)],  # radius, sigma
    "zoom_blur": [(1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)],
    "snow": [(0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7), (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
             (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65), (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)],
    "frost": [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)],
    "fog": [(1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)],
    "brightness": [.1, .2, .3, .4, .5],
    "contrast": [0.4, .3, .2, .1, .05],
    "elastic_transform": [(244 * 2, 244 * 0.7, 244 * 0.1), (244 * 2, 244 * 0.08, 244 * 0.2),
                          (244 * 0.05, 244 * 0.01, 244 * 0.02), (244 * 0.07, 244 * 0.01, 244 * 0.02),
                          (244 * 0.12, 244 * 0.01, 244 * 0.02)],
    "pixelate": [0.6, 0.5, 0.4, 0.3, 0.25],
    "jpeg_compression": [25, 18, 15, 10, 7],
}


def gaussian_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = PARAMS["gaussian_noise"][severity - 1]
    x = x / 255.0
    return np.clip(x + rng.normal(size=x.shape, scale=c), 0, 1) * 255


def shot_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = PARAMS["shot_noise"][severity - 1]
    x = x / 255.0
    return np.clip(rng.poisson(x * c) / c, 0, 1) * 255


def impulse_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """skimage.util.random_noise(mode='s&p', amount=c): each value flipped with probability c, half to 1, half
    to 0."""
    c = PARAMS["impulse_noise"][severity - 1]
    out = x / 255.0
    flipped = rng.random(x.shape) <= c  # skimage's _bernoulli
    salted = rng.random(x.shape) <= 0.5
    out[flipped & salted] = 1
    out[flipped & ~salted] = 0
    return np.clip(out, 0, 1) * 255


def defocus_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = PARAMS["defocus_blur"][severity - 1]
    kernel = disk(c[0], c[1])
    x = x / 255.0
    out = np.stack([ndimage.correlate(x[:, :, d], kernel, mode="mirror") for d in range(3)], axis=2)
    return np.clip(out, 0, 1) * 255


def glass_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """As the reference, whose tuple "swap" of numpy views copies pixel (h', w') onto (h, w) and leaves (h', w')
    unchanged: reproduced as such."""
    sigma, delta, iterations = PARAMS["glass_blur"][severity - 1]
    x = np.uint8(gaussian(x / 255.0, sigma) * 255)
    h, w = x.shape[:2]
    rows, cols = list(range(h - delta, delta, -1)), list(range(w - delta, delta, -1))
    source = list(range(h * w))  # source[p]: the pixel whose value is now at flat position p
    for _ in range(iterations):
        offsets = rng.integers(-delta, delta, size=(len(rows), len(cols), 2)).tolist()
        for a, row in enumerate(rows):
            for b, col in enumerate(cols):
                dx, dy = offsets[a][b]
                source[row * w + col] = source[(row + dy) * w + col + dx]
    x = x.reshape(h * w, -1)[np.asarray(source)].reshape(h, w, -1)
    return np.clip(gaussian(x / 255.0, sigma), 0, 1) * 255


def motion_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    radius, sigma = PARAMS["motion_blur"][severity - 1]
    out = motion_blur_array(x, radius, sigma, rng.uniform(-45, 45))
    return np.clip(np.round(out), 0, 255)  # ImageMagick returns 8-bit pixels


def zoom_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    stop, step = PARAMS["zoom_blur"][severity - 1]
    factors = np.arange(1, stop, step)
    x = (x / 255.0).astype(np.float32)
    out = np.zeros_like(x)
    for factor in factors:
        out += clipped_zoom(x, factor)
    return np.clip((x + out) / (len(factors) + 1), 0, 1) * 255


def snow(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = PARAMS["snow"][severity - 1]
    x = x.astype(np.float32) / 255.0
    layer = rng.normal(size=x.shape[:2], loc=c[0], scale=c[1])
    layer = clipped_zoom(layer[..., np.newaxis], c[2])
    layer[layer < c[3]] = 0
    layer = (np.clip(layer.squeeze(-1), 0, 1) * 255).astype(np.uint8)
    layer = np.clip(np.round(motion_blur_array(layer, c[4], c[5], rng.uniform(-135, -45))), 0, 255) / 255.0
    layer = layer[..., np.newaxis]
    gray = (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])[..., np.newaxis]  # cv2 RGB2GRAY
    x = c[6] * x + (1 - c[6]) * np.maximum(x, gray * 1.5 + 0.5)
    return np.clip(x + layer + np.rot90(layer, k=2), 0, 1) * 255


def frost(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = PARAMS["frost"][severity - 1]
    return np.clip(c[0] * x.astype(np.float64) + c[1] * frost_texture(x.shape[:2], rng), 0, 255)


def fog(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = PARAMS["fog"][severity - 1]
    h, w = x.shape[:2]
    x = x / 255.0
    max_val = x.max()
    size = 1 << (max(h, w) - 1).bit_length()  # 256 for the reference's 224 x 224
    x = x + c[0] * plasma_fractal(rng, size, c[1])[:h, :w][..., np.newaxis]
    return np.clip(x * max_val / (max_val + c[0]), 0, 1) * 255


def brightness(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """V + c in HSV (skimage rgb2hsv/hsv2rgb): with hue and saturation fixed, RGB scales by V'/V (grey V' where
    V = 0, whose saturation is 0)."""
    c = PARAMS["brightness"][severity - 1]
    x = x / 255.0
    v = x.max(axis=2, keepdims=True)
    v_new = np.clip(v + c, 0, 1)
    scaled = np.where(v > 0, x * v_new / np.where(v > 0, v, 1), v_new)
    return np.clip(scaled, 0, 1) * 255


def contrast(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = PARAMS["contrast"][severity - 1]
    x = x / 255.0
    means = np.mean(x, axis=(0, 1), keepdims=True)
    return np.clip((x - means) * c + means, 0, 1) * 255


def elastic_transform(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = PARAMS["elastic_transform"][severity - 1]
    image = x.astype(np.float32) / 255.0
    shape = image.shape
    center, square = np.float32(shape[:2]) // 2, min(shape[:2]) // 3
    pts1 = np.float32([center + square, [center[0] + square, center[1] - square], center - square])
    pts2 = pts1 + rng.uniform(-c[2], c[2], size=pts1.shape).astype(np.float32)
    # cv2.getAffineTransform(pts1, pts2) maps (x, y) points; warpAffine samples src at the inverse map
    # (bilinear, BORDER_REFLECT_101 = scipy's mirror).
    affine = np.linalg.solve(np.c_[pts1, np.ones(3)], pts2).T  # 2 x 3: [x', y'] = A @ [x, y, 1]
    inverse = np.linalg.inv(np.vstack([affine, [0, 0, 1]]))[:2]
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    src_x = inverse[0, 0] * cols + inverse[0, 1] * rows + inverse[0, 2]
    src_y = inverse[1, 0] * cols + inverse[1, 1] * rows + inverse[1, 2]
    image = np.stack([ndimage.map_coordinates(image[..., d], [src_y, src_x], order=1, mode="mirror")
                      for d in range(shape[2])], axis=2)
    dx = (gaussian(rng.uniform(-1, 1, size=shape[:2]), c[1], mode="reflect", truncate=3) * c[0]).astype(np.float32)
    dy = (gaussian(rng.uniform(-1, 1, size=shape[:2]), c[1], mode="reflect", truncate=3) * c[0]).astype(np.float32)
    xs, ys, zs = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
    indices = (ys + dy[..., np.newaxis]).reshape(-1), (xs + dx[..., np.newaxis]).reshape(-1), zs.reshape(-1)
    out = ndimage.map_coordinates(image, indices, order=1, mode="reflect").reshape(shape)
    return np.clip(out, 0, 1) * 255


def pixelate(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = PARAMS["pixelate"][severity - 1]
    h, w = x.shape[:2]
    small = Image.fromarray(x).resize((max(1, int(w * c)), max(1, int(h * c))), Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.BOX), dtype=np.float64)


def jpeg_compression(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = PARAMS["jpeg_compression"][severity - 1]
    buffer = io.BytesIO()
    Image.fromarray(x).save(buffer, "JPEG", quality=c)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float64)


FUNCTIONS = {name: globals()[name] for name in CORRUPTIONS}


def corrupt(image: Image.Image, corruption: str, severity: int, rng: np.random.Generator) -> Image.Image:
    """``image`` with ``corruption`` at ``severity`` (RGB; rounded down to uint8 as the reference saves it)."""
    x = np.asarray(image.convert("RGB"), dtype=np.uint8)
    out = FUNCTIONS[corruption](x.copy(), severity, rng)
    return Image.fromarray(np.uint8(np.clip(out, 0, 255)))
