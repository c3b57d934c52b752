"""Colorize photos with a trained generator: tensors, PIL images and whole folders. Importable; no argparse.

How one image is colorized (:func:`colorize_tensor`):

1. L* is computed from the input at full resolution; it is what the output keeps, so detail is never lost.
2. The generator runs on L and the mask resized so the short side is ``size`` (the scale it was trained for;
   the U-Net pads odd sizes itself). It sees a binary mask: every working pixel that touches the mask is on, so
   chroma reaches the mask's edge when upsampled.
   With user hints, each hint's color is then spread over the region it belongs to, guided by L
   (:mod:`colorgan.propagation`): the network alone hardly changes the pixels around a hint.
3. The predicted ab is upsampled (bilinear) to full resolution and multiplied by the full-resolution mask.
   Masks are soft: a value m in (0, 1) scales the chroma by m (a blend toward gray at the same lightness).
4. Where a color would fall outside sRGB, its chroma is reduced (hue and L* kept) instead of clipping the RGB
   channels, which would change lightness.
5. Wherever the mask is exactly 0 the output is exactly gray: R = G = B to the last bit, with the input's L*.

A generator trained with hints (:mod:`colorgan.hints`) also takes user hints: points with a color whose ab
spreads over the region they belong to (step 2). Hints outside the mask are ignored with a warning.
"""

from __future__ import annotations

import glob
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image
from torch import nn
from tqdm.auto import tqdm

from colorgan.checkpoint import default_checkpoint, load_generator, replace_atomically
from colorgan.color import lab_norm_to_rgb_in_gamut, neutralize, rgb_to_lab_norm
from colorgan.errors import ColorganError, printable
from colorgan.hints import UserHint, generate, hints_from_points, place_hints, require_hints, takes_hints, to_user_hint
from colorgan.images import IMAGE_SUFFIXES, READ_ERRORS, find_images, open_rgb, to_rgb
from colorgan.masks import resolve_mask
from colorgan.propagation import hinted_ab

MaskSpec = str | Path | Image.Image | torch.Tensor | None
"""A mask: a file path, a library name (``stripes``), a PIL image or a tensor (white / 1 = color); None = all color."""
HintSpec = UserHint | str | dict[str, Any]
"""A user hint: a :class:`~colorgan.hints.UserHint`, ``"X,Y,COLOR[,SIZE]"`` or ``{"x", "y", "color"[, "size"]}``."""
PNG_LEVEL = 1
"""zlib level of the written PNGs: on photos 1 encodes 3-4x faster than Pillow's default 6, for ~10% larger files."""
BAND_PIXELS = 1 << 18
"""Pixels per band of the full-resolution color math (bounds its memory, not its result)."""

__all__ = ["HintSpec", "MaskSpec", "OutputPlan", "PredictSummary", "colorize", "colorize_files", "colorize_tensor",
           "plan_outputs", "prepare_mask", "resolve_device"]


# --- tensors -----------------------------------------------------------------------------------------------------


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def _working_size(height: int, width: int, size: int | None) -> tuple[int, int]:
    """(h, w) with the short side ``size`` and the aspect ratio kept; ``size=None`` keeps the input size."""
    if size is None:
        return height, width
    scale = size / min(height, width)
    return (size, max(1, round(width * scale))) if height <= width else (max(1, round(height * scale)), size)


def _user_hints(hints: Sequence[HintSpec] | None, generator: nn.Module) -> list[UserHint]:
    """``hints`` checked, as UserHints; refused in one line for a generator trained without hints."""
    try:
        checked = [to_user_hint(hint) for hint in hints or ()]
    except ValueError as error:
        raise ColorganError(f"bad hint: {error}") from None
    if checked:
        require_hints(generator, "take --hint/--hints; colorize without them or use a model fit with model.hints")
    return checked


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


