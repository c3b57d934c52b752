"""Per-image scores that torchmetrics does not have: pure functions, one value (or one row of sums) per image.

:class:`colorgan.evaluation.metrics.ColorizationMetrics` adds the rows of :func:`image_stats` up per mask family.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import structural_similarity_index_measure

from colorgan.color import AB_SCALE, chroma, lab_norm_to_rgb, neutralize

STATS = ("images", "sse", "values", "sse_mask", "values_mask", "sse_unhinted", "values_unhinted", "ssim", "cf_pred",
         "cf_true", "cf_delta", "leak", "jump_pred", "jump_true", "edge_pairs", "lpips", "lpips_images")
"""The per-image sums kept per family, in this column order."""
SSIM_WINDOW = 11
"""SSIM's Gaussian window (torchmetrics' default); images must be larger than it."""

__all__ = ["PSNR_CAP", "STATS", "colorfulness", "edge_chroma_jump", "image_stats", "mask_leak", "psnr_from_mse",
           "scored_rgb", "seam_score"]


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


PSNR_CAP = 100.0
"""PSNR (dB) reported for identical images (MSE 0) instead of inf, so means, JSON and plots stay finite. 100 dB is an
MSE of 1e-10, far beyond what 8-bit images resolve (uniform quantization noise alone is ~59 dB)."""


def psnr_from_mse(mse: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of images in [0, 1] from their mean squared error, capped at :data:`PSNR_CAP`; NaN stays NaN."""
    return (-10.0 * torch.log10(mse.double())).clamp(max=PSNR_CAP)


def edge_chroma_jump(ab: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Color jumps across the mask's edge: ``(sum, count)`` per image over 4-neighbour pixel pairs that straddle it.

    A pair straddles the edge when one pixel is in the mask (``>= 0.5``) and the other is not; its jump is the
    chroma distance ``||ab(p) - ab(q)||`` in Lab units (L* is the input's on both sides, so this is their CIE76
    color difference).

    Args:
        ab: (B, 2, H, W) normalized chroma.
        mask: (B, 1, H, W) in [0, 1].

    Returns:
        ``(jump_sum, pairs)``: (B,) float32 sum of the jumps and (B,) float32 number of straddling pairs.
    """
    on = mask >= 0.5
    ab = ab.float() * AB_SCALE
    total = ab.new_zeros(ab.shape[0])
    count = ab.new_zeros(ab.shape[0])
    for dim in (2, 3):  # vertical, then horizontal neighbours
        n = ab.shape[dim] - 1
        straddle = (on.narrow(dim, 0, n) != on.narrow(dim, 1, n)).float()
        jump = (ab.narrow(dim, 0, n) - ab.narrow(dim, 1, n)).square().sum(dim=1, keepdim=True).sqrt()
        total += (jump * straddle).flatten(1).sum(1)
        count += straddle.flatten(1).sum(1)
    return total, count


def seam_score(pred_ab: torch.Tensor, target_ab: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """How much stronger the color jump across the mask edge is in the prediction than in the target (Lab units).

    ``mean jump(pred) - mean jump(target)`` over the pixel pairs straddling the edge (see :func:`edge_chroma_jump`).
    0 when the prediction matches the target at the edge; positive for a harder seam (a saturated rim, a halo),
    negative for color fading out before the edge. With the exactly gray outside of a partial colorization this
    is the mean chroma of the inner edge pixels, predicted minus true.

    Args:
        pred_ab: (B, 2, H, W) predicted normalized chroma.
        target_ab: (B, 2, H, W) target chroma (the truth inside the mask, 0 outside).
        mask: (B, 1, H, W) in [0, 1].

    Returns:
        (B,) float32; NaN for images whose mask has no edge (all on or all off).
    """
    pred_sum, pairs = edge_chroma_jump(pred_ab, mask)
    target_sum, _ = edge_chroma_jump(target_ab, mask)
    return (pred_sum - target_sum) / pairs  # 0 / 0 = NaN: no edge, no seam


def scored_rgb(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:  # noqa: N803
    """sRGB (B, 3, H, W) of normalized L (B, 1, H, W) and ab (B, 2, H, W), as scored: ``lab_norm_to_rgb``, with
    every pixel whose ab is exactly 0 made exactly gray (R = G = B), as ``colorize_tensor`` writes it.

    Lab -> RGB of a gray pixel leaves ~1e-7 between the channels, which colorfulness would count as color.
    """
    return neutralize(lab_norm_to_rgb(L, ab), (ab == 0).all(dim=1, keepdim=True))


def image_stats(pred: torch.Tensor, target: torch.Tensor, pred_ab: torch.Tensor, target_ab: torch.Tensor,
                mask: torch.Tensor, lpips: torch.Tensor | None = None, hinted: torch.Tensor | None = None,
                ) -> torch.Tensor:
    """The sums of :data:`STATS` for each image: (B, len(STATS)) float64.

    Args:
        pred, target: (B, 3, H, W) sRGB in [0, 1], prediction and target (truth inside the mask, gray outside).
        pred_ab, target_ab: (B, 2, H, W) their normalized chroma.
        mask: (B, 1, H, W) in [0, 1].
        lpips: (B,) LPIPS distances, or None when not computed.
        hinted: (B, 1, H, W) 1 on the pixels a color hint gave (their truth was an input), or None without hints.
    """
    pred, target, mask = pred.float(), target.float(), mask.float()
    error = (pred - target).square()
    channels = pred.shape[1]
    if min(pred.shape[-2:]) > SSIM_WINDOW:
        ssim = structural_similarity_index_measure(pred, target, data_range=1.0, kernel_size=SSIM_WINDOW,
                                                   reduction="none")
    else:  # the Gaussian window does not fit: SSIM is undefined, not an error
        ssim = pred.new_full((pred.shape[0],), float("nan"))
    cf_pred, cf_true = colorfulness(pred), colorfulness(target)
    jump_pred, pairs = edge_chroma_jump(pred_ab, mask)
    jump_true, _ = edge_chroma_jump(target_ab, mask)
    ones = torch.ones_like(cf_pred)
    lpips_value, lpips_count = (lpips.float().flatten(), ones) if lpips is not None else (0 * ones, 0 * ones)
    unhinted = mask if hinted is None else mask * (1 - hinted.float())
    columns = [ones, error.flatten(1).sum(1), ones * error[0].numel(), (error * mask).flatten(1).sum(1),
               channels * mask.flatten(1).sum(1), (error * unhinted).flatten(1).sum(1),
               channels * unhinted.flatten(1).sum(1), ssim.float(), cf_pred, cf_true, (cf_pred - cf_true).abs(),
               mask_leak(pred_ab, mask), jump_pred, jump_true, pairs, lpips_value, lpips_count]
    return torch.stack([c.double() for c in columns], dim=1)
