"""Chroma as classes: the quantized ab plane, soft targets and annealed-mean decoding (torch only).

Regressing ab with L1/L2 predicts the conditional *mean* chroma, and where a grayscale patch could be green grass
or brown earth that mean is a dull tan: the "sepia" look. Zhang et al., "Colorful Image Colorization" (ECCV 2016)
predict a distribution over quantized ab bins instead and decode it with an *annealed mean*: the softmax
re-sharpened by a temperature ``T`` (1: the mean, -> 0: the mode; they use 0.38), which keeps most of the mean's
smoothness but picks one plausible hue instead of averaging hues into brown.

All ab here are colorgan's normalized ab (ab / 110, see :mod:`colorgan.color`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812

AB_RANGE = 110.0
"""Lab a, b units per normalized unit (colorgan.color.AB_SCALE, repeated here: models/ imports torch only)."""
GRID = 10.0
"""Bin spacing in Lab units, as in Zhang et al."""
SIGMA = 5.0
"""Width (Lab units) of the Gaussian that spreads a true color over its nearest bins (Zhang et al.)."""

__all__ = ["GRID", "SIGMA", "ab_bin_centers", "annealed_mean", "class_weights", "downsample_ab", "soft_encode"]


def ab_bin_centers(grid: float = GRID) -> torch.Tensor:
    """(Q, 2) normalized centers of the ab bins: a square grid of spacing ``grid`` Lab units inside |ab| <= 110.

    Zhang et al. keep the 313 bins of the 10-unit grid that are in the sRGB gamut; the disc is a superset (out-of-gamut
    bins never get a target, so they are learned away), computed without any color table.

    >>> ab_bin_centers().shape
    torch.Size([384, 2])
    """
    steps = torch.arange(-AB_RANGE + grid / 2, AB_RANGE, grid, dtype=torch.float64)
    a, b = torch.meshgrid(steps, steps, indexing="ij")
    centers = torch.stack([a.flatten(), b.flatten()], dim=1)
    centers = centers[centers.square().sum(1) <= AB_RANGE ** 2]
    return (centers / AB_RANGE).float()


def soft_encode(ab: torch.Tensor, centers: torch.Tensor, neighbors: int = 5, sigma: float = SIGMA) -> torch.Tensor:
    """Soft class targets of true chroma: (B, 2, H, W) ab -> (B, Q, H, W), summing to 1 at each pixel.

    Each pixel's probability goes to its ``neighbors`` nearest bins, weighted by a Gaussian of ``sigma`` Lab units
    (Zhang et al.: 5 and 5), so a color between two bins is not forced into one of them.

    >>> c = ab_bin_centers()
    >>> t = soft_encode(torch.zeros(1, 2, 1, 1), c)
    >>> round(float(t.sum()), 4), int((t > 0).sum())
    (1.0, 5)
    """
    b, _, h, w = ab.shape
    points = ab.float().permute(0, 2, 3, 1).reshape(-1, 2)
    distance = torch.cdist(points, centers.to(points))  # (N, Q) in normalized units
    near, index = distance.topk(neighbors, dim=1, largest=False)
    weight = torch.softmax(-(near * AB_RANGE).square() / (2 * sigma ** 2), dim=1)
    targets = points.new_zeros(points.shape[0], centers.shape[0]).scatter_(1, index, weight)
    return targets.view(b, h, w, -1).permute(0, 3, 1, 2)


def annealed_mean(logits: torch.Tensor, centers: torch.Tensor, temperature: float) -> torch.Tensor:
    """Decode class logits (B, Q, H, W) to ab (B, 2, H, W): the mean of ``softmax(logits / temperature)``.

    ``temperature`` 1 gives the distribution's mean, smaller values move toward its mode. Differentiable, and in
    [-1, 1] since it is a convex combination of the centers.

    >>> c = ab_bin_centers()
    >>> logits = torch.full((1, len(c), 1, 1), -30.0); logits[0, 0] = 0.0
    >>> torch.allclose(annealed_mean(logits, c, 0.38)[0, :, 0, 0], c[0])
    True
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    probabilities = torch.softmax(logits.float() / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", probabilities, centers.to(probabilities))


def class_weights(prior: torch.Tensor, mix: float = 0.5) -> torch.Tensor:
    """Zhang et al.'s class rebalancing: (Q,) prior -> (Q,) weights ``1 / ((1 - mix) * prior + mix / Q)``,
    normalized so that their expectation under ``prior`` is 1 (rare, saturated colors count more)."""
    weights = 1.0 / ((1 - mix) * prior + mix / prior.numel())
    return weights / (prior * weights).sum()


def downsample_ab(ab: torch.Tensor, stride: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, ceil(H / stride), ceil(W / stride)): area average, as the class targets are at the
    logits' resolution."""
    return F.avg_pool2d(ab, stride, ceil_mode=True) if stride > 1 else ab
