"""Colorization metrics per mask family, accumulated over batches.

:class:`ColorizationMetrics` is a torchmetrics ``Metric``: it keeps per-family sums (so it syncs under DDP by
summing) and turns them into the reported numbers at the end. ``colorgan test`` (``ColorGAN.test_step``) and
``colorgan evaluate`` (:mod:`colorgan.evaluation.run`) both use it, so their numbers mean the same thing.

What each score is, over the (image, mask) pairs of a group (one family, or ``all``):

- ``psnr``: PSNR (dB) of the RGB prediction against the target, from the MSE pooled over the group's pixels
  (torchmetrics' ``PeakSignalNoiseRatio`` does the same), capped at :data:`colorgan.evaluation.scores.PSNR_CAP`.
- ``ssim``: torchmetrics' SSIM (Gaussian 11x11 window) per image, averaged.
- ``psnr_mask``: PSNR of the pixels inside the mask only (the part there is to colorize); NaN without any.
- ``psnr_unhinted``: the same over the mask pixels no color hint covers (equal to ``psnr_mask`` without hints):
  how far hints spread, not only the hinted patches themselves.
- ``hinted_share``: the share of the mask that hints cover (0 without hints).
- ``colorfulness``, ``colorfulness_true``: Hasler-Suesstrunk colorfulness of prediction and target, averaged.
- ``delta_colorfulness``: mean per-image ``|colorfulness - colorfulness_true|``.
- ``leak``: mean chroma C* outside the mask (:func:`colorgan.evaluation.scores.mask_leak`); must be exactly 0.
- ``seam``: mean color jump across the mask edge in the prediction minus that in the target (Lab units,
  pooled over all straddling pixel pairs, see :func:`colorgan.evaluation.scores.seam_score`); NaN without edges.
- ``lpips``: mean LPIPS (AlexNet) when it was computed, else NaN.

The target of a partial colorization is the truth inside the mask and gray outside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torchmetrics import Metric

from colorgan.evaluation.protocol import PROTOCOL_FAMILIES
from colorgan.evaluation.scores import STATS, image_stats, psnr_from_mse

SCORES = ("images", "psnr", "ssim", "psnr_mask", "psnr_unhinted", "hinted_share", "colorfulness", "colorfulness_true",
          "delta_colorfulness", "leak", "seam", "lpips")
"""The reported scores, in this order (``images`` is the number of (image, mask) pairs)."""

__all__ = ["SCORES", "ColorizationMetrics", "summarize"]


def summarize(totals: torch.Tensor) -> dict[str, float]:
    """:data:`SCORES` of one group from its summed :data:`STATS` (len(STATS),); NaN where undefined."""
    t = dict(zip(STATS, totals.double().cpu(), strict=True))
    images = t["images"]
    scores = {
        "images": images, "psnr": psnr_from_mse(t["sse"] / t["values"]), "ssim": t["ssim"] / images,
        "psnr_mask": psnr_from_mse(t["sse_mask"] / t["values_mask"]),
        "psnr_unhinted": psnr_from_mse(t["sse_unhinted"] / t["values_unhinted"]),
        "hinted_share": 1 - t["values_unhinted"] / t["values_mask"], "colorfulness": t["cf_pred"] / images,
        "colorfulness_true": t["cf_true"] / images, "delta_colorfulness": t["cf_delta"] / images,
        "leak": t["leak"] / images, "seam": (t["jump_pred"] - t["jump_true"]) / t["edge_pairs"],
        "lpips": t["lpips"] / t["lpips_images"],
    }
    return {name: float(value) for name, value in scores.items()}  # 0 / 0 in float64 tensors is NaN, not an error


class ColorizationMetrics(Metric):
    """Per-family sums of :func:`image_stats`; ``compute()`` gives ``{"all" | family: {score: value}}``.

    Args:
        families: names of the family indices passed to :meth:`update` (default: the protocol's).
    """

    full_state_update = False
    totals: torch.Tensor

    def __init__(self, families: Sequence[str] = PROTOCOL_FAMILIES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.families = tuple(families)
        # float64: sums of squared errors over millions of pixels lose digits in float32
        self.add_state("totals", default=torch.zeros(len(self.families), len(STATS), dtype=torch.float64),
                       dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor, pred_ab: torch.Tensor, target_ab: torch.Tensor,
               mask: torch.Tensor, family: torch.Tensor, lpips: torch.Tensor | None = None,
               hinted: torch.Tensor | None = None) -> None:
        """Add a batch; ``family`` is (B,) int indices into ``families``, the rest as for :func:`image_stats`."""
        if family.shape != (pred.shape[0],):
            raise ValueError(f"family must have shape ({pred.shape[0]},), got {tuple(family.shape)}")
        stats = image_stats(pred, target, pred_ab, target_ab, mask, lpips, hinted)
        self.totals.index_add_(0, family.to(self.totals.device, torch.long), stats.to(self.totals))

    def compute(self) -> dict[str, dict[str, float]]:
        totals = self.totals.double().cpu()
        groups = {"all": totals.sum(0)}
        groups.update({name: totals[i] for i, name in enumerate(self.families) if totals[i, 0] > 0})
        return {name: summarize(sums) for name, sums in groups.items()}

    def flat(self, prefix: str) -> dict[str, float]:
        """``{f"{prefix}/{group}/{score}": value}`` without NaNs and counts, for ``LightningModule.log_dict``."""
        return {f"{prefix}/{group}/{name}": value for group, scores in self.compute().items()
                for name, value in scores.items() if name != "images" and not math.isnan(value)}
