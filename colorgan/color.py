"""Color math: RGB <-> normalized Lab, batched and differentiable.

Everything the networks see or produce is in *normalized* Lab:

- ``L`` (B, 1, H, W): CIE L* in [0, 100] mapped linearly to [-1, 1] (``L* / L_SCALE - 1``).
- ``ab`` (B, 2, H, W): CIE a*, b* divided by ``AB_SCALE``. sRGB colors stay within about [-0.8, 0.9], so
  a ``tanh`` output covers every displayable color; ``ab = 0`` is exactly neutral gray.

The conversion is kornia's (D65 white point, sRGB companding) and always runs in float32, also when called
under ``torch.autocast``: the cube roots and the companding power are badly conditioned in bf16/fp16.
"""

from __future__ import annotations

import torch
from kornia.color import lab_to_rgb, rgb_to_lab

L_SCALE = 50.0
"""L* in [0, 100] is stored as ``L* / L_SCALE - 1`` in [-1, 1]."""
AB_SCALE = 110.0
"""a*, b* are stored as ``ab / AB_SCALE``; the sRGB gamut spans roughly a* in [-86, 98], b* in [-108, 95]."""

__all__ = ["AB_SCALE", "L_SCALE", "chroma", "lab_norm_to_rgb", "lab_norm_to_rgb_in_gamut", "neutralize",
           "rgb_to_gray", "rgb_to_lab_norm"]


def _check_image(x: torch.Tensor, channels: int, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} must have shape (B, {channels}, H, W), got {tuple(x.shape)}")


def _denormalize(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:  # noqa: N803
    """Normalized (L, ab) -> CIE Lab (B, 3, H, W) float32: L* in [0, 100], a*, b* in Lab units."""
    return torch.cat([(L.float() + 1.0) * L_SCALE, ab.float() * AB_SCALE], dim=1)


def rgb_to_lab_norm(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Convert sRGB images to normalized Lab.

    Args:
        rgb: (B, 3, H, W) sRGB in [0, 1], any float dtype, any device.

    Returns:
        ``(L, ab)``: (B, 1, H, W) in [-1, 1] and (B, 2, H, W) in about [-1, 1], both float32.

    Example:
        >>> L, ab = rgb_to_lab_norm(torch.full((1, 3, 2, 2), 0.5))
        >>> bool(ab.abs().max() < 1e-3)
        True
    """
    _check_image(rgb, 3, "rgb")
    with torch.autocast(device_type=rgb.device.type, enabled=False):
        lab = rgb_to_lab(rgb.float().clamp(0.0, 1.0))
    return lab[:, :1] / L_SCALE - 1.0, lab[:, 1:] / AB_SCALE


def lab_norm_to_rgb(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:  # noqa: N803 (L is the standard name)
    """Convert normalized Lab back to sRGB.

    Args:
        L: (B, 1, H, W) normalized lightness in [-1, 1].
        ab: (B, 2, H, W) normalized chroma, same batch and size as ``L``.

    Returns:
        (B, 3, H, W) float32 sRGB clipped to [0, 1].

    Example:
        >>> rgb = torch.rand(2, 3, 8, 8)
        >>> bool((lab_norm_to_rgb(*rgb_to_lab_norm(rgb)) - rgb).abs().max() < 1e-4)
        True
    """
    _check_image(L, 1, "L")
    _check_image(ab, 2, "ab")
    if L.shape[0] != ab.shape[0] or L.shape[-2:] != ab.shape[-2:]:
        raise ValueError(f"L {tuple(L.shape)} and ab {tuple(ab.shape)} must share batch and spatial size")
    with torch.autocast(device_type=L.device.type, enabled=False):
        return lab_to_rgb(_denormalize(L, ab), clip=True)


def lab_norm_to_rgb_in_gamut(L: torch.Tensor, ab: torch.Tensor, steps: int = 8,  # noqa: N803
                             tolerance: float = 1e-3) -> torch.Tensor:
    """Like :func:`lab_norm_to_rgb`, but colors outside sRGB lose chroma instead of having their channels clipped.

    Clipping R, G and B separately changes lightness and hue; scaling (a*, b*) down keeps both. The largest factor
    in [0, 1] that fits is bisected (``steps`` halvings: to 1/256) for the out-of-gamut pixels only, which are few
    for a trained model.

    Args:
        L: (B, 1, H, W) normalized lightness in [-1, 1].
        ab: (B, 2, H, W) normalized chroma.
        steps: bisection steps.
        tolerance: how far outside [0, 1] a channel may be and still count as in gamut (then clipped).

    Returns:
        (B, 3, H, W) float32 sRGB in [0, 1]. Where ``ab == 0`` it equals :func:`lab_norm_to_rgb` bit for bit.
    """
    _check_image(L, 1, "L")
    _check_image(ab, 2, "ab")
    with torch.autocast(device_type=L.device.type, enabled=False):
        lab = _denormalize(L, ab)
        rgb = lab_to_rgb(lab, clip=False)
        bad = (rgb.amin(dim=1) < -tolerance) | (rgb.amax(dim=1) > 1.0 + tolerance)  # (B, H, W)
        if bad.any():
            lab_bad = lab.movedim(1, -1)[bad].T  # (3, N): the pixels to fix, as one 1 x N "image"
            low, high = lab_bad.new_zeros(lab_bad.shape[1]), lab_bad.new_ones(lab_bad.shape[1])
            for _ in range(steps):  # gray (factor 0) is always in gamut; keep the largest factor known to be
                mid = (low + high) / 2
                trial = lab_to_rgb(torch.cat([lab_bad[:1], lab_bad[1:] * mid])[:, None], clip=False)[:, 0]
                fits = (trial.amin(dim=0) >= -tolerance) & (trial.amax(dim=0) <= 1.0 + tolerance)
                low, high = torch.where(fits, mid, low), torch.where(fits, high, mid)
            fixed = lab_to_rgb(torch.cat([lab_bad[:1], lab_bad[1:] * low])[:, None], clip=False)[:, 0]
            rgb.movedim(1, -1)[bad] = fixed.T  # writes through the view into rgb
        return rgb.clamp_(0.0, 1.0)


def rgb_to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """The grayscale (R = G = B) version of an sRGB image with the same CIE lightness.

    Args:
        rgb: (B, 3, H, W) sRGB in [0, 1].

    Returns:
        (B, 3, H, W) float32 in [0, 1] whose three channels are bitwise equal.
    """
    L, _ = rgb_to_lab_norm(rgb)
    gray = lab_norm_to_rgb(L, torch.zeros_like(L).expand(-1, 2, -1, -1))
    return neutralize(gray, torch.ones_like(L, dtype=torch.bool))


def neutralize(rgb: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """``rgb`` (B, 3, H, W) with the pixels where ``where`` (B, 1, H, W) bool is True made exactly gray.

    Lab -> XYZ -> RGB of a pixel with ab = 0 leaves a ~1e-7 spread between R, G and B, which colorfulness counts and
    which breaks "R = G = B outside the mask" after rounding; their mean is gray to the last bit.
    """
    return torch.where(where, rgb.mean(dim=1, keepdim=True), rgb)


def chroma(ab: torch.Tensor) -> torch.Tensor:
    """Chroma C* = sqrt(a*^2 + b*^2) in Lab units (0 is gray) of normalized ``ab`` (B, 2, H, W) -> (B, 1, H, W)."""
    _check_image(ab, 2, "ab")
    return ab.float().mul(AB_SCALE).square().sum(dim=1, keepdim=True).sqrt()
