"""Images in, batches out: a folder dataset, named datasets, streamed shards, and the LightningDataModule.

Items are uint8 RGB crops (3, S, S) decoded on the CPU; everything else happens batched on the device in
:meth:`ColorizationDataModule.on_after_batch_transfer`: float conversion, flips, training masks and the Lab
conversion. A batch reaching the LightningModule is a dict of (B, C, S, S) float tensors:
``rgb`` in [0, 1], ``L`` and ``ab`` (normalized Lab, see :mod:`colorgan.color`) and ``mask`` in {0, 1}; batches
from shards also carry each photo's ``id`` (B,) within its split.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.ops import roi_align

from colorgan.color import lab_norm_to_rgb, rgb_to_lab_norm
from colorgan.errors import ColorganError, printable
from colorgan.evaluation.protocol import ProtocolDataset
from colorgan.images import IMAGE_SUFFIXES, ImageFolderDataset, PackedImages, find_images, screen_images
from colorgan.masks import MaskSampler, load_mask
from colorgan.models.weights import unreachable
from colorgan.shards import ShardCrops, ShardImages, check_shards, litdata, split_dir, streaming_dataset

SAMPLE_PHOTOS = Path(__file__).resolve().parents[1] / "sample_photos"

DatasetName = Literal["folder", "samples", "flowers17", "flowers102", "streaming"]

NAMED_DATASETS: dict[str, dict[str, str | None]] = {
    "flowers17": {
        "title": "Oxford Flowers 17", "folder": "flowers17",
        "url": "https://www.robots.ox.ac.uk/~vgg/data/flowers/17/17flowers.tgz", "md5": None},
    "flowers102": {  # the folder and archive that torchvision.datasets.Flowers102 uses, so its downloads are reused
        "title": "Oxford Flowers 102", "folder": "flowers-102",
        "url": "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz",
        "md5": "52808999861908f626f3c1f4e79d11fa"},
}

__all__ = ["ColorizationDataModule", "resolve_data_dir"]


# --- locating data -----------------------------------------------------------------------------------------------


def resolve_data_dir(dataset: DatasetName, data_dir: str | None, download: bool = True) -> Path:
    """The folder to scan for ``dataset``: downloads a named dataset if asked to and missing."""
    if dataset == "streaming":
        raise ValueError("shards are not a folder of images: see colorgan.shards")
    if dataset == "samples":
        return SAMPLE_PHOTOS
    if data_dir is None:
        raise ColorganError(f"dataset {dataset!r} needs --data.data_dir")
    root = Path(data_dir).expanduser()
    if dataset == "folder":
        if not root.is_dir():
            raise ColorganError(f"image folder {printable(root)} does not exist")
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
    reason = unreachable(str(info["url"]))
    if reason is not None:
        raise ColorganError(f"{info['title']} not found and cannot be downloaded: {reason}; {hint}.")
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(str(info["url"]), str(folder), md5=info["md5"], remove_finished=True)
    except Exception as error:  # noqa: BLE001 (any network or archive error becomes the same clear message)
        raise ColorganError(f"downloading {info['title']} failed ({error}); {hint}.") from error
    return folder


def zoomed_crops(windows: torch.Tensor, size: int) -> torch.Tensor:
    """A random square of each window, of side uniform in [``size``, window side], resized to ``size``.

    Args:
        windows: (B, C, W, W) float images.
        size: the output side.

    Returns:
        (B, C, size, size), bilinear with about 2x2 samples per output pixel (so a large square is averaged, not
        aliased); batched on the windows' device, no host sync.
    """
    n, _, side, _ = windows.shape
    u = torch.rand(n, 3, device=windows.device)
    crop = size + u[:, 0] * (side - size)  # (B,) sides in pixels
    top, left = u[:, 1] * (side - crop), u[:, 2] * (side - crop)
    boxes = torch.stack([torch.arange(n, device=windows.device, dtype=windows.dtype), left, top, left + crop,
                         top + crop], dim=1)
    return roi_align(windows, boxes, output_size=size, spatial_scale=1.0, sampling_ratio=2, aligned=True)


@functools.cache
def _trained_position_loader() -> type:
    """LitData's StreamingDataLoader whose saved position counts the batches trained on, not those fetched.

    Lightning fetches the next batch before the current one is trained on (to know which batch is the last), and a
    checkpoint is written between the two, so the loader's own count is one batch ahead of the weights: a fit
    resumed from it would skip that batch (and a Ctrl-C before a batch's step one more). The position saved here is
    the epoch loop's count of processed batches, which is what the checkpointed weights have seen; LitData replays
    its workers round-robin up to that point on resume.

    It also ends the replay with the resumed epoch. LitData clears its "resuming" flag only when an epoch's iterator
    runs dry, and Lightning stops at the epoch's length before that, so every later epoch would replay the resumed
    epoch's shuffle instead of drawing its own.
    """
    base = litdata().StreamingDataLoader

    class TrainedPositionLoader(base):
        trained_batches: Callable[[], int | None] = staticmethod(lambda: None)
        _replay_pending = False

        def load_state_dict(self, obj: dict[str, Any]) -> None:
            super().load_state_dict(obj)
            self._replay_pending = self.restore

        def __iter__(self) -> Any:
            if self.restore and not self._replay_pending:
                self.restore = False  # the resumed epoch is over: a new epoch, shuffled anew
            self._replay_pending = False
            return super().__iter__()

        def state_dict(self) -> dict[str, Any]:
            state = super().state_dict()
            trained = self.trained_batches()
            if trained is None:
                return state
            samples = trained * self.batch_size
            state["num_samples_yielded"] = samples
            state["latest_worker_idx"] = (trained - 1) % max(1, self.num_workers)
            state["dataset"] = self.dataset.state_dict(samples, self.num_workers, self.batch_size)
            return state

    return TrainedPositionLoader


class _Indices(Dataset):
    """Items ``{"index": i}``: what the DataLoader shuffles and batches when the images live on the device."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, int]:
        return {"index": index}


# --- the datamodule ----------------------------------------------------------------------------------------------


class ColorizationDataModule(pl.LightningDataModule):
    """Photos from a folder (or a named dataset) as batches for colorization with masks.

    Args:
        data_dir: the image folder (recursive), or where a named dataset lives / is downloaded to.
        dataset: ``folder`` (any images), ``samples`` (the photos bundled with colorgan; ``data_dir`` unused),
            ``flowers17`` or ``flowers102`` (Oxford Flowers, downloaded on first use), or ``streaming``: LitData
            shards written by ``colorgan prepare SRC DST`` (``data_dir`` is DST, a folder or an ``s3://``/``gs://``
            URL), read in parallel by every process and DataLoader worker, each training photo once per epoch,
            resumable mid-epoch. The split is the one prepare wrote (``val_fraction`` and ``split_seed`` then only
            seed the validation masks and the shuffling).
        image_size: side of the square training and validation crops (a multiple of 32 suits the default U-Net).
        batch_size: training batch size per device.
        val_batch_size: evaluation batch size (default: ``batch_size``).
        num_workers: data loader worker processes.
        val_fraction: share of images held out for validation (at least one image); the split is fixed by
            ``split_seed`` and does not depend on the training seed.
        split_seed: seed of the train/val split and of the validation masks.
        mask_probabilities: training mask mix, family -> weight (see :class:`colorgan.masks.MaskSampler`).
        mask_dir: a folder of extra mask images (white = color) drawn as part of the ``library`` family.
        cache_images: decode and resize every image once and keep the uint8 pixels in host memory (``true``), or
            on the training device (``device``): training crops are then cut there, batched, so a host with few
            cores never starves the accelerator (flowers102 at 256 px: about 2.7 GB per device).
        min_image_size: skip images with a shorter side below this (default ``image_size // 2``).
        download: download a named dataset if it is not in ``data_dir``.
        desaturate: share of training crops whose chroma (ab) is scaled by a factor drawn uniformly from [0, 1],
            L unchanged: the same scene in less saturated color. Curated photo sets (the bundled wallpapers) are
            more colorful than photos in general; without this a model paints bark and stone in colors they do not
            have (docs/BENCHMARKS.md, quality on photos the package does not contain).
        zoom: largest magnification of a training crop. Photos are loaded ``zoom`` times larger, and each crop
            takes a square of side drawn uniformly from ``[image_size, zoom * image_size]`` pixels, resized to
            ``image_size``: from the photo's full view (as validation and evaluation see it) down to a
            ``1 / zoom`` detail of it, so few photos give many views (textures and close-ups as well as scenes).
            1 (the default) crops at the full view only.
    """

    def __init__(self, data_dir: str | None = None, dataset: DatasetName = "folder", image_size: int = 256,
                 batch_size: int = 16, val_batch_size: int | None = None, num_workers: int = 2,
                 val_fraction: float = 0.1, split_seed: int = 0, mask_probabilities: dict[str, float] | None = None,
                 mask_dir: str | None = None, cache_images: bool | Literal["device"] = False,
                 min_image_size: int | None = None, download: bool = True, desaturate: float = 0.0,
                 zoom: float = 1.0) -> None:
        super().__init__()
        if image_size < 8:
            raise ValueError(f"image_size must be at least 8, got {image_size}")
        if cache_images not in (True, False, "device"):
            raise ValueError(f"cache_images must be true, false or 'device', got {cache_images!r}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if not 0.0 <= desaturate <= 1.0:
            raise ValueError(f"desaturate must be in [0, 1], got {desaturate}")
        if zoom < 1.0:
            raise ValueError(f"zoom must be at least 1, got {zoom}")
        if dataset == "streaming" and cache_images:
            raise ValueError("cache_images does not apply to dataset 'streaming': the shards are read as they stream")
        self.save_hyperparameters()
        self.data_dir, self.dataset, self.image_size = data_dir, dataset, image_size
        self.batch_size, self.val_batch_size = batch_size, val_batch_size or batch_size
        self.num_workers, self.val_fraction, self.split_seed = num_workers, val_fraction, split_seed
        self.cache_images, self.download, self.desaturate = cache_images, download, desaturate
        self.window = round(image_size * zoom)  # side of the training windows that zoomed crops are taken from
        self.min_image_size = image_size // 2 if min_image_size is None else min_image_size
        extra = [load_mask(p, threshold=0.5) for p in sorted(Path(mask_dir).iterdir())
                 if p.suffix.lower() in IMAGE_SUFFIXES] if mask_dir else None
        self.mask_sampler = MaskSampler(mask_probabilities, extra_masks=extra)
        self._packed: PackedImages | None = None  # training images on the device, with cache_images="device"
        self._val_images: ImageFolderDataset | ShardImages | None = None  # by setup: validation and test use them
        self.train_files: list[Path] = []
        self.val_files: list[Path] = []

    def prepare_data(self) -> None:
        if self.dataset != "streaming":
            resolve_data_dir(self.dataset, self.data_dir, self.download)  # downloads once, on rank 0

    def setup(self, stage: str | None = None) -> None:
        if self.train_files or self.val_files or self._val_images is not None:
            return
        if self.dataset == "streaming":
            self._setup_shards()
            return
        root = resolve_data_dir(self.dataset, self.data_dir, download=False)
        files = find_images(root)
        if not files:
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            raise ColorganError(f"no images found in {printable(root)} (looked for {suffixes})")
        files = screen_images(files, self.min_image_size)
        if not files:
            raise ColorganError(f"none of the images in {printable(root)} is a usable color photo (see the warnings "
                                f"above)")
        generator = torch.Generator().manual_seed(self.split_seed)
        order = [files[i] for i in torch.randperm(len(files), generator=generator).tolist()]
        n_val = max(1, round(self.val_fraction * len(files))) if len(files) > 1 else 0
        # Screening reads headers only, so a truncated photo passes it. Training replaces one that fails to decode
        # by the next photo, but validation must count each photo once, and a validation split that all fails would
        # stop the run at its first validation, after an epoch. So the validation photos are the first n_val of the
        # split order that decode (skip_bad, as evaluate does), decoded now; those found bad on the way are dropped.
        self._val_images = ImageFolderDataset(order, self.image_size, train=False, mask_sampler=self.mask_sampler,
                                              mask_seed=self.split_seed * 100_003, cache=self.cache_images,
                                              skip_bad=True, limit=max(1, n_val))
        self.val_files = self._val_images.files if n_val else []
        examined = order.index(self._val_images.files[-1]) + 1
        # A one-photo folder (or one with no more decodable photos than validation takes) trains on those.
        self.train_files = sorted(order[examined:]) or list(self._val_images.files)

    def _setup_shards(self) -> None:
        if self.data_dir is None:
            raise ColorganError("dataset 'streaming' needs --data.data_dir: the folder (or URL) colorgan prepare wrote")
        litdata()  # the one-line error when LitData is missing, before anything else
        for split in ("train", "val"):
            check_shards(split_dir(self.data_dir, split))  # missing, empty or damaged shards: one line, now
        self._val_images = ShardImages(split_dir(self.data_dir, "val"), self.image_size, self.mask_sampler,
                                       mask_seed=self.split_seed * 100_003)

    def _shard_loader(self) -> DataLoader:
        """Training batches streamed from the train shards (a LitData StreamingDataLoader, whose position Lightning
        keeps in checkpoints, so a resumed fit goes on mid-epoch)."""
        # LitData shuffles chunks, then items within them, from this seed and the epoch: the training seed when
        # seed_everything set one (so runs with other seeds see other orders), else split_seed.
        seed = int(os.environ.get("PL_GLOBAL_SEED", self.split_seed))
        dataset = streaming_dataset(split_dir(self.data_dir, "train"), ShardCrops(self.window, train=True),
                                    shuffle=True, seed=seed)
        loader = _trained_position_loader()(dataset, batch_size=self.batch_size, num_workers=self.num_workers,
                                            pin_memory=torch.cuda.is_available(),
                                            persistent_workers=self.num_workers > 0)
        loader.trained_batches = self._trained_batches
        return loader

    def _trained_batches(self) -> int | None:
        """Training batches of the current epoch whose step has run (None outside a fit)."""
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "fit":
            return None
        return trainer.fit_loop.epoch_loop.batch_progress.current.processed

    def _loader(self, dataset: Dataset, batch_size: int, train: bool) -> DataLoader:
        return DataLoader(dataset, batch_size=batch_size, shuffle=train, drop_last=train and len(dataset) > batch_size,
                          num_workers=self.num_workers, pin_memory=torch.cuda.is_available(),
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        if self.dataset == "streaming":
            return self._shard_loader()
        if self.cache_images != "device":
            dataset = ImageFolderDataset(self.train_files, self.window, train=True, cache=self.cache_images)
            return self._loader(dataset, self.batch_size, train=True)
        # The loader only shuffles indices; on_after_batch_transfer cuts the crops from the packed pixels, which
        # move to the device with the first batch. Decoded once, however often Lightning asks for the loader.
        if self._packed is None:
            self._packed = ImageFolderDataset(self.train_files, self.window, train=True).pack()
        indices = _Indices(len(self._packed))  # batching indices needs no worker processes
        return DataLoader(indices, batch_size=self.batch_size, shuffle=True, drop_last=len(indices) > self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._validation_images(), self.val_batch_size, train=False)

    def test_dataloader(self) -> DataLoader:
        """Each validation image under a fixed mask of every family (evaluation/protocol.py): per-family scores."""
        images = self._validation_images()  # their fixed validation masks go unused: the protocol draws its own
        names = images.names() if isinstance(images, ShardImages) else images.files
        keys = [Path(name).name for name in names]  # file names, as `colorgan evaluate` of the folder keys them
        return self._loader(ProtocolDataset(images, keys), self.val_batch_size, train=False)

    def _validation_images(self) -> ImageFolderDataset | ShardImages:
        if self._val_images is None:
            raise ColorganError("the data module has no validation photos before setup()")
        return self._val_images

    def on_after_batch_transfer(self, batch: dict[str, torch.Tensor], dataloader_idx: int) -> dict[str, torch.Tensor]:
        """uint8 crops -> float RGB, flips and masks (training), Lab; batched on the batch's device."""
        if "index" in batch:  # cache_images="device": cut this batch's training crops on the device
            index = batch["index"]
            if self._packed is None:
                raise ColorganError("index batches need cache_images='device' and train_dataloader() first")
            self._packed = self._packed.to(index.device)  # once: a no-op when already there
            batch = {"image": self._packed.random_crops(index, self.window)}
        rgb = batch["image"].float().div_(255.0)
        if "mask" not in batch and rgb.shape[-1] != self.image_size:  # training windows of zoom * image_size
            rgb = zoomed_crops(rgb, self.image_size)
        n, _, h, w = rgb.shape
        if "mask" in batch:
            mask = batch["mask"].float()
        else:
            flip = torch.rand(n, 1, 1, 1, device=rgb.device) < 0.5
            rgb = torch.where(flip, rgb.flip(-1), rgb)
            mask = self.mask_sampler(n, h, w, rgb.device)
        L, ab = rgb_to_lab_norm(rgb)  # noqa: N806
        if "mask" not in batch and self.desaturate > 0:  # training crops only (validation keeps the truth)
            scale = torch.rand(n, 1, 1, 1, device=ab.device)
            ab = torch.where(torch.rand(n, 1, 1, 1, device=ab.device) < self.desaturate, ab * scale, ab)
            rgb = lab_norm_to_rgb(L, ab)
        out = {"rgb": rgb, "L": L, "ab": ab, "mask": mask}
        if "family" in batch:  # test items: the index of their mask's family, for per-family scores
            out["family"] = batch["family"]
        if "id" in batch:  # photos from shards: which ones a batch holds
            out["id"] = batch["id"]
        return out
