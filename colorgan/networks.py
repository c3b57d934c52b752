"""Generator and discriminator (torch only: no Lightning, no color math).

Tensors follow colorgan's normalized Lab convention (see ``colorgan.color``): ``L`` (B, 1, H, W) in [-1, 1],
``ab`` (B, 2, H, W) in about [-1, 1], ``mask`` (B, 1, H, W) in [0, 1] where 1 means "color this pixel".

Every network keeps its constructor arguments in ``self.config`` (plain Python values) so that a checkpoint or
an exported file can rebuild it without pickling code.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

GeneratorNorm = Literal["batch", "instance", "group", "none"]
DiscriminatorNorm = Literal["instance", "layer", "batch", "none"]

__all__ = ["PatchDiscriminator", "UNetGenerator", "apply_mask", "norm_layer"]


def norm_layer(kind: str, channels: int) -> nn.Module:
    """A normalization layer by name; ``layer`` normalizes each sample over (C, H, W)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "group":
        return nn.GroupNorm(min(32, channels // 4) or 1, channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


def apply_mask(ab: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Chroma only where the mask is on: ``ab * mask``. Exactly 0 (gray) wherever ``mask == 0``; soft masks fade."""
    return ab * mask.to(ab.dtype)


def _check_inputs(L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None, condition_channels: int) -> None:  # noqa: N803
    if L.dim() != 4 or L.shape[1] != 1:
        raise ValueError(f"L must have shape (B, 1, H, W), got {tuple(L.shape)}")
    if mask.shape != L.shape:
        raise ValueError(f"mask must have the shape of L {tuple(L.shape)}, got {tuple(mask.shape)}")
    got = 0 if condition is None else condition.shape[1]
    if got != condition_channels:
        raise ValueError(f"expected {condition_channels} condition channels, got {got}")


class UNetGenerator(nn.Module):
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
        self.config = dict(base_channels=base_channels, depth=depth, max_channels=max_channels,
                           condition_channels=condition_channels, norm=norm, dropout=dropout)
        self.depth = depth
        self.condition_channels = condition_channels
        widths = [min(base_channels * 2**i, max_channels) for i in range(depth + 1)]
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
        _check_inputs(L, mask, condition, self.condition_channels)
        h, w = L.shape[-2:]
        x = torch.cat([L, mask.to(L.dtype)] + ([condition] if condition is not None else []), dim=1)
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


class PatchDiscriminator(nn.Module):
    """Encoder-only conv net over (L, ab, mask[, condition]) with a patch of logits as output (PatchGAN).

    With ``num_layers=3`` each logit sees a 70x70 window. No sigmoid: the losses take logits.

    Args:
        base_channels: width of the first layer; doubled per layer up to ``max_channels``.
        num_layers: number of stride-2 convs.
        max_channels: cap on the width.
        condition_channels: extra input channels beyond L, ab and mask.
        norm: ``instance`` or ``layer`` are per-sample and valid for every loss; ``batch`` is refused by
            :class:`colorgan.module.ColorGAN` for WGAN-GP, whose per-sample gradient penalty it would break.
        spectral_norm: spectral normalization of every conv (Miyato et al. 2018), common with the hinge loss.
    """

    def __init__(self, base_channels: int = 64, num_layers: int = 3, max_channels: int = 512,
                 condition_channels: int = 0, norm: DiscriminatorNorm = "instance",
                 spectral_norm: bool = False) -> None:
        super().__init__()
        self.config = dict(base_channels=base_channels, num_layers=num_layers, max_channels=max_channels,
                           condition_channels=condition_channels, norm=norm, spectral_norm=spectral_norm)
        self.condition_channels = condition_channels
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        bias = norm == "none"
        width = base_channels
        layers: list[nn.Module] = [sn(nn.Conv2d(4 + condition_channels, width, 4, stride=2, padding=1)),
                                   nn.LeakyReLU(0.2, True)]
        for i in range(1, num_layers + 1):
            stride = 2 if i < num_layers else 1
            nxt = min(base_channels * 2**i, max_channels)
            layers += [sn(nn.Conv2d(width, nxt, 4, stride=stride, padding=1, bias=bias)), norm_layer(norm, nxt),
                       nn.LeakyReLU(0.2, True)]
            width = nxt
        layers.append(sn(nn.Conv2d(width, 1, 4, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, L: torch.Tensor, ab: torch.Tensor, mask: torch.Tensor,  # noqa: N803
                condition: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) L, (B, 2, H, W) ab, (B, 1, H, W) mask -> (B, 1, h, w) logits."""
        _check_inputs(L, mask, condition, self.condition_channels)
        parts = [L, ab.to(L.dtype), mask.to(L.dtype)] + ([condition] if condition is not None else [])
        return self.net(torch.cat(parts, dim=1))
