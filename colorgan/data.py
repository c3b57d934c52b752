"""Images in, batches out: a folder dataset, named datasets, and the LightningDataModule.

Items are uint8 RGB crops (3, S, S) decoded on the CPU; everything else happens batched on the device in
:meth:`ColorizationDataModule.on_after_batch_transfer`: float conversion, flips, training masks and the Lab
conversion. A batch reaching the LightningModule is a dict of (B, C, S, S) float tensors:
``rgb`` in [0, 1], ``L`` and ``ab`` (normalized Lab, see :mod:`colorgan.color`) and ``mask`` in {0, 1}.
"""

from __future__ import annotations

import socket
import warnings
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from colorgan.color import rgb_to_lab_norm
from colorgan.errors import ColorganError
from colorgan.masks import MASK_SUFFIXES, MaskSampler, load_mask
from colorgan.protocol import ProtocolDataset

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
SAMPLE_PHOTOS = Path(__file__).resolve().parent / "sample_photos"

DatasetName = Literal["folder", "samples", "flowers17", "flowers102"]

NAMED_DATASETS: dict[str, dict[str, str | None]] = {
    "flowers17": {
        "title": "Oxford Flowers 17", "folder": "flowers17",
        "url": "https://www.robots.ox.ac.uk/~vgg/data/flowers/17/17flowers.tgz", "md5": None},
    "flowers102": {  # the folder and archive that torchvision.datasets.Flowers102 uses, so its downloads are reused
        "title": "Oxford Flowers 102", "folder": "flowers-102",
        "url": "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz",
        "md5": "52808999861908f626f3c1f4e79d11fa"},
}

__all__ = ["ColorizationDataModule", "ImageFolderDataset", "find_images", "open_rgb", "resolve_data_dir"]


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
        image = ImageOps.exif_transpose(image)
        if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
            array = np.asarray(image, dtype=np.float32)
            top = 65535.0 if array.max() > 255 else 255.0
            image = Image.fromarray((array / top * 255.0).clip(0, 255).round().astype(np.uint8), mode="L")
        if image.mode == "P":
            image = image.convert("RGBA")
        if image.mode in ("RGBA", "LA", "La", "RGBa"):
            background = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, image.convert("RGBA"))
        return image.convert("RGB")


