"""Binary masks: the named library, procedural random masks, and loading a mask file.

A mask is a float tensor (B, 1, H, W) in [0, 1]; 1 means "color this pixel", 0 means "keep it gray".

- The **library** holds named patterns (``half_vertical``, ``stripes``, ``checkerboard``, ...). They are defined
  here as functions of the output size, so they render crisply at any resolution; ``masks/`` holds 256x256 PNG
  renderings of them (``colorgan masks --write DIR``) for browsing and for use as files.
- **Procedural** families draw a fresh random mask per sample: stripes and checkerboards of random period, phase
  and angle, rectangles, blobs, free-form brush strokes, plus all-ones (full colorization) and all-zeros.
- :class:`MaskSampler` mixes the families with configurable probabilities. It is fully batched and runs on the
  batch's device, so the data loader never builds masks on the CPU during training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image, ImageOps

from colorgan.images import READ_ERRORS, to_unit_range
from colorgan.resources import resource_dir

MaskFamily = Literal["library", "stripes", "checkerboard", "rectangles", "blobs", "brush", "full", "empty"]
MASK_FAMILIES: tuple[str, ...] = get_args(MaskFamily)
"""Every mask family, in a fixed order: ``library`` and the procedural ones (:data:`PROCEDURAL`)."""

DEFAULT_MASK_PROBABILITIES: dict[str, float] = {
    "library": 0.25, "stripes": 0.1, "checkerboard": 0.1, "rectangles": 0.1, "blobs": 0.1, "brush": 0.1,
    "full": 0.2, "empty": 0.05,
}
"""Training mix: a fifth full colorization, a quarter library patterns, the rest procedural."""

__all__ = [
    "DEFAULT_MASK_PROBABILITIES", "LIBRARY", "MASK_FAMILIES", "MaskFamily", "MaskSampler", "library_dir",
    "library_mask", "load_mask", "resolve_mask", "write_library",
]


# --- the named library -------------------------------------------------------------------------------------------


def _grid(h: int, w: int, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-center coordinates (y, x), each (H, W) in [0, 1)."""
    y = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
    x = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
    return torch.meshgrid(y, x, indexing="ij")


def _bands(t: torch.Tensor, count: int) -> torch.Tensor:
    return (torch.floor(t * count) % 2 == 0)


LIBRARY: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "half_vertical": lambda y, x: x < 0.5,  # left half in color
    "half_horizontal": lambda y, x: y < 0.5,  # top half in color
    "half_diagonal": lambda y, x: x + y < 1.0,  # top-left triangle in color
    "stripes": lambda y, x: _bands(x, 8),  # 8 vertical bands, alternating color / gray
    "stripes_horizontal": lambda y, x: _bands(y, 8),
    "stripes_diagonal": lambda y, x: _bands((x + y) / 2, 8),
    "checkerboard": lambda y, x: _bands(x, 4) == _bands(y, 4),  # 4 x 4 squares
    "grid": lambda y, x: ~(((x * 8) % 1 < 0.8) & ((y * 8) % 1 < 0.8)),  # colored lines, gray cells
    "center_square": lambda y, x: ((x - 0.5).abs() < 0.25) & ((y - 0.5).abs() < 0.25),
    "frame": lambda y, x: ~(((x - 0.5).abs() < 0.35) & ((y - 0.5).abs() < 0.35)),
    "circle": lambda y, x: (x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.3**2,
    "ring": lambda y, x: ((x - 0.5) ** 2 + (y - 0.5) ** 2 - 0.3**2).abs() < 0.1 * 0.3 * 2,
}
"""Named patterns: (y, x) pixel-center grids in [0, 1) -> bool mask."""


