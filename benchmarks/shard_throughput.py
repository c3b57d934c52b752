"""Streaming shards: disk size against the source folder, and read + decode + crop images/s per CPU core.

    python benchmarks/shard_throughput.py                              # the bundled photos, 256 px crops
    python benchmarks/shard_throughput.py --data-dir data/heldout --items 600

Writes the folder as shards with ``colorgan.shards.prepare`` in each format (``jpeg``, ``raw``), then times, in one
process with one torch thread (one CPU core), what a DataLoader worker does per training photo:

- ``shards``: LitData's StreamingDataset reads the next item and ``ShardCrops`` decodes it and cuts a random
  crop (the photos are stored at the training size, so nothing is resized);
- ``folder``: ``ImageFolderDataset`` (``--data.dataset folder``) decodes the source file, resizes and crops.

A GPU that trains N images/s needs N divided by a row's images/s cores of DataLoader workers. The Lab conversion and
the masks run on the accelerator in every case, so they are left out.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import torch
from machine import cpu_name

from colorgan.images import ImageFolderDataset, find_images, screen_images
from colorgan.shards import ShardCrops, prepare, streaming_dataset
from colorgan.training.data import SAMPLE_PHOTOS


def folder_bytes(files: list[Path]) -> int:
    return sum(f.stat().st_size for f in files)


def time_items(get, count: int) -> float:
    """Images/s of ``get(i)`` for ``count`` items after 8 warm-up items."""
    for i in range(8):
        get(i)
    start = time.perf_counter()
    for i in range(count):
        get(i)
    return count / (time.perf_counter() - start)


def shard_rate(folder: str, size: int, count: int) -> float:
    dataset = streaming_dataset(folder, ShardCrops(size, train=True), shuffle=True)
    stream = iter(())

    def next_item(_: int) -> None:
        nonlocal stream
        try:
            next(stream)
        except StopIteration:  # the next epoch
            stream = iter(dataset)
            next(stream)

    return time_items(next_item, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=SAMPLE_PHOTOS)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--items", type=int, default=600, help="timed photos per row (epochs repeat; default 600)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    files = screen_images(find_images(args.data_dir), args.image_size // 2)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("jpeg", "raw"):
            start = time.perf_counter()
            summary = prepare(args.data_dir, Path(tmp) / fmt, image_size=args.image_size, fmt=fmt, progress=False,
                              workers=1)
            seconds = time.perf_counter() - start
            rate = shard_rate(str(Path(tmp) / fmt / "train"), args.image_size, args.items)
            rows.append((f"shards, `{fmt}`", sum(summary.sizes.values()), sum(summary.counts.values()) / seconds,
                         rate))
    folder = ImageFolderDataset(files, args.image_size, train=True)
    rows.append(("folder (source files)", folder_bytes(files), None,
                 time_items(lambda i: folder[i % len(folder)], args.items)))
    print(f"{cpu_name()}, {os.cpu_count()} cores, 1 torch thread; torch {torch.__version__}; {date.today()}; "
          f"{args.data_dir}: {len(files)} photos, {folder_bytes(files) / 1e6:.1f} MB; {args.image_size} px crops, "
          f"{args.items} timed photos per row")
    print()
    print("| read from | on disk (MB) | prepare (photos/s, 1 thread) | read + decode + crop (images/s per core) |")
    print("|---|--:|--:|--:|")
    for name, size, prepared, rate in rows:
        print(f"| {name} | {size / 1e6:.2f} | {'' if prepared is None else f'{prepared:.1f}'} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
