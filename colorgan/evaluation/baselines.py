"""Training-free baselines a colorizer must beat: gray (never color) and mean color (one average color).

A baseline is a predictor like a generator: ``predict(L, mask) -> ab`` on (B, 1, H, W) normalized L and mask,
returning (B, 2, H, W) ab that is exactly 0 outside the mask.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, Dataset

from colorgan.color import rgb_to_lab_norm

Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``predict(L, mask) -> ab``: (B, 1, H, W) normalized L and mask -> (B, 2, H, W) ab, exactly 0 outside the mask."""

__all__ = ["Predictor", "gray_baseline", "mean_ab_of", "mean_color_baseline"]


def gray_baseline(L: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: N803
    """The gray baseline: ab = 0 everywhere, (B, 2, H, W) float32. Scores what leaving the photo gray scores."""
    return L.new_zeros(L.shape[0], 2, *L.shape[-2:], dtype=torch.float32)


def mean_color_baseline(mean_ab: torch.Tensor) -> Predictor:
    """The mean-color baseline: the constant normalized ``mean_ab`` (2,) inside the mask, gray outside."""
    def predict(L: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: N803
        return mean_ab.to(L.device, torch.float32).view(1, 2, 1, 1) * mask.float()
    return predict


def mean_ab_of(images: Dataset, batch_size: int = 16) -> torch.Tensor:
    """Mean normalized ab (2,) over every pixel of every crop in ``images`` (items with a uint8 ``image``)."""
    total, count = torch.zeros(2, dtype=torch.float64), 0
    for batch in DataLoader(images, batch_size=batch_size):
        _, ab = rgb_to_lab_norm(batch["image"].float() / 255.0)
        total += ab.double().sum(dim=(0, 2, 3))
        count += ab[:, 0].numel()
    return (total / max(count, 1)).float()
