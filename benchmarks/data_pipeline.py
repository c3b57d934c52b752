"""How many training images/s the host can feed, for each ``cache_images`` mode; prints a markdown table.

    python benchmarks/data_pipeline.py                       # the bundled photos, 256 px crops, batch 16
    python benchmarks/data_pipeline.py --data-dir data/flowers-102/jpg --workers 2

Times what stays on the host in each mode, per training batch, from ``ColorizationDataModule.train_dataloader()``:

- ``false``: the DataLoader decodes, resizes and crops every photo at every step (``--workers`` processes);
- ``true``: crops of the decoded pixels kept in host memory (decoded once, before the timed window);
- ``device``: the loader only batches indices (timed alone), and the crops are cut by one gather on the
  accelerator (timed with it; synchronized at the end). With ``--device cpu`` that gather runs on the host.

A GPU that trains N images/s needs a mode whose row here is well above N. The one-off decoding of the caches is
reported separately. The Lab conversion and the masks run on the accelerator in every mode, so they are left out.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from datetime import date
from pathlib import Path

import torch
from machine import cpu_name

from colorgan.training.data import SAMPLE_PHOTOS, ColorizationDataModule


def measure(mode: bool | str, args: argparse.Namespace, device: torch.device,
            gather: bool = True) -> tuple[float, float]:
    """(setup seconds, images/s over ``args.batches`` batches after one warm-up batch); ``gather=False`` times the
    ``device`` mode's host side alone."""
    dm = ColorizationDataModule(str(args.data_dir), image_size=args.image_size, batch_size=args.batch_size,
                                num_workers=args.workers if mode is False else 0, val_fraction=0.0,
                                cache_images=mode)
    dm.setup("fit")
    start = time.perf_counter()
    loader = dm.train_dataloader()
    setup = time.perf_counter() - start
    images, batches, timed_from = 0, 0, None
    while batches <= args.batches:
        for batch in loader:
            if "index" in batch and not gather:
                crops = batch["index"]
            elif "index" in batch:  # what on_after_batch_transfer does first in this mode
                index = batch["index"].to(device)
                dm._packed = dm._packed.to(device)
                crops = dm._packed.random_crops(index, args.image_size)
            else:
                crops = batch["image"].to(device, non_blocking=True)
            if timed_from is None:  # the first batch warms up workers and allocators
                if device.type == "cuda":
                    torch.cuda.synchronize()
                timed_from = time.perf_counter()
            else:
                images += len(crops)
            batches += 1
            if batches > args.batches:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return setup, images / (time.perf_counter() - timed_from)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=SAMPLE_PHOTOS)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=30, help="timed batches per mode (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the decoding mode")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    rows = [("`false`", "decode, resize, crop", args.workers, *measure(False, args, device)),
            ("`true`", "crop (host memory)", 0, *measure(True, args, device)),
            ("`device`", "batch indices (host)", 0, *measure("device", args, device, gather=False)),
            ("`device`", f"gather the crops ({device.type})", 0, *measure("device", args, device))]
    print(f"{cpu_name()}, {os.cpu_count()} cores; device {device}; torch {torch.__version__}; {date.today()}; "
          f"{args.data_dir}, {args.image_size} px crops, batch {args.batch_size}, {args.batches} timed batches")
    print()
    print("| cache_images | timed work per batch | DataLoader workers | one-off setup (s) | images/s |")
    print("|---|---|--:|--:|--:|")
    for mode, work, workers, setup, rate in rows:
        print(f"| {mode} | {work} | {workers} | {setup:.1f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
