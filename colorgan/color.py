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

__all__ = ["AB_SCALE", "L_SCALE", "chroma", "lab_norm_to_rgb", "rgb_to_gray", "rgb_to_lab_norm"]


def _check_image(x: torch.Tensor, channels: int, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} must have shape (B, {channels}, H, W), got {tuple(x.shape)}")


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
        lab = torch.cat([(L.float() + 1.0) * L_SCALE, ab.float() * AB_SCALE], dim=1)
        return lab_to_rgb(lab, clip=True)


def rgb_to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """The grayscale (R = G = B) version of an sRGB image with the same CIE lightness.

    Args:
        rgb: (B, 3, H, W) sRGB in [0, 1].

    Returns:
        (B, 3, H, W) float32 in [0, 1] whose three channels are bitwise equal.
    """
    L, _ = rgb_to_lab_norm(rgb)
    gray = lab_norm_to_rgb(L, torch.zeros_like(L).expand(-1, 2, -1, -1))
    # Lab -> XYZ -> RGB leaves a ~1e-7 spread between channels; the mean makes gray exactly gray.
    return gray.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1).contiguous()


def chroma(ab: torch.Tensor) -> torch.Tensor:
    """Chroma C* = sqrt(a*^2 + b*^2) in Lab units (0 is gray) of normalized ``ab`` (B, 2, H, W) -> (B, 1, H, W)."""
    _check_image(ab, 2, "ab")
    return ab.float().mul(AB_SCALE).square().sum(dim=1, keepdim=True).sqrt()