def find_images(root: str | Path) -> list[Path]:
    """All image files under ``root`` (recursive, by suffix, case-insensitive, hidden files skipped), sorted."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _screen(files: list[Path], min_size: int) -> list[Path]:
    """Drop files that are not images, are grayscale (no color to learn) or too small, warning for each."""
    kept = []
    for path in files:
        try:
            with Image.open(path) as image:
                size, mode = image.size, image.mode
        except (OSError, ValueError, UnidentifiedImageError) as error:
            warnings.warn(f"skipping {path}: not a readable image ({error})", stacklevel=2)
            continue
        if mode in GRAYSCALE_MODES:
            warnings.warn(f"skipping {path}: grayscale image (mode {mode}) has no color to learn from", stacklevel=2)
        elif min(size) < min_size:
            warnings.warn(f"skipping {path}: {size[0]}x{size[1]} is smaller than {min_size} px", stacklevel=2)
        else:
            kept.append(path)
    return kept


# --- dataset -----------------------------------------------------------------------------------------------------


class ImageFolderDataset(Dataset):
    """Square uint8 RGB crops of a list of image files.

    Training items are random crops of the image resized to ``1.125 * image_size`` on the short side; evaluation
    items are center crops at ``image_size`` and carry a fixed mask (the same every epoch), drawn from
    ``mask_sampler`` with a per-item seed.

    A file that fails to decode mid-epoch (truncated, corrupt) is reported once and replaced by the next one.
    """

    def __init__(self, files: list[Path], image_size: int, train: bool, mask_sampler: MaskSampler | None = None,
                 mask_seed: int = 0, cache: bool = False) -> None:
        if not files:
            raise ColorganError("no images to load")
        self.files, self.image_size, self.train = list(files), image_size, train
        self.load_size = round(image_size * 1.125) if train else image_size
        self.mask_sampler, self.mask_seed = mask_sampler, mask_seed
        self._bad: set[int] = set()
        self._cache: list[torch.Tensor | None] | None = None
        if cache:  # decoded once, in the main process, before workers fork and share it
            self._cache = [self._decode(i) for i in range(len(self.files))]

    def __len__(self) -> int:
        return len(self.files)

    def _decode(self, index: int) -> torch.Tensor | None:
        path = self.files[index]
        try:
            image = open_rgb(path, draft_size=self.load_size)
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as error:
            if index not in self._bad:
                warnings.warn(f"skipping {path}: cannot decode ({error})", stacklevel=2)
                self._bad.add(index)
            return None
        scale = self.load_size / min(image.size)
        size = (max(self.load_size, round(image.size[0] * scale)), max(self.load_size, round(image.size[1] * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
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
        image = self._image(index)
        h, w = image.shape[-2:]
        s = self.image_size
        if self.train:
            top, left = torch.randint(h - s + 1, ()).item(), torch.randint(w - s + 1, ()).item()
        else:
            top, left = (h - s) // 2, (w - s) // 2
        item = {"image": image[:, top:top + s, left:left + s].contiguous()}
        if not self.train and self.mask_sampler is not None:
            generator = torch.Generator().manual_seed(self.mask_seed + index)
            item["mask"] = self.mask_sampler(1, s, s, "cpu", generator)[0].to(torch.uint8)
        return item


# --- locating data -----------------------------------------------------------------------------------------------


def _online(url: str, timeout: float = 5.0) -> str | None:
    """None when the host answers, else the reason (so offline users get one sentence, not a hang)."""
    host = urlparse(url).hostname or ""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return None
    except OSError as error:
        return f"{host} is unreachable ({error.strerror or error})"


def resolve_data_dir(dataset: DatasetName, data_dir: str | None, download: bool = True) -> Path:
    """The folder to scan for ``dataset``: downloads a named dataset if asked to and missing."""
    if dataset == "samples":
        return SAMPLE_PHOTOS
    if data_dir is None:
        raise ColorganError(f"dataset {dataset!r} needs --data.data_dir")
    root = Path(data_dir).expanduser()
    if dataset == "folder":
        if not root.is_dir():
            raise ColorganError(f"image folder {root} does not exist")
        return root
    info = NAMED_DATASETS[dataset]
    folder = root / str(info["folder"])
    if find_images(folder):
        return folder
    archive = str(info["url"]).rsplit("/", 1)[-1]
    hint = (f"put the {info['title']} images in {folder / 'jpg'} (extract {archive} from {info['url']} "
            f"into {folder})")
    if not download:
        raise ColorganError(f"{info['title']} not found: {hint}.")
    reason = _online(str(info["url"]))
    if reason is not None:
        raise ColorganError(f"{info['title']} not found and cannot be downloaded: {reason}; {hint}.")
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(str(info["url"]), str(folder), md5=info["md5"], remove_finished=True)
    except Exception as error:  # noqa: BLE001 (any network or archive error becomes the same clear message)
        raise ColorganError(f"downloading {info['title']} failed ({error}); {hint}.") from error
    return folder


# --- the datamodule ----------------------------------------------------------------------------------------------


class ColorizationDataModule(pl.LightningDataModule):
    """Photos from a folder (or a named dataset) as batches for colorization with masks.

    Args:
        data_dir: the image folder (recursive), or where a named dataset lives / is downloaded to.
        dataset: ``folder`` (any images), ``samples`` (the photos bundled with colorgan; ``data_dir`` unused),
            ``flowers17`` or ``flowers102`` (Oxford Flowers, downloaded on first use).
        image_size: side of the square training and validation crops (a multiple of 32 suits the default U-Net).
        batch_size: training batch size per device.
        val_batch_size: evaluation batch size (default: ``batch_size``).
        num_workers: data loader worker processes.
        val_fraction: share of images held out for validation (at least one image); the split is fixed by
            ``split_seed`` and does not depend on the training seed.
        split_seed: seed of the train/val split and of the validation masks.
        mask_probabilities: training mask mix, family -> weight (see :class:`colorgan.masks.MaskSampler`).
        mask_dir: a folder of extra mask images (white = color) drawn as part of the ``library`` family.
        cache_images: decode and resize every image once and keep the uint8 pixels in memory.
        min_image_size: skip images with a shorter side below this (default ``image_size // 2``).
        download: download a named dataset if it is not in ``data_dir``.
    """

    def __init__(self, data_dir: str | None = None, dataset: DatasetName = "folder", image_size: int = 256,
                 batch_size: int = 16, val_batch_size: int | None = None, num_workers: int = 2,
                 val_fraction: float = 0.1, split_seed: int = 0, mask_probabilities: dict[str, float] | None = None,
                 mask_dir: str | None = None, cache_images: bool = False, min_image_size: int | None = None,
                 download: bool = True) -> None:
        super().__init__()
        if image_size < 8:
            raise ValueError(f"image_size must be at least 8, got {image_size}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.save_hyperparameters()
        self.data_dir, self.dataset, self.image_size = data_dir, dataset, image_size
        self.batch_size, self.val_batch_size = batch_size, val_batch_size or batch_size
        self.num_workers, self.val_fraction, self.split_seed = num_workers, val_fraction, split_seed
        self.cache_images, self.download = cache_images, download
        self.min_image_size = image_size // 2 if min_image_size is None else min_image_size
        extra = [load_mask(p, threshold=0.5) for p in sorted(Path(mask_dir).iterdir())
                 if p.suffix.lower() in MASK_SUFFIXES] if mask_dir else None
        self.mask_sampler = MaskSampler(mask_probabilities, extra_masks=extra)
        self.train_files: list[Path] = []
        self.val_files: list[Path] = []

    def prepare_data(self) -> None:
        resolve_data_dir(self.dataset, self.data_dir, self.download)  # downloads once, on rank 0

    def setup(self, stage: str | None = None) -> None:
        if self.train_files or self.val_files:
            return
        root = resolve_data_dir(self.dataset, self.data_dir, download=False)
        files = find_images(root)
        if not files:
            raise ColorganError(f"no images found in {root} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        files = _screen(files, self.min_image_size)
        if not files:
            raise ColorganError(f"none of the images in {root} is a usable color photo (see the warnings above)")
        order = torch.randperm(len(files), generator=torch.Generator().manual_seed(self.split_seed)).tolist()
        n_val = max(1, round(self.val_fraction * len(files))) if len(files) > 1 else 0
        self.val_files = sorted(files[i] for i in order[:n_val])
        self.train_files = sorted(files[i] for i in order[n_val:])

    def _loader(self, dataset: Dataset, batch_size: int, train: bool) -> DataLoader:
        return DataLoader(dataset, batch_size=batch_size, shuffle=train, drop_last=train and len(dataset) > batch_size,
                          num_workers=self.num_workers, pin_memory=torch.cuda.is_available(),
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        dataset = ImageFolderDataset(self.train_files, self.image_size, train=True, cache=self.cache_images)
        return self._loader(dataset, self.batch_size, train=True)

    def val_dataloader(self) -> DataLoader:
        files = self.val_files or self.train_files
        dataset = ImageFolderDataset(files, self.image_size, train=False, mask_sampler=self.mask_sampler,
                                     mask_seed=self.split_seed * 100_003, cache=self.cache_images)
        return self._loader(dataset, self.val_batch_size, train=False)

    def test_dataloader(self) -> DataLoader:
        """Each validation image under a fixed mask of every family (:mod:`colorgan.protocol`): per-family scores."""
        files = self.val_files or self.train_files
        images = ImageFolderDataset(files, self.image_size, train=False, cache=self.cache_images)
        return self._loader(ProtocolDataset(images, [f.name for f in files]), self.val_batch_size, train=False)

    def on_after_batch_transfer(self, batch: dict[str, torch.Tensor], dataloader_idx: int) -> dict[str, torch.Tensor]:
        """uint8 crops -> float RGB, flips and masks (training), Lab; batched on the batch's device."""
        rgb = batch["image"].float().div_(255.0)
        n, _, h, w = rgb.shape
        if "mask" in batch:
            mask = batch["mask"].float()
        else:
            flip = torch.rand(n, 1, 1, 1, device=rgb.device) < 0.5
            rgb = torch.where(flip, rgb.flip(-1), rgb)
            mask = self.mask_sampler(n, h, w, rgb.device)
        L, ab = rgb_to_lab_norm(rgb)  # noqa: N806
        out = {"rgb": rgb, "L": L, "ab": ab, "mask": mask}
        if "family" in batch:  # test items: the index of their mask's family, for per-family scores
            out["family"] = batch["family"]
        return out
