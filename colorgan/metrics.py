"""Colorization metrics that torchmetrics does not have: pure functions, one value per image."""

from __future__ import annotations

import torch

from colorgan.color import chroma

__all__ = ["colorfulness", "mask_leak"]


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler and Suesstrunk's colorfulness M = sigma_rgyb + 0.3 mu_rgyb, on the 0-255 scale of the paper.

    Args:
        rgb: (B, 3, H, W) sRGB in [0, 1].

    Returns:
        (B,) float32; 0 for any gray image, about 33 for "moderately", 59 for "quite", 82+ for "highly colorful".
    """
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"rgb must have shape (B, 3, H, W), got {tuple(rgb.shape)}")
    r, g, b = (255.0 * rgb.float()).unbind(dim=1)
    rg = (r - g).flatten(1)
    yb = (0.5 * (r + g) - b).flatten(1)
    sigma = (rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False)).sqrt()
    mu = (rg.mean(dim=1).square() + yb.mean(dim=1).square()).sqrt()
    return sigma + 0.3 * mu


def mask_leak(ab: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean chroma C* (Lab units) of the pixels that the mask keeps gray (``mask == 0``): 0 means no leak.

    Args:
        ab: (B, 2, H, W) normalized chroma (see :mod:`colorgan.color`).
        mask: (B, 1, H, W) in [0, 1].

    Returns:
        (B,) float32; 0 for images whose mask has no gray pixels.
    """
    outside = (mask == 0).float()
    return (chroma(ab) * outside).flatten(1).sum(1) / outside.flatten(1).sum(1).clamp_min(1.0)