def library_mask(name: str, height: int, width: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Render the library pattern ``name`` as a (1, H, W) float {0, 1} mask."""
    key = Path(name).stem if name.endswith(".png") else name
    if key not in LIBRARY:
        raise ValueError(f"no mask named {name!r} in the library; choose one of: {', '.join(LIBRARY)}")
    y, x = _grid(height, width, device)
    return LIBRARY[key](y, x).float()[None]


def library_dir() -> Path:
    """The folder of library PNGs: inside an installed wheel, or ``masks/`` of a source checkout."""
    return resource_dir("mask_library", "masks")


def write_library(directory: str | Path, height: int = 256, width: int = 256,
                  names: list[str] | None = None) -> list[Path]:
    """Write library masks as 8-bit PNGs (255 = color, 0 = gray); returns the written paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names or list(LIBRARY):
        path = directory / f"{Path(name).stem}.png"
        array = (library_mask(name, height, width)[0].numpy() * 255).astype(np.uint8)
        Image.fromarray(array, mode="L").save(path)
        paths.append(path)
    return paths


# --- loading masks from files ------------------------------------------------------------------------------------


def load_mask(path: str | Path, size: tuple[int, int] | None = None, threshold: float | None = None) -> torch.Tensor:
    """Load an image file as a (1, H, W) float mask in [0, 1].

    Color images are reduced to their luminance and an alpha channel, if any, multiplies it (transparent = gray).
    ``size=(H, W)`` resizes (bilinear, so edges become soft); ``threshold`` makes the mask binary (``>= threshold``).
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            alpha = image.getchannel("A") if "A" in image.getbands() else None
            gray = np.asarray(image.convert("F") if image.mode.startswith("I") else image.convert("L"), np.float32)
    except FileNotFoundError:
        raise FileNotFoundError(f"mask file not found: {path}") from None
    except READ_ERRORS as error:
        raise ValueError(f"cannot read mask {path}: {error}") from None
    mask = torch.from_numpy(to_unit_range(gray)).clamp(0, 1)[None]
    if alpha is not None:
        mask = mask * torch.from_numpy(np.asarray(alpha, np.float32) / 255.0)[None]
    if size is not None and tuple(mask.shape[-2:]) != tuple(size):
        mask = F.interpolate(mask[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0]
    if threshold is not None:
        mask = (mask >= threshold).float()
    return mask


def resolve_mask(spec: str, size: tuple[int, int], threshold: float | None = None) -> torch.Tensor:
    """A mask given as a file path or a library name (``stripes``, ``stripes.png``) at ``size=(H, W)``.

    An existing file wins over a library name of the same spelling. Library names render exactly at ``size``.
    """
    path = Path(spec).expanduser()
    if path.is_file():
        return load_mask(path, size, threshold)
    if Path(spec).stem in LIBRARY and path.parent == Path("."):
        return library_mask(Path(spec).stem, *size)
    raise FileNotFoundError(
        f"mask {spec!r} is neither a file nor a library mask; library masks: {', '.join(LIBRARY)}")


# --- procedural random masks, batched ---------------------------------------------------------------------------


def _rand(n: int, device: torch.device, generator: torch.Generator | None, low: float = 0.0,
          high: float = 1.0, *shape: int) -> torch.Tensor:
    return low + (high - low) * torch.rand((n, *shape), device=device, generator=generator)


def _pixel_coords(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates (y, x) scaled by the longer side, so patterns keep their shape on non-square images."""
    y, x = _grid(h, w, device)
    side = max(h, w)
    return y * (h / side), x * (w / side)


def _rotated(n: int, h: int, w: int, device: torch.device,
             g: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    y, x = _pixel_coords(h, w, device)
    angle = _rand(n, device, g, 0.0, math.pi)[:, None, None]
    u = x * torch.cos(angle) + y * torch.sin(angle)
    v = -x * torch.sin(angle) + y * torch.cos(angle)
    return u, v


def random_stripes(n: int, h: int, w: int, device: torch.device,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Stripes of random angle, period (1/20 to 1/2 of the image), phase and duty cycle."""
    u, _ = _rotated(n, h, w, device, generator)
    period = _rand(n, device, generator, 0.05, 0.5)[:, None, None]
    phase = _rand(n, device, generator)[:, None, None]
    duty = _rand(n, device, generator, 0.3, 0.7)[:, None, None]
    return (torch.frac(u / period + phase + 10.0) < duty).float()[:, None]


def random_checkerboard(n: int, h: int, w: int, device: torch.device,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Checkerboards of random angle, cell size (1/12 to 1/2 of the image) and offset."""
    u, v = _rotated(n, h, w, device, generator)
    cell = _rand(n, device, generator, 1 / 12, 0.5)[:, None, None]
    offset = _rand(n, device, generator, 0.0, 1.0, 2)[:, :, None, None]
    parity = torch.floor(u / cell + offset[:, 0]) + torch.floor(v / cell + offset[:, 1])
    return (parity % 2 == 0).float()[:, None]


def random_rectangles(n: int, h: int, w: int, device: torch.device, generator: torch.Generator | None = None,
                      max_count: int = 4) -> torch.Tensor:
    """The union of 1 to ``max_count`` axis-aligned rectangles, each 10% to 70% of a side."""
    y, x = _grid(h, w, device)
    size = _rand(n, device, generator, 0.1, 0.7, max_count, 2)
    corner = _rand(n, device, generator, 0.0, 1.0, max_count, 2) * (1 - size)
    count = torch.randint(1, max_count + 1, (n, 1), device=device, generator=generator)
    active = torch.arange(max_count, device=device)[None] < count  # (n, max_count)
    inside = ((y >= corner[..., 0, None, None]) & (y < (corner + size)[..., 0, None, None])
              & (x >= corner[..., 1, None, None]) & (x < (corner + size)[..., 1, None, None]))
    return (inside & active[..., None, None]).any(dim=1, keepdim=True).float()


def random_blobs(n: int, h: int, w: int, device: torch.device,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Smooth random regions: upsampled low-resolution noise thresholded at a random level."""
    cells = int(torch.randint(2, 7, (1,), generator=generator, device=device).item()) if generator is not None \
        else int(torch.randint(2, 7, (1,)).item())
    noise = torch.rand((n, 1, cells, cells), device=device, generator=generator)
    field = F.interpolate(noise, size=(h, w), mode="bicubic", align_corners=False)
    low, high = field.amin(dim=(2, 3), keepdim=True), field.amax(dim=(2, 3), keepdim=True)
    level = _rand(n, device, generator, 0.35, 0.65)[:, None, None, None]
    return (field > low + level * (high - low)).float()


def random_brush(n: int, h: int, w: int, device: torch.device, generator: torch.Generator | None = None,
                 segments: int = 8) -> torch.Tensor:
    """Free-form brush strokes: a random walk of ``segments`` thick line segments per sample."""
    y, x = _pixel_coords(h, w, device)
    extent = torch.tensor([h, w], device=device, dtype=torch.float32) / max(h, w)
    start = _rand(n, device, generator, 0.0, 1.0, 1, 2) * extent
    heading = _rand(n, device, generator, 0.0, 2 * math.pi) [:, None] \
        + torch.cumsum(_rand(n, device, generator, -1.2, 1.2, segments), dim=1)
    step = _rand(n, device, generator, 0.08, 0.25, segments)
    moves = torch.stack([torch.sin(heading), torch.cos(heading)], dim=-1) * step[..., None]
    points = torch.cat([start, start + torch.cumsum(moves, dim=1)], dim=1)  # (n, segments + 1, 2)
    points = extent - (points % (2 * extent) - extent).abs()  # bounce off the borders instead of sticking to them
    a, b = points[:, :-1, :, None, None], points[:, 1:, :, None, None]  # (n, S, 2, 1, 1)
    p = torch.stack([y, x])  # (2, H, W)
    ab = b - a
    t = (((p - a) * ab).sum(2) / ab.square().sum(2).clamp_min(1e-8)).clamp(0, 1)  # (n, S, H, W)
    distance = (p - (a + t[:, :, None] * ab)).square().sum(2).sqrt().amin(dim=1, keepdim=True)
    radius = _rand(n, device, generator, 0.03, 0.1)[:, None, None, None]
    return (distance < radius).float()


def _full(n: int, h: int, w: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
    return torch.ones((n, 1, h, w), device=device)


def _empty(n: int, h: int, w: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
    return torch.zeros((n, 1, h, w), device=device)


PROCEDURAL: dict[str, Callable[..., torch.Tensor]] = {
    "stripes": random_stripes, "checkerboard": random_checkerboard, "rectangles": random_rectangles,
    "blobs": random_blobs, "brush": random_brush, "full": _full, "empty": _empty,
}
"""The random families by name; with ``library`` they are :data:`MASK_FAMILIES`."""
assert set(PROCEDURAL) | {"library"} == set(MASK_FAMILIES), "a mask family without a sampler, or the other way round"


class MaskSampler:
    """Draws batches of masks from a mix of families, on any device.

    Args:
        probabilities: family name -> weight (normalized here; zero or missing weights disable a family).
            Families: ``library`` plus those in :data:`PROCEDURAL`. Defaults to :data:`DEFAULT_MASK_PROBABILITIES`.
        extra_masks: additional (1, H, W) masks, e.g. user PNGs, drawn as part of the ``library`` family.
        library_names: which library patterns to draw (default: all).

    Library masks are flipped horizontally and vertically at random, so ``half_vertical`` also yields the right
    half and ``half_diagonal`` all four corners.
    """

    def __init__(self, probabilities: Mapping[str, float] | None = None, extra_masks: list[torch.Tensor] | None = None,
                 library_names: list[str] | None = None) -> None:
        probabilities = dict(DEFAULT_MASK_PROBABILITIES if probabilities is None else probabilities)
        unknown = set(probabilities) - set(MASK_FAMILIES)
        if unknown:
            raise ValueError(f"unknown mask families {sorted(unknown)}; known: {', '.join(MASK_FAMILIES)}")
        if any(p < 0 for p in probabilities.values()) or sum(probabilities.values()) <= 0:
            raise ValueError(f"mask probabilities must be >= 0 with a positive sum, got {probabilities}")
        total = sum(probabilities.values())
        self.families = [name for name, p in probabilities.items() if p > 0]
        self.weights = torch.tensor([probabilities[name] / total for name in self.families])
        self.library_names = list(library_names or LIBRARY)
        for name in self.library_names:
            library_mask(name, 1, 1)  # fail early on a typo
        self.extra_masks = list(extra_masks or [])
        self._library_cache: dict[tuple[int, int, str], torch.Tensor] = {}

    def _library(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        key = (h, w, str(device))
        if key not in self._library_cache:
            masks = [library_mask(name, h, w, device) for name in self.library_names]
            masks += [F.interpolate(m[None].float().to(device), size=(h, w), mode="nearest")[0]
                      for m in self.extra_masks]
            self._library_cache[key] = torch.stack(masks)
        return self._library_cache[key]

    def sample_library(self, n: int, h: int, w: int, device: torch.device,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        bank = self._library(h, w, device)
        masks = bank[torch.randint(len(bank), (n,), device=device, generator=generator)]
        flips = torch.rand((n, 2), device=device, generator=generator) < 0.5
        masks = torch.where(flips[:, 0, None, None, None], masks.flip(-1), masks)
        return torch.where(flips[:, 1, None, None, None], masks.flip(-2), masks)

    def __call__(self, n: int, height: int, width: int, device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` masks, (n, 1, height, width) float {0, 1}; ``generator`` (on ``device``) makes it repeatable."""
        device = torch.device(device)
        # The family of each row is chosen on the CPU, so that grouping the rows by family (nonzero, numel) never
        # waits for the accelerator: a training step draws its masks without a host sync. Only a generator on
        # another device forces one copy of the choice to the host.
        if generator is None or generator.device.type == "cpu":
            choice = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        else:
            choice = torch.multinomial(self.weights.to(device), n, replacement=True, generator=generator).cpu()
        masks = torch.empty((n, 1, height, width), device=device)
        # One call per family present: each family is batched, and a batch holds at most eight of them.
        for index, family in enumerate(self.families):
            rows = (choice == index).nonzero().flatten()
            if rows.numel() == 0:
                continue
            draw = self.sample_library if family == "library" else PROCEDURAL[family]
            masks[rows.to(device, non_blocking=True)] = draw(rows.numel(), height, width, device, generator)
        return masks