@torch.inference_mode()
def colorize_tensor(generator: nn.Module, rgb: torch.Tensor, mask: torch.Tensor | None = None,
                    size: int | None = 256, hints: Sequence[HintSpec] | None = None,
                    on_ignored_hint: Callable[[int, str], None] | None = None, spread: bool = True) -> torch.Tensor:
    """Colorize images where ``mask`` is on, keeping their lightness; exactly gray where it is 0.

    Args:
        generator: ``generator(L, mask) -> ab`` on (B, 1, h, w) normalized Lab (e.g. from :func:`load_generator`).
        rgb: (B, 3, H, W) sRGB in [0, 1]; any colors are discarded, only L* is used.
        mask: (B, 1, H, W) or (1, 1, H, W) in [0, 1], 1 = color; None colors everything. Soft values scale chroma.
        size: short side of the network's working resolution (None: run at the input size).
        hints: user hints (see :data:`HintSpec`), the same for every image; a generator trained without hints
            refuses them (:class:`ColorganError`). A hinted generator without hints colorizes on its own.
        on_ignored_hint: called with the image's index in the batch and a one-line message for each hint outside
            that image's mask or the image (it is ignored there); default: a ``UserWarning``.
        spread: spread each hint's color over its region (:func:`colorgan.propagation.hinted_ab`); False
            gives the network's own use of the hints.

    Returns:
        (B, 3, H, W) float32 sRGB in [0, 1] on the generator's device; R = G = B exactly wherever ``mask == 0``.
    """
    if not isinstance(rgb, torch.Tensor) or rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"rgb must be a (B, 3, H, W) tensor, got {getattr(rgb, 'shape', type(rgb))}")
    n, _, height, width = rgb.shape
    parameter = next(generator.parameters(), None)
    device = parameter.device if parameter is not None else rgb.device
    rgb = rgb.to(device=device, dtype=torch.float32)
    if mask is None:
        mask = rgb.new_ones(n, 1, height, width)
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] not in (1, n) or mask.shape[-2:] != rgb.shape[-2:]:
        raise ValueError(f"mask must have shape ({n}, 1, {height}, {width}), got {tuple(mask.shape)}")
    mask = mask.to(device=device, dtype=torch.float32).clamp(0.0, 1.0).expand(n, -1, -1, -1)

    # Full-resolution color math runs in bands of rows: its temporaries (~50 floats a pixel) then stay small
    # for 12-megapixel photos. Every step is per pixel, so the bands change no value.
    rows = max(1, BAND_PIXELS // (n * width))
    L = torch.cat([rgb_to_lab_norm(band)[0] for band in rgb.split(rows, dim=2)], dim=2)  # noqa: N806
    small = _working_size(height, width, size)
    small_mask = (_resize(mask, small) > 0).float()
    user_hints = _user_hints(hints, generator)
    condition = _hint_condition(user_hints, generator, mask, small_mask,
                                on_ignored_hint or (lambda i, message: _warn(message)))
    small_L = _resize(L, small)  # noqa: N806
    if user_hints and condition is not None:
        ab = hinted_ab(generator, small_L, small_mask, condition, spread)
    else:
        ab = generate(generator, small_L, small_mask, condition).float()
    if small != (height, width):
        ab = F.interpolate(ab, size=(height, width), mode="bilinear", align_corners=False)
    out = torch.empty_like(rgb)
    for top in range(0, height, rows):
        band = slice(top, top + rows)
        m = mask[:, :, band]
        color = lab_norm_to_rgb_in_gamut(L[:, :, band], ab[:, :, band] * m)
        out[:, :, band] = neutralize(color, m == 0)
    return out


def _hint_condition(hints: list[UserHint], generator: nn.Module, mask: torch.Tensor, small_mask: torch.Tensor,
                    on_ignored: Callable[[int, str], None]) -> torch.Tensor | None:
    """The (B, 3, h, w) hint condition for a hinted generator (all zero without hints), None for the others."""
    if not takes_hints(generator):
        return None
    conditions = []
    for i in range(mask.shape[0]):  # masks may differ per image; a few hints each, placed on the host
        placed, ignored = place_hints(hints, mask[i : i + 1].cpu(), tuple(small_mask.shape[-2:]))
        for hint, reason in ignored:
            on_ignored(i, f"hint {hint} is {reason}; ignored")
        conditions.append(hints_from_points(placed, small_mask[i : i + 1]))
    return torch.cat(conditions)


def _feather(mask: torch.Tensor, pixels: float) -> torch.Tensor:
    """Gaussian blur (sigma = pixels / 3, support +-pixels) of a (1, 1, H, W) mask; far from edges stays 0 / 1."""
    radius = math.ceil(pixels)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets / (pixels / 3.0)) ** 2)
    kernel = kernel / kernel.sum()
    # replicate padding: a mask that reaches the image border stays fully on there
    mask = F.conv2d(F.pad(mask, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    mask = F.conv2d(F.pad(mask, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    # Snap float noise, so the pixels farther than ``pixels`` from an edge stay exactly gray (or fully colored).
    return torch.where(mask < 1e-4, 0.0, torch.where(mask > 1.0 - 1e-4, 1.0, mask))


def prepare_mask(spec: MaskSpec, height: int, width: int, invert: bool = False, feather: float = 0.0,
                 threshold: float | None = None) -> torch.Tensor:
    """The (1, 1, H, W) float mask in [0, 1] for one image of size (height, width).

    Library names render exactly at the size; files, PIL images and tensors of another size are resized (bilinear).
    Then, in order: ``threshold`` binarizes (``>= threshold``), ``invert`` swaps color and gray, ``feather`` blurs
    the edges by that many pixels.
    """
    if feather < 0:
        raise ColorganError(f"feather must be >= 0 pixels, got {feather}")
    if spec is None:
        mask = torch.ones(1, 1, height, width)
    elif isinstance(spec, torch.Tensor):
        if spec.dim() < 2 or spec.dim() > 4 or spec[..., 0, 0].numel() != 1:
            raise ColorganError(f"a mask tensor must be (H, W), (1, H, W) or (1, 1, H, W), got {tuple(spec.shape)}")
        mask = _resize(spec.detach().float().cpu().reshape(1, 1, *spec.shape[-2:]), (height, width))
    elif isinstance(spec, Image.Image):
        gray = np.asarray(spec.convert("L"), dtype=np.float32) / 255.0
        mask = _resize(torch.from_numpy(gray)[None, None], (height, width))
    else:
        try:
            mask = resolve_mask(str(spec), (height, width))[None]
        except (FileNotFoundError, ValueError) as error:
            raise ColorganError(str(error).rstrip(".")) from None
    mask = mask.clamp(0.0, 1.0)
    if threshold is not None:
        mask = (mask >= threshold).float()
    if invert:
        mask = 1.0 - mask
    return _feather(mask, feather) if feather > 0 else mask


# --- images ------------------------------------------------------------------------------------------------------


def _to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)[None].float().div_(255.0)


def _to_image(rgb: torch.Tensor) -> Image.Image:
    """(3, H, W) float in [0, 1] -> 8-bit PIL RGB (equal channels stay equal: the rounding is per value)."""
    return Image.fromarray(rgb.mul(255.0).round_().clamp_(0, 255).byte().permute(1, 2, 0).cpu().numpy(), mode="RGB")


def resolve_device(device: str | torch.device) -> torch.device:
    """``cpu``, ``cuda[:N]`` or ``auto`` (CUDA when available) as a device, refusing CUDA without a GPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ColorganError("--device cuda was asked for, but no CUDA GPU is available; use --device cpu")
    return device


def _generator(generator: nn.Module | None, ckpt: str | Path | None, device: str | torch.device) -> nn.Module:
    if generator is not None:
        return generator.eval()
    if ckpt is None:
        ckpt, note = default_checkpoint()
        print(printable(f"colorgan: {note}"), file=sys.stderr)
    return load_generator(ckpt, resolve_device(device))[0]


def colorize(image: Image.Image | str | Path, mask: MaskSpec = None, ckpt: str | Path | None = None,
             generator: nn.Module | None = None, size: int | None = 256, device: str | torch.device = "cpu",
             invert: bool = False, feather: float = 0.0, threshold: float | None = None,
             hints: Sequence[HintSpec] | None = None) -> Image.Image:
    """Colorize one photo where ``mask`` is white; everything else comes out exactly gray.

    Args:
        image: a PIL image or an image file (any mode; EXIF orientation is applied).
        mask: see :data:`MaskSpec`; library names render exactly at the image size.
        ckpt: a checkpoint or safetensors export; with neither ``ckpt`` nor ``generator``: the newest runs/**/*.ckpt,
            else the bundled default model (one line on stderr says which).
        generator: an already loaded generator (faster in loops than passing ``ckpt`` each time).
        size, device, invert, feather, threshold: as for ``colorgan predict``.
        hints: user hints (see :data:`HintSpec`), e.g. ``["0.5,0.3,#2060ff"]``, for a model trained with hints;
            a hint outside the mask is ignored with a ``UserWarning``.

    Returns:
        An 8-bit RGB image of the input's size.

    Example:
        >>> ckpt = "runs/quickstart/version_0/checkpoints/last.ckpt"
        >>> colorize("photo.jpg", mask="stripes", ckpt=ckpt).save("photo_color.png")  # doctest: +SKIP
    """
    if isinstance(image, Image.Image):
        picture = to_rgb(image)
    else:
        try:
            picture = open_rgb(Path(image).expanduser())
        except READ_ERRORS as error:
            raise ColorganError(f"cannot read image {image} ({error})") from None
    net = _generator(generator, ckpt, device)
    mask_tensor = prepare_mask(mask, picture.height, picture.width, invert, feather, threshold)
    return _to_image(colorize_tensor(net, _to_tensor(picture), mask_tensor, size, hints)[0])


# --- files -------------------------------------------------------------------------------------------------------


@dataclass
class PredictSummary:
    """What :func:`colorize_files` did: (input, output) pairs written and (input, reason) pairs that failed."""

    written: list[tuple[Path, Path]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _expand(inputs: Sequence[str | Path], out_dir: Path) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """Inputs -> ((file, output subfolder) in order without duplicates, (input, reason) for inputs that are not).

    Folders skip ``out_dir`` inside them: `colorgan predict .` run twice must not colorize its own outputs.
    """
    jobs: dict[Path, tuple[Path, Path]] = {}
    failed = []
    out_dir = out_dir.resolve()
    for spec in inputs:
        path = Path(spec).expanduser()
        if path.is_dir():
            found = [(f, f.relative_to(path).parent) for f in find_images(path)  # a folder's layout is mirrored
                     if out_dir not in f.resolve().parents]
            reason = "no image files in this folder"
        elif path.is_file():
            found, reason = [(path, Path())], ""
        elif glob.has_magic(str(spec)):
            found = [(Path(p), Path()) for p in sorted(glob.glob(str(path), recursive=True))
                     if Path(p).suffix.lower() in IMAGE_SUFFIXES and Path(p).is_file()]
            reason = "no image files match this pattern"
        else:
            found, reason = [], "file not found"
        if not found:
            failed.append((str(spec), reason))
        for file, subfolder in found:
            jobs.setdefault(file.resolve(), (file, subfolder))
    return list(jobs.values()), failed


def _plan(jobs: list[tuple[Path, Path]], out_dir: Path, suffix: str,
          ) -> tuple[list[tuple[Path, Path | None]], list[tuple[Path, Path, Path]]]:
    """(input, output) per job, output None where it would replace an input; and the renamed outputs.

    Repeated stems get -2, -3, ...: a.jpg and a.png in one folder become a_color.png and a-2_color.png. Each
    renamed output is (input, output, the earlier input that has its plain name).
    """
    sources, owners, plan, renamed = {file.resolve() for file, _ in jobs}, {}, [], []
    for source, subfolder in jobs:
        target = out_dir / subfolder / f"{source.stem}{suffix}.png"
        owner = owners.get(target.resolve())
        for n in range(2, len(jobs) + 2):
            if target.resolve() not in owners:
                break
            target = out_dir / subfolder / f"{source.stem}-{n}{suffix}.png"
        owners[target.resolve()] = source
        output = None if target.resolve() in sources else target
        if owner is not None and output is not None:
            renamed.append((source, output, owner))
        plan.append((source, output))
    return plan, renamed


@dataclass
class OutputPlan:
    """Where :func:`colorize_files` writes each input, from :func:`plan_outputs`."""

    outputs: list[tuple[Path, Path | None]]
    """(input, output) in order; output None where it would replace an input (refused, even with overwrite)."""
    unusable: list[tuple[str, str]]
    """(input as given, reason) for inputs that name no image: missing files, empty folders and globs."""
    renamed: list[tuple[Path, Path, Path]]
    """(input, output, earlier input with the same name) for outputs that got a -2, -3, ... to stay apart."""


def plan_outputs(inputs: Sequence[str | Path], out_dir: str | Path = "colorized", suffix: str = "_color",
                 overwrite: bool = False) -> OutputPlan:
    """The output path of every image in ``inputs`` (files, folders, globs), without reading or writing any image.

    Raises:
        ColorganError: an output path already holds a file (or anything else) and ``overwrite`` is False.
    """
    out_dir = Path(out_dir).expanduser()
    jobs, unusable = _expand(inputs, out_dir)
    outputs, renamed = _plan(jobs, out_dir, suffix)
    # A file at an output path was not written by this run (outputs never repeat within one), so replacing it
    # could destroy unrelated work, e.g. `--suffix '' a.jpg` next to someone's a.png: that takes an explicit yes.
    # lexists: a dangling symlink is in the way too. Outputs that would replace an input are refused later anyway.
    existing = [target for _, target in outputs if target is not None and os.path.lexists(target)]
    if existing and not overwrite:
        named = ", ".join(map(str, existing[:3])) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        many = len(existing) > 1
        raise ColorganError(f"{len(existing)} output{'s' * many} already exist{'s' * (not many)} ({named}); pass "
                            f"--overwrite to replace {'them' if many else 'it'}, or choose another --out or --suffix")
    return OutputPlan(outputs, unusable, renamed)


def colorize_files(inputs: Sequence[str | Path], mask: MaskSpec = None, ckpt: str | Path | None = None,
                   out_dir: str | Path = "colorized", suffix: str = "_color", invert: bool = False,
                   feather: float = 0.0, size: int | None = 256, device: str | torch.device = "cpu",
                   batch_size: int = 1, progress: bool = True, generator: nn.Module | None = None,
                   threshold: float | None = None, on_failure: Callable[[str, str], None] | None = None,
                   overwrite: bool = False, hints: Sequence[HintSpec] | None = None,
                   on_warning: Callable[[str, str], None] | None = None) -> PredictSummary:
    """Colorize image files, folders (recursive, layout mirrored) and globs into ``out_dir/<stem><suffix>.png``.

    Each output is written to a temporary file and moved into place, so there is never a half-written PNG. A
    file already at an output path is an error before any work unless ``overwrite``; an output that would
    replace one of the inputs is refused even then. Inputs with the same name get -2, -3, ... (see
    :func:`plan_outputs`; :attr:`PredictSummary.written` pairs each input with its output). A file that cannot be
    read or written is recorded (and passed to ``on_failure(input, reason)`` at once) and the rest go on. At most
    ``batch_size`` images (of one size) are in memory at a time. ``hints`` (the same for every image) need a
    model trained with hints; one outside an image's mask is ignored and passed to ``on_warning(input, message)``
    (default: a ``UserWarning``).

    Raises:
        ColorganError: a bad mask, checkpoint or option, or an existing output without ``overwrite`` (nothing is
            written then).
    """
    if batch_size < 1 or (size is not None and size < 1):
        raise ColorganError(f"batch size and size must be >= 1, got {batch_size} and {size}")
    mask_options = dict(invert=invert, feather=feather, threshold=threshold)
    prepare_mask(mask, 8, 8, **mask_options)  # a bad mask fails here, before any work
    plan = plan_outputs(inputs, out_dir, suffix, overwrite)  # so do existing outputs, before the checkpoint loads
    net = _generator(generator, ckpt, device)
    hints = _user_hints(hints, net)  # bad hints, or hints for a model without them, fail before any work
    warn = on_warning or (lambda source, message: _warn(f"{printable(source)}: {message}"))
    summary, report = PredictSummary(), on_failure or (lambda source, reason: None)

    def fail(source: Path | str, reason: str) -> None:
        summary.failed.append((str(source), reason))
        report(str(source), reason)

    for source, reason in plan.unusable:
        fail(source, reason)
    for batch in _read_batches(plan.outputs, batch_size, mask, mask_options, progress, fail):
        _colorize_and_write(net, batch, size, summary, fail, hints, warn)
    return summary


_Item = tuple[Path, Path, torch.Tensor, torch.Tensor]
"""(input, output, rgb (1, 3, H, W), mask (1, 1, H, W)) of one image to colorize."""


def _read_batches(plan: list[tuple[Path, Path | None]], batch_size: int, mask: MaskSpec, mask_options: dict[str, Any],
                  progress: bool, fail: Callable[[Path, str], None]) -> Iterator[list[_Item]]:
    """Decode the planned inputs in order, as batches of at most ``batch_size`` images of one size.

    Inputs that cannot be read, or whose output would replace an input, go to ``fail`` and are skipped.
    """
    batch: list[_Item] = []
    for source, target in tqdm(plan, desc="colorizing", unit="img", file=sys.stderr, dynamic_ncols=True,
                               disable=True if not progress or len(plan) < 2 else None):  # None: only on a TTY
        if target is None:
            fail(source, "its output would overwrite an input (never done, not even with --overwrite); choose "
                 "another --out or --suffix")
            continue
        try:
            rgb = _to_tensor(open_rgb(source))
        except READ_ERRORS as error:
            fail(source, f"cannot read image ({error})")
            continue
        if batch and (len(batch) == batch_size or batch[0][2].shape != rgb.shape):
            yield batch
            batch = []
        batch.append((source, target, rgb, prepare_mask(mask, *rgb.shape[-2:], **mask_options)))
    if batch:
        yield batch


def _colorize_and_write(net: nn.Module, batch: list[_Item], size: int | None, summary: PredictSummary,
                        fail: Callable[[Path, str], None], hints: list[UserHint],
                        warn: Callable[[str, str], None]) -> None:
    """Colorize one batch and write each result atomically as PNG; failures are reported, the rest go on."""
    try:
        images = colorize_tensor(net, torch.cat([item[2] for item in batch]), torch.cat([item[3] for item in batch]),
                                 size, hints, lambda i, message: warn(str(batch[i][0]), message))
    except (RuntimeError, ValueError) as error:  # e.g. out of memory on a huge image: skip it, keep going
        for source, *_ in batch:
            fail(source, f"colorization failed ({str(error).splitlines()[0]})")
        return
    for (source, target, *_), image in zip(batch, images, strict=True):
        try:
            with replace_atomically(target) as tmp:
                _to_image(image).save(tmp, format="PNG", compress_level=PNG_LEVEL)
            summary.written.append((source, target))
        except OSError as error:
            fail(source, f"cannot write {target} ({error})")
