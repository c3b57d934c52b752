"""Photo collections as LitData shards: :func:`prepare` writes them, training streams them.

A collection too large for one machine's memory or disk is decoded, screened and resized once, and written as
`LitData <https://github.com/Lightning-AI/litData>`_ chunks (``index.json`` + ``chunk-*.bin``) that any number of
processes on any number of machines read in parallel, from a local folder or from object storage (``s3://``,
``gs://``). The layout under the destination ``DST``::

    DST/train/   training photos, short side round(1.125 * image_size) (random crops are cut from it)
    DST/val/     validation photos, short side image_size (center crops), split off by a fixed seed

Each item is ``{"id": int, "name": str, "format": "jpeg" | "raw", "height": int, "width": int, "image": bytes}``:
a re-encoded JPEG (quality 95, no chroma subsampling: colorization learns from the chroma) or the raw uint8 RGB
pixels (no decoding when read, several times larger on disk). ``id`` numbers the photos of a split from 0.

LitData is an optional dependency (``pip install 'colorgan[streaming]'``), imported on first use. No Lightning here:
writing shards is not training.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from colorgan.errors import ColorganError, printable
from colorgan.images import IMAGE_SUFFIXES, READ_ERRORS, find_images, open_rgb, resize_short_side, square_crop, unusable

ShardFormat = Literal["jpeg", "raw"]
SPLITS = ("train", "val")
INDEX = "index.json"
JPEG_QUALITY = 95
TRAIN_SCALE = 1.125
"""Training photos are stored this much larger than the crops (as :class:`colorgan.images.ImageFolderDataset`)."""

__all__ = ["SPLITS", "PrepareSummary", "ShardCrops", "ShardImages", "check_shards", "decode_item", "litdata",
           "prepare", "split_dir", "streaming_dataset"]


def litdata() -> Any:
    """The ``litdata`` module, or a one-line ColorganError saying how to install it."""
    try:
        import litdata as module
    except ImportError:
        raise ColorganError("streaming shards need LitData: pip install 'colorgan[streaming]' (or pip install "
                            "litdata)") from None
    return module


def is_url(path: str | os.PathLike[str]) -> bool:
    return "://" in os.fspath(path)


def split_dir(root: str | os.PathLike[str], split: str) -> str:
    """``root``'s ``split`` folder (``train`` or ``val``); URLs stay URLs."""
    root = os.fspath(root)
    return f"{root.rstrip('/')}/{split}" if is_url(root) else os.path.join(os.path.expanduser(root), split)


# --- writing ------------------------------------------------------------------------------------------------------


@dataclass
class PrepareSummary:
    """What :func:`prepare` wrote: photos per split, bytes on disk, and the files it skipped (path, reason)."""

    destination: Path
    counts: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _encode(path: Path, short_side: int, min_size: int, fmt: ShardFormat) -> tuple[dict[str, Any] | None, str]:
    """One photo as a shard item (without its id), or None and why it is skipped. Runs in a thread: Pillow releases
    the GIL while it decodes, resizes and encodes."""
    reason = unusable(path, min_size)
    if reason is not None:
        return None, reason
    try:
        image = resize_short_side(open_rgb(path, draft_size=short_side), short_side)
    except READ_ERRORS as error:
        return None, f"cannot decode ({error})"
    if fmt == "jpeg":
        from io import BytesIO

        buffer = BytesIO()
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, subsampling=0)
        data = buffer.getvalue()
    else:
        data = np.asarray(image, dtype=np.uint8).tobytes()
    return {"format": fmt, "height": image.height, "width": image.width, "image": data}, ""


