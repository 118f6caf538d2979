"""Write a small ``example-folder`` directory of colour swatches, so the plugin can be tried without any download.

    python -m vleval_example.swatches /tmp/plain                      # solid swatches
    python -m vleval_example.swatches /tmp/striped --style striped    # the same colours as stripes on white
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (210, 40, 35), "orange": (235, 135, 30), "yellow": (225, 215, 40), "green": (40, 160, 50),
    "cyan": (40, 200, 205), "blue": (40, 70, 210), "purple": (135, 50, 170), "pink": (235, 135, 185),
    "brown": (125, 80, 45), "black": (20, 20, 20),
}
CAPTIONS = {
    "plain": ("a {c} swatch", "plain {c}", "a solid {c} square", "something {c}", "the colour {c}"),
    "striped": ("{c} and white stripes", "a striped {c} pattern", "{c} stripes on white", "lines of {c}",
                "a stripy {c} square"),
}


def swatch(rgb: tuple[int, int, int], style: str, rng: np.random.Generator, size: int = 32) -> Image.Image:
    """One ``size`` x ``size`` swatch: the colour with a little noise, or stripes of it on white."""
    colour = np.asarray(rgb, dtype=np.float32)
    pixels = np.broadcast_to(colour, (size, size, 3)).copy()
    if style == "striped":
        period = int(rng.integers(4, 9))
        band = (np.arange(size) // (period // 2)) % 2 == 1
        white = band[None, :] if rng.random() < 0.5 else band[:, None]  # vertical or horizontal stripes
        pixels[np.broadcast_to(white, (size, size))] = 245.0
    pixels += rng.normal(0, 10, size=pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_swatches(root: str | Path, style: str = "plain", test: int = 20, val: int = 10, seed: int = 0) -> Path:
    """Write ``test`` + ``val`` swatches (PNG) and ``captions.json`` under ``root``; returns ``root``."""
    if style not in CAPTIONS:
        raise ValueError(f"style must be one of {sorted(CAPTIONS)}, got {style!r}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    names = list(PALETTE)
    index: dict[str, list[dict[str, object]]] = {}
    for split, count in (("test", test), ("val", val)):
        (root / split).mkdir(parents=True, exist_ok=True)
        index[split] = []
        for i in range(count):
            colour = names[i % len(names)]
            relative = f"{split}/{i:03d}.png"
            swatch(PALETTE[colour], style, rng).save(root / relative)
            index[split].append({"image": relative, "captions": [t.format(c=colour) for t in CAPTIONS[style]]})
    (root / "captions.json").write_text(json.dumps(index, indent=1))
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="directory to write")
    parser.add_argument("--style", choices=sorted(CAPTIONS), default="plain")
    parser.add_argument("--test", type=int, default=20, help="test images (default: %(default)s)")
    parser.add_argument("--val", type=int, default=10, help="val images, for calibration (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    root = write_swatches(args.root, args.style, args.test, args.val, args.seed)
    print(f"wrote {args.test} test + {args.val} val swatches and captions.json to {root}")


if __name__ == "__main__":
    main()
