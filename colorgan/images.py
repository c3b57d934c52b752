"""Photo files: finding, screening and decoding them, and a dataset of square uint8 crops.

Decoding happens on the CPU (in DataLoader workers during training); everything after it runs batched on the
device. No Lightning here, so ``colorgan predict`` and ``colorgan evaluate`` start without importing it.
"""

from __future__ import annotations

import os
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

from colorgan.errors import ColorganError, printable

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
"""Suffixes of the image files colorgan reads (photos and masks alike), lower case."""
READ_ERRORS = (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError)
"""What Pillow raises for a file it cannot read: missing, truncated, corrupt, not an image, or too large."""

__all__ = ["IMAGE_SUFFIXES", "READ_ERRORS", "ImageFolderDataset", "PackedImages", "find_images", "open_rgb",
           "resize_short_side", "screen_images", "square_crop", "to_rgb", "to_unit_range", "unusable"]


# --- decoding ----------------------------------------------------------------------------------------------------

GRAYSCALE_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


def open_rgb(path: str | Path, draft_size: int | None = None) -> Image.Image:
    """Decode any image file as 8-bit RGB, upright per its EXIF orientation.

    Handles palette, CMYK, RGBA (composited over white), 16-bit and float grayscale. ``draft_size`` lets the JPEG
    decoder downscale by a power of two while staying at least that large on the short side (much faster).

    Raises:
        OSError, ValueError, UnidentifiedImageError: unreadable or truncated files.
    """
    with Image.open(path) as image:
        if draft_size is not None and image.format == "JPEG":
            scale = min(image.size) / draft_size
            if scale >= 2:
                image.draft("RGB", (int(image.size[0] / scale) + 1, int(image.size[1] / scale) + 1))
        image.load()  # raises here for truncated files
        return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """An image in any mode as upright 8-bit RGB: EXIF orientation applied, 16-bit and float grayscale scaled to
    8 bits, palette and alpha composited over white."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        unit = to_unit_range(np.asarray(image, dtype=np.float32))
        image = Image.fromarray((unit * 255.0).clip(0, 255).round().astype(np.uint8), mode="L")
    if image.mode == "P" or "A" in image.getbands():
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image.convert("RGBA"))
    return image.convert("RGB")


def to_unit_range(array: np.ndarray) -> np.ndarray:
    """8- or 16-bit pixel values as float32 in [0, 1]: values above 255 mean the image is 16-bit."""
    return (array / (65535.0 if array.max() > 255 else 255.0)).astype(np.float32)


def find_images(root: str | Path) -> list[Path]:
    """All image files under ``root`` (recursive, by suffix, case-insensitive, hidden files and folders skipped),
    sorted; none if ``root`` is not a folder.

    Symlinked folders are followed, and each folder and each file is reached once however many links lead to it
    (a link to an ancestor does not loop): by the path through the fewest links, then the first in sorted order.
    A folder that cannot be read is skipped with a warning naming it.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    found: dict[tuple[int, int], tuple[int, Path]] = {}  # (st_dev, st_ino) -> (links followed, path)
    walked: set[tuple[int, int]] = set()
    unreadable: list[OSError] = []
    # Breadth-first over links: the whole real tree first, then what one link leads to, and so on, so a folder is
    # walked by the path through the fewest links, and not again by any other (a link to an ancestor included).
    pending: deque[tuple[Path, int]] = deque([(root, 0)])
    while pending:
        top, hops = pending.popleft()
        for dirpath, dirnames, filenames in os.walk(top, onerror=unreadable.append):  # links are not followed
            folder = Path(dirpath)
            try:
                identity = _identity(folder)
            except OSError as error:  # removed since it was listed
                unreadable.append(error)
                identity = None
            if identity is None or identity in walked:
                dirnames.clear()
                continue
            walked.add(identity)
            visible = sorted(name for name in dirnames if not name.startswith("."))
            linked = [name for name in visible if (folder / name).is_symlink()]
            pending.extend((folder / name, hops + 1) for name in linked)
            dirnames[:] = [name for name in visible if name not in linked]  # os.walk lists links, never enters
            for name in filenames:
                path = folder / name
                if name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                    continue  # is_file follows a link, and is false for a dangling one
                rank = (hops + path.is_symlink(), path)
                file = _identity(path)
                if file not in found or rank < found[file]:
                    found[file] = rank
    for error in unreadable:
        warnings.warn(f"skipping folder {printable(error.filename)}: cannot read it ({error.strerror})", stacklevel=2)
    return sorted(path for _, path in found.values())


