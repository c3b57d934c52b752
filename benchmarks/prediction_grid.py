"""A picture of a model at work: one row per photo, gray input | mask | prediction | truth inside the mask.

    python benchmarks/prediction_grid.py --ckpt runs/quickstart/version_0/checkpoints/last.ckpt \\
        --out docs/images/heldout.png data/heldout/tuxpaint-data__sheep.jpg data/heldout/...

Each photo is resized so its short side is ``--height`` and center-cropped to a ``--height`` x ``1.5 * --height``
window; the masks cycle through ``--masks`` (library names). The prediction is :func:`colorgan.colorize` at the
checkpoint's training size, as ``colorgan predict`` runs it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from colorgan import colorize
from colorgan.checkpoint import DEFAULT_SIZE, load_generator
from colorgan.color import rgb_to_gray
from colorgan.images import open_rgb
from colorgan.masks import library_mask


def row(photo: Image.Image, mask: np.ndarray, prediction: Image.Image) -> np.ndarray:
    """(H, 4 W + 3 gaps, 3) uint8: gray | mask | prediction | truth colored inside the mask."""
    rgb = np.array(photo)
    gray = (rgb_to_gray(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[0].permute(1, 2, 0).numpy()
            * 255).round().astype(np.uint8)
    on = mask[..., None] > 0.5
    tiles = [gray, np.repeat((mask[..., None] * 255).astype(np.uint8), 3, axis=2), np.asarray(prediction),
             np.where(on, rgb, gray)]
    gap = np.full((rgb.shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--masks", nargs="+", default=["half_diagonal", "stripes", "circle", "frame", "checkerboard"])
    args = parser.parse_args()
    generator, info = load_generator(args.ckpt)
    size = info.get("image_size") or DEFAULT_SIZE
    width = round(1.5 * args.height)
    rows = []
    for i, path in enumerate(args.photos):
        photo = ImageOps.fit(open_rgb(path), (width, args.height), Image.Resampling.LANCZOS)
        mask = library_mask(args.masks[i % len(args.masks)], args.height, width)[0].numpy()
        prediction = colorize(photo, mask=torch.from_numpy(mask), generator=generator, size=size)
        rows.append(row(photo, mask, prediction))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows[:-1])).save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
