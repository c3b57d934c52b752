"""The default generator: a skip-connected U-Net over (L, mask[, condition]) that predicts ab (torch only)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from colorgan.models.layers import (
    GeneratorNorm,
    RebuildableModule,
    apply_mask,
    check_inputs,
    norm_layer,
    stack_inputs,
    width_ladder,
)

__all__ = ["UNetGenerator"]


class UNetGenerator(RebuildableModule):
    """Skip-connected U-Net: (L, mask[, condition]) -> ab, exactly gray outside the mask.

    Encoder levels halve the resolution with a strided 4x4 conv; decoder levels upsample (bilinear), concatenate the
    encoder's skip and fuse with one 3x3 conv. Inputs of any size are padded to a multiple of ``2**depth`` and the
    output is cropped back.

    Args:
        base_channels: width at full resolution; level ``i`` has ``min(base_channels * 2**i, max_channels)``.
        depth: number of downsampling steps (the bottleneck is ``H / 2**depth``).
        max_channels: cap on the width of deep levels.
        condition_channels: extra input channels beyond L and mask (0 for plain colorization).
        norm: normalization after each conv but the first and last.
        dropout: dropout probability in the three deepest decoder levels (pix2pix uses 0.5 there as noise).
    """

    def __init__(self, base_channels: int = 32, depth: int = 5, max_channels: int = 256, condition_channels: int = 0,
                 norm: GeneratorNorm = "batch", dropout: float = 0.0) -> None:
        super().__init__()
        if depth < 1 or base_channels < 1:
            raise ValueError(f"depth and base_channels must be >= 1, got depth={depth}, base_channels={base_channels}")
        self.depth = depth
        self.condition_channels = condition_channels
        widths = width_ladder(base_channels, max_channels, depth + 1)
        bias = norm == "none"  # a bias right before a normalization is dead weight

        self.stem = nn.Sequential(nn.Conv2d(2 + condition_channels, widths[0], 3, padding=1), nn.LeakyReLU(0.2, True))
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(widths[i], widths[i + 1], 4, stride=2, padding=1, bias=bias),
                          norm_layer(norm, widths[i + 1]), nn.LeakyReLU(0.2, True))
            for i in range(depth))
        self.up = nn.ModuleList(
            nn.Sequential(nn.Conv2d(widths[i + 1] + widths[i], widths[i], 3, padding=1, bias=bias),
                          norm_layer(norm, widths[i]), nn.ReLU(True),
                          nn.Dropout2d(dropout) if dropout > 0 and i >= depth - 3 else nn.Identity())
            for i in range(depth))
        self.head = nn.Conv2d(widths[0], 2, 1)

    def forward(self, L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:  # noqa: N803
        """(B, 1, H, W) L and mask [+ (B, C, H, W) condition] -> (B, 2, H, W) ab in [-1, 1], 0 outside the mask."""
        check_inputs(L, mask, condition, self.condition_channels)
        h, w = L.shape[-2:]
        x = stack_inputs(L, mask, condition)
        multiple = 2**self.depth
        pad_h, pad_w = -h % multiple, -w % multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(skips[-1]))
        x = skips.pop()
        for block in reversed(self.up):
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        ab = torch.tanh(self.head(x))[..., :h, :w]
        return apply_mask(ab, mask)
