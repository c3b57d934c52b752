"""Does a hint's color spread beyond its patch? Mean ab error over the mask pixels that carry no hint, by hint count.

    python benchmarks/hint_spread.py --ckpt HINTED.ckpt [--size 64] data/heldout

Every photo (center crop at ``--size``) under 4 masks drawn by fixed seeds from the training mask mix, with 0, 1, 2,
5, 10, 20 and 50 hints drawn from the truth (the first n of one fixed draw, as ``colorgan evaluate --hints``).
Errors are mean |a| + |b| differences / 2 in Lab units, over the unhinted mask pixels and over the whole mask;
the last column is the share of the mask the hints cover.
"""

from __future__ import annotations

import argparse

import torch

from colorgan.checkpoint import load_generator
from colorgan.color import AB_SCALE, rgb_to_lab_norm
from colorgan.hints import HINT_CHANNELS, sample_hints
from colorgan.images import ImageFolderDataset, find_images, screen_images
from colorgan.masks import MaskSampler

COUNTS = (0, 1, 2, 5, 10, 20, 50)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    net, _ = load_generator(args.ckpt, "cpu")
    if getattr(net, "condition_channels", 0) != HINT_CHANNELS:
        raise SystemExit(f"{args.ckpt} was trained without hints")
    data = ImageFolderDataset(screen_images(find_images(args.folder), args.size // 2), args.size, train=False)
    rgb = torch.stack([data[i]["image"] for i in range(len(data))]).float() / 255
    L, ab = rgb_to_lab_norm(rgb)  # noqa: N806
    n = len(data)
    masks = torch.cat([MaskSampler()(n, args.size, args.size, "cpu", torch.Generator().manual_seed(s))
                       for s in range(4)])
    L, ab = L.repeat(4, 1, 1, 1), ab.repeat(4, 1, 1, 1)  # noqa: N806
    print("| hints | error, unhinted mask pixels | error, whole mask | mask share hinted |")
    print("|--:|--:|--:|--:|")
    for count in COUNTS:
        hints = sample_hints(ab, masks, count=count, max_count=max(COUNTS), generator=torch.Generator().manual_seed(0))
        error = (net(L, masks, hints) - ab * masks).abs().sum(1, keepdim=True) * AB_SCALE / 2
        whole, free = masks > 0, (masks > 0) & (hints[:, 2:] == 0)
        print(f"| {count} | {error[free].mean():.2f} | {error[whole].mean():.2f} | "
              f"{1 - float(free.sum() / whole.sum()):.2f} |")


if __name__ == "__main__":
    main()