def _identity(path: Path) -> tuple[int, int]:
    """What a file or folder is, whichever link leads to it: its device and inode."""
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def screen_images(files: list[Path], min_size: int) -> list[Path]:
    """Drop files that are not images, are grayscale (no color to learn) or too small, warning for each."""
    kept = []
    for path in files:
        reason = unusable(path, min_size)
        if reason is None:
            kept.append(path)
        else:
            warnings.warn(f"skipping {printable(path)}: {reason}", stacklevel=2)
    return kept


def unusable(path: str | Path, min_size: int) -> str | None:
    """Why the photo at ``path`` cannot be trained on, from its header alone (not an image, grayscale, shorter side
    below ``min_size``), or None when it looks usable. A truncated file passes: only decoding finds that."""
    try:
        with Image.open(path) as image:
            size, mode = image.size, image.mode
    except READ_ERRORS as error:
        return f"not a readable image ({error})"
    if mode in GRAYSCALE_MODES:
        return f"grayscale image (mode {mode}) has no color to learn from"
    if min(size) < min_size:
        return f"{size[0]}x{size[1]} is smaller than {min_size} px"
    return None


def resize_short_side(image: Image.Image, size: int) -> Image.Image:
    """``image`` scaled (bicubic, aspect kept) so that its shorter side is ``size`` pixels, neither side below it."""
    scale = size / min(image.size)
    target = (max(size, round(image.size[0] * scale)), max(size, round(image.size[1] * scale)))
    return image.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)


# --- dataset -----------------------------------------------------------------------------------------------------


class ImageFolderDataset(Dataset):
    """Square uint8 RGB crops of a list of image files.

    Training items are random crops of the image resized to ``1.125 * image_size`` on the short side; evaluation
    items are center crops at ``image_size`` and carry a fixed mask (the same every epoch), drawn from
    ``mask_sampler`` with a per-item seed.

    A file that fails to decode mid-epoch (truncated, corrupt) is reported once and replaced by the next one: fine
    for training, where an epoch's length matters more than which photo fills a slot. Scores must instead count
    each photo once, so with ``skip_bad`` the files are decoded up front, in order, and only those that decode are
    indexed (``files`` then lists just them); ``limit`` stops after that many have decoded.
    """

    def __init__(self, files: list[Path], image_size: int, train: bool,
                 mask_sampler: Callable[..., torch.Tensor] | None = None,
                 mask_seed: int = 0, cache: bool = False, skip_bad: bool = False, limit: int | None = None) -> None:
        if not files:
            raise ColorganError("no images to load")
        self.files, self.image_size, self.train = list(files), image_size, train
        self.load_size = round(image_size * 1.125) if train else image_size
        self.mask_sampler, self.mask_seed = mask_sampler, mask_seed
        self._bad: set[int] = set()
        self._cache: list[torch.Tensor | None] | None = None
        # Decoded once, in the main process, before workers fork and share the pixels.
        if skip_bad:
            kept: list[tuple[Path, torch.Tensor | None]] = []
            for i, path in enumerate(self.files):
                if len(kept) == limit:
                    break
                image = self._decode(i)
                if image is not None:
                    kept.append((path, image if cache else None))  # without the cache, pixels are not held
            if not kept:
                raise ColorganError(f"none of the {len(self.files)} images could be decoded")
            self.files = [path for path, _ in kept]
            self._bad = set()  # indices of the old list; every kept file decoded
            if cache:
                self._cache = [image for _, image in kept]
        elif cache:
            self._cache = [self._decode(i) for i in range(len(self.files))]

    def __len__(self) -> int:
        return len(self.files)

    def pack(self) -> PackedImages:
        """Every decodable image at its loading size, packed for batched random crops (see :class:`PackedImages`)."""
        images = self._cache if self._cache is not None else [self._decode(i) for i in range(len(self.files))]
        kept = [image for image in images if image is not None]
        if not kept:
            raise ColorganError(f"none of the {len(self.files)} images could be decoded")
        return PackedImages(kept)

    def _decode(self, index: int) -> torch.Tensor | None:
        path = self.files[index]
        try:
            image = open_rgb(path, draft_size=self.load_size)
        except READ_ERRORS as error:
            if index not in self._bad:
                warnings.warn(f"skipping {printable(path)}: cannot decode ({error})", stacklevel=2)
                self._bad.add(index)
            return None
        image = resize_short_side(image, self.load_size)
        return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)

    def _image(self, index: int) -> torch.Tensor:
        for offset in range(len(self.files)):
            i = (index + offset) % len(self.files)
            if i in self._bad:
                continue
            image = self._cache[i] if self._cache is not None else self._decode(i)
            if image is not None:
                return image
        raise ColorganError(f"none of the {len(self.files)} images could be decoded")

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return square_crop(self._image(index), self.image_size, self.train, self.mask_sampler,
                           self.mask_seed + index)