def prepare(source: str | os.PathLike[str], destination: str | os.PathLike[str], image_size: int = 256,
            val_fraction: float = 0.1, split_seed: int = 0, fmt: ShardFormat = "jpeg",
            min_image_size: int | None = None, workers: int | None = None, chunk_bytes: str | int = "64MB",
            overwrite: bool = False, progress: bool = True,
            on_warning: Callable[[str], None] | None = None) -> PrepareSummary:
    """Screen, decode, resize and write the photos under ``source`` as LitData shards in ``destination``.

    Args:
        source: a folder of photos, searched recursively (:func:`colorgan.images.find_images`).
        destination: a local folder; ``train/`` and ``val/`` are written inside it. Upload it to object storage
            afterwards to train from there.
        image_size: the crop side training will use (``--data.image_size``): training photos are stored with the
            short side ``round(1.125 * image_size)``, validation photos with ``image_size``, so training reads them
            without resizing. Other sizes work too (resized when read, which costs time).
        val_fraction: share of the photos held out for validation (at least one); the split is fixed by
            ``split_seed``, as :class:`colorgan.training.data.ColorizationDataModule` splits a folder.
        fmt: ``jpeg`` (re-encoded at quality 95 without chroma subsampling) or ``raw`` (uint8 pixels).
        min_image_size: skip photos with a shorter side below this (default ``image_size // 2``).
        workers: threads that decode and encode (default: the CPU count).
        chunk_bytes: size of each chunk file (LitData's ``chunk_bytes``).
        overwrite: replace shards already in ``destination`` (default: refuse, before any work).
        progress: show a progress bar.
        on_warning: called with one line per skipped file (default: :func:`warnings.warn`).

    Returns:
        The counts and sizes per split and the skipped files. A file that is not an image, is grayscale, too small
        or does not decode is skipped with a warning, in whichever split it fell.

    Raises:
        ColorganError: no source folder or no usable photo in it, shards already there without ``overwrite``, a
            destination URL, or LitData missing.
    """
    if image_size < 8:
        raise ColorganError(f"--image-size must be at least 8, got {image_size}")
    if not 0.0 <= val_fraction < 1.0:
        raise ColorganError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    if is_url(destination):
        raise ColorganError(f"prepare writes to a local folder, not {destination}: write the shards here, then copy "
                            f"the folder to object storage (aws s3 cp --recursive, gcloud storage cp -r)")
    writer_class = _binary_writer()
    src, dst = Path(source).expanduser(), Path(destination).expanduser()
    if not src.is_dir():
        raise ColorganError(f"image folder {printable(src)} does not exist")
    existing = [dst / split for split in SPLITS if (dst / split).exists()]
    if existing and not overwrite:
        raise ColorganError(f"{printable(existing[0])} already exists; pass --overwrite to replace it")
    files = find_images(src)
    if not files:
        raise ColorganError(f"no images found in {printable(src)} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    warn = on_warning or (lambda line: warnings.warn(line, stacklevel=3))
    order = [files[i] for i in torch.randperm(len(files), generator=torch.Generator().manual_seed(split_seed))]
    n_val = max(1, round(val_fraction * len(files))) if len(files) > 1 else 0
    # A one-photo folder trains and validates on that photo, as the folder datamodule does.
    plan = {"val": order[:n_val] or order, "train": sorted(order[n_val:]) or order}
    sides = {"train": round(TRAIN_SCALE * image_size), "val": image_size}
    min_size = image_size // 2 if min_image_size is None else min_image_size
    summary = PrepareSummary(dst)
    dst.mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    bar = tqdm(total=sum(len(p) for p in plan.values()), unit="photo", disable=not progress, desc="prepare")
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for split in SPLITS:
            # Written under a hidden name and renamed when complete: a killed prepare leaves no half split behind.
            partial = dst / f".{split}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            writer = writer_class(str(partial), chunk_bytes=chunk_bytes)
            count = 0
            side = sides[split]
            encoded = pool.map(lambda p, s=side: _encode(p, s, min_size, fmt), plan[split])  # in order
            for path, (item, reason) in zip(plan[split], encoded, strict=True):
                bar.update()
                if item is None:
                    summary.skipped.append((path, reason))
                    warn(printable(f"skipping {path}: {reason}"))
                    continue
                writer.add_item(count, {"id": count, "name": str(path.relative_to(src)), **item})
                count += 1
            if count == 0:
                shutil.rmtree(partial, ignore_errors=True)
                bar.close()
                raise ColorganError(f"none of the {split} photos in {printable(src)} is a usable color photo (see the "
                                    f"warnings above)")
            writer.done()
            writer.merge()
            target = dst / split
            if target.exists():
                shutil.rmtree(target)
            partial.rename(target)
            summary.counts[split] = count
            summary.sizes[split] = sum(f.stat().st_size for f in target.iterdir() if f.is_file())
    bar.close()
    return summary


def _binary_writer() -> Any:
    litdata()  # the one-line error when it is missing
    from litdata.streaming.writer import BinaryWriter

    return BinaryWriter


# --- checking -----------------------------------------------------------------------------------------------------


def check_shards(folder: str | os.PathLike[str]) -> int:
    """The number of photos in the shard folder ``folder`` (one split), after checking that it is whole.

    Local folders are checked completely: ``index.json`` parses, every chunk it lists is there with the size it
    records. A URL is left to LitData, which reads it when training starts.

    Raises:
        ColorganError: one line saying what is wrong and how to fix it.
    """
    if is_url(folder):
        return -1
    path = Path(folder)
    redo = "write it with colorgan prepare SRC DST and pass --data.data_dir DST"
    if not path.is_dir():
        raise ColorganError(f"shard folder {printable(path)} does not exist; {redo}")
    index = path / INDEX
    if not index.is_file():
        raise ColorganError(f"{printable(path)} has no {INDEX}: it is not a shard folder; {redo}")
    try:
        config = json.loads(index.read_text(encoding="utf-8"))
        chunks = [(str(c["filename"]), int(c["chunk_bytes"]), int(c["chunk_size"])) for c in config["chunks"]]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise ColorganError(f"{printable(index)} is damaged ({type(error).__name__}: {error}); run colorgan prepare "
                            f"again") from None
    total = 0
    for name, size, count in chunks:
        chunk = path / name
        if not chunk.is_file():
            raise ColorganError(f"shard {printable(chunk)} is missing; run colorgan prepare again")
        if chunk.stat().st_size != size:
            raise ColorganError(f"shard {printable(chunk)} is damaged ({chunk.stat().st_size} bytes where {INDEX} "
                                f"says {size}); run colorgan prepare again")
        total += count
    if total == 0:
        raise ColorganError(f"{printable(path)} holds no photos; {redo}")
    return total


# --- reading ------------------------------------------------------------------------------------------------------


def decode_item(item: dict[str, Any]) -> torch.Tensor:
    """A shard item's photo as a (3, H, W) uint8 tensor.

    Raises:
        ColorganError: the item does not decode (a damaged chunk).
    """
    data = item["image"]
    try:
        if item["format"] == "raw":
            pixels = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            return pixels.view(int(item["height"]), int(item["width"]), 3).permute(2, 0, 1)
        from torchvision.io import ImageReadMode, decode_jpeg

        return decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        raise ColorganError(f"shard item {item.get('id')} ({item.get('name')}) does not decode ({error}); run "
                            f"colorgan prepare again") from None


def _resize(image: torch.Tensor, short_side: int) -> torch.Tensor:
    """(3, H, W) uint8 resized (bicubic, antialiased) so that its shorter side is ``short_side``; as is if it is."""
    h, w = image.shape[-2:]
    if min(h, w) == short_side:
        return image
    scale = short_side / min(h, w)
    size = (max(short_side, round(h * scale)), max(short_side, round(w * scale)))
    resized = torch.nn.functional.interpolate(image[None].float(), size=size, mode="bicubic", antialias=True,
                                              align_corners=False)
    return resized[0].round_().clamp_(0, 255).to(torch.uint8)


class ShardCrops:
    """LitData ``transform``: a shard item -> ``{"id", "image"}`` with a square uint8 crop (3, S, S).

    Training crops (``train=True``) are random, cut from the photo at short side ``round(1.125 * size)``;
    evaluation crops are centered at short side ``size`` and carry a fixed mask drawn from ``mask_sampler`` with the
    seed ``mask_seed + id`` (the same every epoch and on every process), as :class:`colorgan.images.ImageFolderDataset`
    does. Photos stored at another size are resized first.
    """

    def __init__(self, size: int, train: bool, mask_sampler: Callable[..., torch.Tensor] | None = None,
                 mask_seed: int = 0) -> None:
        self.size, self.train, self.mask_sampler, self.mask_seed = size, train, mask_sampler, mask_seed
        self.load_size = round(TRAIN_SCALE * size) if train else size

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        image = _resize(decode_item(item), self.load_size)
        crop = square_crop(image, self.size, self.train, self.mask_sampler, self.mask_seed + int(item["id"]))
        return {"id": torch.tensor(int(item["id"])), **crop}


def streaming_dataset(folder: str, transform: Callable[[dict[str, Any]], Any] | None, shuffle: bool,
                      seed: int = 0) -> Any:
    """A LitData ``StreamingDataset`` over one split: split across processes and DataLoader workers, each item
    through ``transform``. Under several processes LitData gives every rank the same number of items (dropping at
    most ``world_size - 1`` per epoch), so that they stay in step."""
    try:
        return litdata().StreamingDataset(folder, shuffle=shuffle, seed=seed, transform=transform)
    except ColorganError:
        raise
    except Exception as error:  # noqa: BLE001 (an unreachable bucket, missing credentials: one line)
        raise ColorganError(f"cannot read the shards at {printable(folder)} ({type(error).__name__}: "
                            f"{error})") from None


class ShardImages(torch.utils.data.Dataset):
    """One split's photos as a map-style dataset (validation and test): item ``i`` is ``ShardCrops(...)`` of the
    split's ``i``-th photo, read by random access, so Lightning's distributed sampler splits them as it splits a
    folder's photos.

    Args:
        folder: the split's shard folder or URL.
        size: the center crop side.
        mask_sampler, mask_seed: the fixed validation masks (see :class:`ShardCrops`).
    """

    def __init__(self, folder: str, size: int, mask_sampler: Callable[..., torch.Tensor] | None = None,
                 mask_seed: int = 0) -> None:
        self.folder = folder
        self.crops = ShardCrops(size, train=False, mask_sampler=mask_sampler, mask_seed=mask_seed)
        self._stream: Any = None
        count = check_shards(folder)
        self.length = count if count >= 0 else self._total()

    def _dataset(self) -> Any:
        if self._stream is None:  # opened in each process that reads (DataLoader workers included)
            self._stream = streaming_dataset(self.folder, transform=None, shuffle=False)
        return self._stream

    def _total(self) -> int:
        """The split's photo count across all processes (``len`` of a StreamingDataset is the local rank's)."""
        dataset = self._dataset()
        dataset[0]  # loads the index
        return sum(interval[2] - interval[1] for interval in dataset.cache.get_chunk_intervals())

    def __len__(self) -> int:
        return self.length

    def raw(self, index: int) -> dict[str, Any]:
        """The stored item ``index`` (bytes and all)."""
        return self._dataset()[index]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.crops(self.raw(index))

    def names(self) -> Iterator[str]:
        """The photos' source paths relative to the prepared folder, in order (reads the split once)."""
        return (str(self.raw(i)["name"]) for i in range(len(self)))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_stream": None}  # each DataLoader worker opens its own reader
