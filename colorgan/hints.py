"""User color hints inside the mask: which color, not only where (no Lightning).

A generator takes hints through its condition input as three channels, the layout of Zhang et al.'s SIGGRAPH 2017
model:

- ``condition[:, 0:2]``: normalized (a, b) of each hint (see :mod:`colorgan.color`), spread over its square
  patch; 0 where there is no hint.
- ``condition[:, 2:3]``: the hint mask, 1 where a hint is given, else 0.

A hint is a square patch of ``size`` pixels centered on the pixel (row, col) (rows ``row - (size - 1) // 2`` to
``row + size // 2``, columns alike). Its pixels are clipped to the image and to the color mask (``mask > 0``), so
no hinted pixel is ever outside the mask, and a hint whose center is outside the mask is dropped. Where patches
overlap, their values are averaged.

:func:`sample_hints` draws hints from the truth for training and evaluation; :func:`hints_from_points` builds the
same condition from explicit hints. Both are batched on the inputs' device without host syncs: every image gets
``max_count`` candidate hints and keeps the first ``count`` by a comparison.

Hints as users give them (``colorgan predict --hint X,Y,COLOR[,SIZE]``, ``--hints FILE``, ``colorize(hints=...)``)
are :class:`UserHint`: a point of the input image and a color. :func:`place_hints` turns them into
:class:`Hint` at the generator's working resolution, with the hint's ab that of its color (the L stays the photo's).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from PIL import ImageColor

from colorgan.color import rgb_to_lab_norm
from colorgan.errors import ColorganError

HINT_CHANNELS = 3
"""Condition channels of a hinted generator: (a, b, hint mask)."""
HINT_P = 1 / 8
"""Default parameter of the geometric hint count: P(count = k) = p (1 - p)^k, so 1/8 of images get no hint and the
mean is 7 (colorization-pytorch's choice)."""
HINT_SIZES = tuple(range(1, 10))
"""Default patch sides in pixels, drawn uniformly (colorization-pytorch's 1-9)."""
MAX_HINTS = 64
"""Default cap on the hints of one training image; the geometric count exceeds it with probability (7/8)^64 ~ 2e-4."""
USER_HINT_SIZE = 5
"""Default patch side of a user hint, in working-resolution pixels (the middle of the 1-9 trained on)."""

__all__ = ["HINT_CHANNELS", "HINT_P", "HINT_SIZES", "MAX_HINTS", "USER_HINT_SIZE", "Hint", "UserHint", "color_ab",
           "generate", "hint_counts", "hints_from_points", "load_hints", "paint_hints", "parse_hint", "place_hints",
           "require_hints", "sample_hints", "takes_hints", "to_user_hint"]


@dataclass(frozen=True)
class Hint:
    """One explicit hint at the generator's working resolution.

    Args:
        row, col: the patch's center pixel (it must lie inside the mask for the hint to count).
        ab: normalized (a, b) of the hinted color.
        size: the patch side in pixels (training draws 1-9).
    """

    row: int
    col: int
    ab: tuple[float, float]
    size: int = 5


def hint_counts(n: int, *, p: float = HINT_P, max_count: int = MAX_HINTS, device: torch.device | str = "cpu",
                generator: torch.Generator | None = None) -> torch.Tensor:
    """(n,) long hint counts, geometric with parameter ``p`` (P(k) = p (1 - p)^k, k >= 0), capped at ``max_count``.

    Example:
        >>> hint_counts(3, p=1.0).tolist()
        [0, 0, 0]
    """
    if not 0 < p <= 1:
        raise ValueError(f"the hint probability p must be in (0, 1], got {p}")
    if p == 1:
        return torch.zeros(n, dtype=torch.long, device=device)
    # Inverse CDF: P(count >= k) = P(u <= (1 - p)^k) = (1 - p)^k.
    u = torch.rand(n, device=device, generator=generator).clamp_min(torch.finfo(torch.float32).tiny)
    return (torch.log(u) / math.log1p(-p)).floor().clamp(max=max_count).long()


def _box_sum(x: torch.Tensor, size: int, anchor: str) -> torch.Tensor:
    """Sums of (B, C, H, W) ``x`` over size x size windows, (B, C, H, W); zeros beyond the border.

    ``anchor="corner"``: the window whose top-left pixel is each pixel (a patch's content, read at its corner);
    ``anchor="footprint"``: the window whose bottom-right pixel is each pixel (how many corners cover it).
    """
    if size == 1:
        return x
    pad = (0, size - 1, 0, size - 1) if anchor == "corner" else (size - 1, 0, size - 1, 0)
    return F.avg_pool2d(F.pad(x, pad), size, stride=1, divisor_override=1)


def paint_hints(mask: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, sizes: torch.Tensor,
                keep: torch.Tensor, ab: torch.Tensor | None = None, values: torch.Tensor | None = None,
                size_set: Sequence[int] = HINT_SIZES) -> torch.Tensor:
    """The (B, 3, H, W) hint condition of K candidate hints per image.

    Args:
        mask: (B, 1, H, W) color mask; hinted pixels are clipped to ``mask > 0``.
        rows, cols: (B, K) long center pixels of the patches, in [0, H) and [0, W).
        sizes: (B, K) long patch sides, each one of ``size_set``.
        keep: (B, K) bool, which candidates are hints; those whose center is outside the mask are dropped too.
        ab: (B, 2, H, W) truth; each hint then carries the mean of ``ab`` over its patch (within the mask).
        values: (B, 2, K) explicit normalized (a, b) of each hint, instead of ``ab``.
        size_set: every size that ``sizes`` may hold (the loop over it is fixed, not data-dependent).

    Returns:
        (B, 3, H, W) in the mask's dtype: (a, b) spread over each kept patch (averaged where patches overlap) and
        the hint mask; exactly 0 outside the mask.
    """
    if (ab is None) == (values is None):
        raise ValueError("pass exactly one of ab (hints carry its patch means) and values (explicit colors)")
    n, _, height, width = mask.shape
    inside = (mask > 0).to(torch.float32)
    keep = keep & (inside.flatten(1).gather(1, rows * width + cols) > 0)
    # Patches are painted from their top-left corners, which lie up to `top` pixels above or left of the image: the
    # work happens in a frame padded by `top` at the top and left, cropped at the end.
    top = (max(size_set) - 1) // 2
    frame_w = width + top
    corner = (rows - (sizes - 1) // 2 + top) * frame_w + (cols - (sizes - 1) // 2 + top)  # (B, K) in the frame
    inside_frame = F.pad(inside, (top, 0, top, 0))
    total = inside.new_zeros(n, 2, height + top, frame_w)  # sum of the values of the patches covering each pixel
    cover = inside.new_zeros(n, 1, height + top, frame_w)  # how many patches cover each pixel
    for size in size_set:
        chosen = (keep & (sizes == size)).to(torch.float32)  # (B, K)
        if ab is not None:
            # The mean truth over the patch's pixels inside the mask; the center is inside, so the count is >= 1.
            content = torch.cat([F.pad(ab.float() * inside, (top, 0, top, 0)), inside_frame], dim=1)
            sums = _box_sum(content, size, "corner").flatten(2).gather(2, corner[:, None].expand(-1, 3, -1))
            patch_values = sums[:, :2] / sums[:, 2:].clamp_min(1.0)  # (B, 2, K)
        else:
            patch_values = values.float()
        corners = inside.new_zeros(n, 3, (height + top) * frame_w)
        corners.scatter_add_(2, corner[:, None].expand(-1, 3, -1),
                             torch.cat([patch_values * chosen[:, None], chosen[:, None]], dim=1))
        spread = _box_sum(corners.view(n, 3, height + top, frame_w), size, "footprint")
        total, cover = total + spread[:, :2], cover + spread[:, 2:]
    total, cover = total[..., top:, top:], cover[..., top:, top:]
    hinted = (cover > 0.5) & (inside > 0)  # counts are whole numbers; 0.5 is safe against float noise
    hint_ab = torch.where(hinted, total / cover.clamp_min(1.0), 0.0)
    return torch.cat([hint_ab, hinted.to(torch.float32)], dim=1).to(mask.dtype)


def _uniform_in_mask(inside: torch.Tensor, count: int, generator: torch.Generator | None) -> torch.Tensor:
    """(B, K=count) flat indices drawn uniformly among the pixels where (B, H*W) ``inside`` is 1.

    Inverse CDF by ``searchsorted`` on the cumulative pixel count: no host sync (``torch.multinomial`` would refuse
    an all-gray mask). An image without mask pixels gets index H*W - 1, which :func:`paint_hints` then drops.
    """
    cdf = inside.cumsum(dim=1)  # (B, HW), whole numbers up to the mask's pixel count
    u = torch.rand(inside.shape[0], count, device=inside.device, generator=generator)
    target = u * cdf[:, -1:]  # in [0, pixels): the first pixel whose cdf exceeds it is a mask pixel
    return torch.searchsorted(cdf, target, right=True).clamp_(max=inside.shape[1] - 1)


def sample_hints(ab: torch.Tensor, mask: torch.Tensor, *, p: float = HINT_P, max_count: int = MAX_HINTS,
                 sizes: Sequence[int] = HINT_SIZES, count: int | torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Hints drawn from the truth, as a (B, 3, H, W) condition (see the module docstring).

    Per image, the number of hints is drawn by :func:`hint_counts`, unless ``count`` fixes it (an int for all
    images, or a (B,) tensor). Each hint is a square patch of a side drawn uniformly from ``sizes``, its center
    drawn uniformly among the mask's pixels, and it carries the mean true ab of its patch (over the patch's
    pixels inside the mask).

    Args:
        ab: (B, 2, H, W) normalized true chroma.
        mask: (B, 1, H, W) color mask in [0, 1]; hints only where ``mask > 0``.
        p: geometric parameter in (0, 1].
        max_count: candidate hints per image (with ``count``: at least the largest count).
        sizes: patch sides in pixels.
        count: fixed hint counts instead of the geometric draw (evaluation).
        generator: random source on ``ab``'s device (a fixed seed makes the hints reproducible).

    Returns:
        (B, 3, H, W) in ``mask``'s dtype on ``ab``'s device.

    Example:
        >>> ab, mask = torch.rand(1, 2, 8, 8) - 0.5, torch.ones(1, 1, 8, 8)
        >>> int(sample_hints(ab, mask, count=0)[:, 2].sum())
        0
    """
    if max_count < 0 or not sizes or min(sizes) < 1:
        raise ValueError(f"max_count must be >= 0 and sizes >= 1, got {max_count} and {tuple(sizes)}")
    n, _, height, width = mask.shape
    device = ab.device
    if count is None:
        counts = hint_counts(n, p=p, max_count=max_count, device=device, generator=generator)
    elif isinstance(count, int):  # torch.full, not torch.tensor: copying host data to a GPU waits for it
        counts = torch.full((n,), count, device=device, dtype=torch.long)
        max_count = max(max_count, count)
    else:
        counts = count.to(device=device, dtype=torch.long).expand(n)
    index = _uniform_in_mask((mask > 0).flatten(1).to(torch.float32), max_count, generator)
    pick = torch.randint(len(sizes), (n, max_count), device=device, generator=generator)
    size = torch.zeros_like(pick)
    for j, side in enumerate(sizes):  # a lookup without a host-to-device copy of the size table
        size = torch.where(pick == j, side, size)
    keep = torch.arange(max_count, device=device)[None] < counts[:, None]
    return paint_hints(mask, index // width, index % width, size, keep, ab=ab, size_set=tuple(sizes))


def takes_hints(generator: torch.nn.Module) -> bool:
    """Whether ``generator`` was built for hints: its condition input has the :data:`HINT_CHANNELS` channels."""
    return getattr(generator, "condition_channels", 0) == HINT_CHANNELS


def require_hints(generator: torch.nn.Module, use: str) -> None:
    """Refuse, in one line saying that it cannot ``use``, a ``generator`` trained without hints."""
    if not takes_hints(generator):
        raise ColorganError(f"this checkpoint was trained without hints (its generator has no hint channels), so it "
                            f"cannot {use}")


def generate(generator: torch.nn.Module, L: torch.Tensor, mask: torch.Tensor,  # noqa: N803
             condition: torch.Tensor | None) -> torch.Tensor:
    """``generator(L, mask[, condition])``: generators without a condition input keep their two-argument call."""
    return generator(L, mask) if condition is None else generator(L, mask, condition)


def hints_from_points(hints: Sequence[Hint], mask: torch.Tensor) -> torch.Tensor:
    """The (B, 3, H, W) condition of explicit ``hints``, the same for every image of ``mask`` (B, 1, H, W).

    Each hint's color fills its patch (clipped to the image and the mask); a hint whose center is outside the mask,
    or outside the image, is dropped. No hints: an all-zero condition.
    """
    n, _, height, width = mask.shape
    device = mask.device
    if not hints:
        return mask.new_zeros(n, HINT_CHANNELS, height, width)
    if any(h.size < 1 for h in hints):
        raise ValueError(f"hint sizes must be >= 1, got {[h.size for h in hints]}")
    rows = torch.tensor([[h.row for h in hints]], device=device).expand(n, -1)
    cols = torch.tensor([[h.col for h in hints]], device=device).expand(n, -1)
    on_image = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    sizes = torch.tensor([[h.size for h in hints]], device=device).expand(n, -1)
    values = torch.tensor([[h.ab[0] for h in hints], [h.ab[1] for h in hints]], device=device)
    return paint_hints(mask, rows.clamp(0, height - 1), cols.clamp(0, width - 1), sizes, on_image,
                       values=values[None].expand(n, -1, -1), size_set=sorted({h.size for h in hints}))


# --- hints as users give them ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserHint:
    """A hint as a user gives it: a point of the input image and a color.

    Args:
        x, y: the point, from the top-left: pixels of the input (ints) or fractions of its width and height
            (floats in [0, 1]).
        color: ``#rrggbb`` (or ``#rgb``), a CSS color name, or an (r, g, b) tuple in 0-255.
        size: the patch side in pixels of the generator's working resolution (the scale ``--size`` sets; training
            draws 1-9).
    """

    x: int | float
    y: int | float
    color: str | tuple[int, int, int]
    size: int = USER_HINT_SIZE

    def __str__(self) -> str:
        color = self.color if isinstance(self.color, str) else "#{:02x}{:02x}{:02x}".format(*self.color)
        return f"{self.x},{self.y},{color},{self.size}"


def _coordinate(text: str, name: str) -> int | float:
    """A pixel (an int >= 0) or a fraction (a number with a point, in [0, 1]) from ``text``."""
    try:
        value: int | float = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name} must be a pixel (like 120) or a fraction (like 0.25), got {text!r}") from None
    return _check_coordinate(value, name)


def _check_coordinate(value: Any, name: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a pixel (an int) or a fraction (a float in [0, 1]), got {value!r}")
    if isinstance(value, int) and value < 0:
        raise ValueError(f"{name} must be a pixel >= 0, got {value}")
    if isinstance(value, float) and not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} {value} has a point, so it is a fraction of the image, which must be in [0, 1]; "
                         f"write pixels without a point")
    return value


def color_ab(color: str | Sequence[int]) -> tuple[float, float]:
    """Normalized (a, b) of a color: ``#rrggbb``, a CSS color name, or (r, g, b) in 0-255.

    Example:
        >>> a, b = color_ab("red")
        >>> a > 0.5 and b > 0.5
        True
    """
    if isinstance(color, str):
        try:
            rgb = ImageColor.getrgb(color.strip())[:3]
        except ValueError:
            raise ValueError(f"unknown color {color!r}; use #rrggbb or a CSS color name like red") from None
    else:
        rgb = tuple(color)
        if len(rgb) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in rgb):
            raise ValueError(f"a color tuple must be (r, g, b) in 0-255, got {color!r}")
    _, ab = rgb_to_lab_norm(torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1) / 255.0)
    return float(ab[0, 0, 0, 0]), float(ab[0, 1, 0, 0])


def _checked(hint: UserHint) -> UserHint:
    """``hint`` after checking every field (the color is resolved once here, so a bad one fails before any work)."""
    _check_coordinate(hint.x, "X")
    _check_coordinate(hint.y, "Y")
    color_ab(hint.color)
    if isinstance(hint.size, bool) or not isinstance(hint.size, int) or hint.size < 1:
        raise ValueError(f"SIZE must be a whole number of pixels >= 1, got {hint.size!r}")
    return hint


def parse_hint(text: str) -> UserHint:
    """``X,Y,COLOR[,SIZE]`` -> :class:`UserHint`; ValueError (one line) on bad input.

    Example:
        >>> parse_hint("0.25,40,#ff0000")
        UserHint(x=0.25, y=40, color='#ff0000', size=5)
    """
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (3, 4):
        raise ValueError(f"a hint is X,Y,COLOR[,SIZE] (like 120,80,red or 0.5,0.25,#ff8800,3), got {text!r}")
    size = USER_HINT_SIZE
    if len(parts) == 4:
        try:
            size = int(parts[3])
        except ValueError:
            raise ValueError(f"SIZE must be a whole number of pixels >= 1, got {parts[3]!r}") from None
    return _checked(UserHint(_coordinate(parts[0], "X"), _coordinate(parts[1], "Y"), parts[2], size))


def to_user_hint(hint: UserHint | str | Mapping[str, Any]) -> UserHint:
    """A :class:`UserHint` from itself, an ``X,Y,COLOR[,SIZE]`` string or a ``{"x", "y", "color"[, "size"]}`` dict."""
    if isinstance(hint, UserHint):
        return _checked(hint)
    if isinstance(hint, str):
        return parse_hint(hint)
    if isinstance(hint, Mapping):
        unknown = set(hint) - {"x", "y", "color", "size"}
        if unknown or not {"x", "y", "color"} <= set(hint):
            raise ValueError(f"a hint object has x, y, color and optionally size, got {dict(hint)!r}")
        color = hint["color"]
        return _checked(UserHint(hint["x"], hint["y"], color if isinstance(color, str) else tuple(color),
                                 hint.get("size", USER_HINT_SIZE)))
    raise ValueError(f"a hint is a UserHint, an 'X,Y,COLOR[,SIZE]' string or a dict, got {hint!r}")


def load_hints(path: str | Path) -> list[UserHint]:
    """Hints from a JSON file: a list of ``{"x", "y", "color"[, "size"]}`` objects or ``"X,Y,COLOR[,SIZE]"`` strings.

    Raises:
        ColorganError: the file cannot be read or holds something else (one line naming it).
    """
    try:
        items = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ColorganError(f"cannot read hints file {path} ({error})") from None
    if not isinstance(items, list):
        raise ColorganError(f"hints file {path} must hold a JSON list of hints, got {type(items).__name__}")
    try:
        return [to_user_hint(item) for item in items]
    except ValueError as error:
        raise ColorganError(f"hints file {path}: {error}") from None


def place_hints(hints: Sequence[UserHint], mask: torch.Tensor, working: tuple[int, int],
                ) -> tuple[list[Hint], list[tuple[UserHint, str]]]:
    """The hints that fall inside ``mask`` (1, 1, H, W) as :class:`Hint` at the working size (h, w); and the others.

    A point outside the image or where the mask is 0 (at full resolution) is not placed; each such hint comes back
    with the reason, for the caller to warn.
    """
    height, width = mask.shape[-2:]
    placed, ignored = [], []
    for hint in hints:
        x = min(int(hint.x * width), width - 1) if isinstance(hint.x, float) else hint.x
        y = min(int(hint.y * height), height - 1) if isinstance(hint.y, float) else hint.y
        if not (0 <= x < width and 0 <= y < height):
            ignored.append((hint, f"outside the {width}x{height} image"))
        elif not float(mask[0, 0, y, x]) > 0:
            ignored.append((hint, "outside the mask"))
        else:
            row, col = y * working[0] // height, x * working[1] // width
            placed.append(Hint(row, col, color_ab(hint.color), hint.size))
    return placed, ignored