def square_crop(image: torch.Tensor, size: int, train: bool, mask_sampler: Callable[..., torch.Tensor] | None = None,
                mask_seed: int = 0) -> dict[str, torch.Tensor]:
    """One item of (3, H, W) uint8 ``image``: ``{"image": (3, size, size)}``, a random crop for training, else the
    center crop with ``"mask"`` (1, size, size) uint8 drawn from ``mask_sampler`` seeded by ``mask_seed`` (the same
    every epoch). Shared by the folder dataset and the streaming shards."""
    h, w = image.shape[-2:]
    if train:
        top, left = torch.randint(h - size + 1, ()).item(), torch.randint(w - size + 1, ()).item()
    else:
        top, left = (h - size) // 2, (w - size) // 2
    item = {"image": image[:, top:top + size, left:left + size].contiguous()}
    if not train and mask_sampler is not None:
        generator = torch.Generator().manual_seed(mask_seed)
        item["mask"] = mask_sampler(1, size, size, "cpu", generator)[0].to(torch.uint8)
    return item


class PackedImages:
    """Decoded images of different sizes packed into one flat uint8 tensor, so that a batch of random crops is a
    single gather on whatever device the pixels live on (no DataLoader work per step).

    Args:
        images: (3, H_i, W_i) uint8 tensors, each at least ``size`` on both sides when cropped.
    """

    def __init__(self, images: list[torch.Tensor]) -> None:
        if not images:
            raise ColorganError("no images to pack")
        self.heights = torch.tensor([image.shape[1] for image in images])
        self.widths = torch.tensor([image.shape[2] for image in images])
        sizes = 3 * self.heights * self.widths
        self.offsets = torch.cumsum(sizes, 0) - sizes  # int64: a large set exceeds 2**31 bytes
        self.pixels = torch.cat([image.reshape(-1) for image in images])

    def __len__(self) -> int:
        return len(self.heights)

    def to(self, device: torch.device | str) -> PackedImages:
        if self.pixels.device == torch.device(device):
            return self
        packed = object.__new__(PackedImages)
        for name in ("heights", "widths", "offsets", "pixels"):
            setattr(packed, name, getattr(self, name).to(device))
        return packed

    def random_crops(self, index: torch.Tensor, size: int) -> torch.Tensor:
        """Uniformly placed ``size`` x ``size`` crops of the images ``index`` (B,) -> (B, 3, size, size) uint8."""
        h, w, base = self.heights[index], self.widths[index], self.offsets[index]
        rand = torch.rand((2, len(index)), device=index.device)
        top = (rand[0] * (h - size + 1)).long()
        left = (rand[1] * (w - size + 1)).long()
        steps = torch.arange(size, device=index.device)
        rows = (top[:, None] + steps) * w[:, None]  # (B, S): start of each cropped row within a channel
        cols = left[:, None] + steps  # (B, S)
        channels = torch.arange(3, device=index.device)[None, :] * (h * w)[:, None]  # (B, 3)
        flat = (base[:, None, None, None] + channels[:, :, None, None] + rows[:, None, :, None]
                + cols[:, None, None, :])
        return self.pixels[flat]
