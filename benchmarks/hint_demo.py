"""A picture of what color hints do: one row per photo, gray input | no hints | with hints (marked) | the photo.

    python benchmarks/hint_demo.py --out docs/images/hints_demo.jpg \\
        data/heldout/tuxpaint-data__jellyfish.jpg:0.5,0.4:0.2,0.8:0.85,0.15 ...

Each argument is ``PHOTO:X,Y:X,Y...``: hint points as fractions of the photo's width and height. Each hint's color
is the photo's own mean color over the hint's patch (what a user picking the true color would give, and what
``colorgan evaluate --hints`` draws). Photos are resized so the short side is ``--height`` and center-cropped to a
``--height`` x ``1.5 * --height`` window; the whole photo is colorized (full mask) by :func:`colorgan.colorize` at
the model's training size, as ``colorgan predict --hint X,Y,COLOR`` runs it. Hints are drawn as rings on the third
tile. Default model: the bundled one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps

from colorgan import colorize
from colorgan.checkpoint import BUNDLED_MODEL, DEFAULT_SIZE, load_generator
from colorgan.color import rgb_to_gray
from colorgan.hints import USER_HINT_SIZE
from colorgan.images import open_rgb


def parse(spec: str) -> tuple[Path, list[tuple[float, float]]]:
    """``PHOTO:X,Y:X,Y`` -> (photo, [(x, y) fractions])."""
    path, *points = spec.split(":")
    return Path(path), [(float(x), float(y)) for x, y in (point.split(",") for point in points)]


def hint_colors(photo: np.ndarray, points: list[tuple[float, float]], size: int) -> list[str]:
    """``X,Y,#rrggbb,SIZE`` hints: each point with the photo's mean color over a ``size``-pixel square (in the
    photo's own pixels; the hint's patch is ``size`` pixels of the working resolution, a little larger)."""
    height, width = photo.shape[:2]
    hints = []
    for x, y in points:
        col, row = min(int(x * width), width - 1), min(int(y * height), height - 1)
        patch = photo[max(0, row - size // 2) : row + size // 2 + 1, max(0, col - size // 2) : col + size // 2 + 1]
        r, g, b = patch.reshape(-1, 3).mean(axis=0).round().astype(int)
        hints.append(f"{x},{y},#{r:02x}{g:02x}{b:02x}")
    return hints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="+", metavar="PHOTO:X,Y[:X,Y...]")
    parser.add_argument("--ckpt", default=str(BUNDLED_MODEL), help="default: the bundled model")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--height", type=int, default=192)
    args = parser.parse_args()
    generator, info = load_generator(args.ckpt)
    size = info.get("image_size") or DEFAULT_SIZE
    rows = []
    for spec in args.photos:
        path, points = parse(spec)
        photo = ImageOps.fit(open_rgb(path), (round(1.5 * args.height), args.height), Image.Resampling.LANCZOS)
        rgb = np.array(photo)
        hints = hint_colors(rgb, points, max(1, round(USER_HINT_SIZE * args.height / size)))
        plain = colorize(photo, generator=generator, size=size)
        hinted = colorize(photo, generator=generator, size=size, hints=hints)
        draw = ImageDraw.Draw(hinted)
        for x, y in points:  # a ring around each hint, black and white so it shows on any color
            cx, cy = x * photo.width, y * photo.height
            draw.ellipse((cx - 7, cy - 7, cx + 7, cy + 7), outline="white", width=3)
            draw.ellipse((cx - 8, cy - 8, cx + 8, cy + 8), outline="black", width=1)
        gray = (rgb_to_gray(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[0].permute(1, 2, 0).numpy()
                * 255).round().astype(np.uint8)
        tiles = [gray, np.asarray(plain), np.asarray(hinted), rgb]
        gap = np.full((rgb.shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1))
        print(f"{path.name}: {' '.join(hints)}")
    gap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    grid = np.concatenate([part for r in rows for part in (r, gap)][:-1], axis=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(args.out, quality=88, optimize=True)  # .jpg keeps the README light
    print(f"wrote {args.out} ({grid.shape[1]} x {grid.shape[0]})")


if __name__ == "__main__":
    main()
