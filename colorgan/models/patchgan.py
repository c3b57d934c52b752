"""The default discriminator: an encoder-only PatchGAN over (L, ab, mask[, condition]) (torch only)."""

from __future__ import annotations

import torch
from torch import nn

from colorgan.models.layers import DiscriminatorNorm, RebuildableModule, check_inputs, norm_layer, width_ladder

__all__ = ["PatchDiscriminator"]


class PatchDiscriminator(RebuildableModule):
    """Encoder-only conv net over (L, ab, mask[, condition]) with a patch of logits as output (PatchGAN).

    With ``num_layers=3`` each logit sees a 70x70 window. No sigmoid: the losses take logits.

    Args:
        base_channels: width of the first layer; doubled per layer up to ``max_channels``.
        num_layers: number of stride-2 convs.
        max_channels: cap on the width.
        condition_channels: extra input channels beyond L, ab and mask.
        norm: ``instance`` or ``layer`` are per-sample and valid for every loss; ``batch`` is refused by
            :class:`colorgan.training.module.ColorGAN` for WGAN-GP, whose per-sample gradient penalty it would break.
        spectral_norm: spectral normalization of every conv (Miyato et al. 2018), common with the hinge loss.
    """

    def __init__(self, base_channels: int = 64, num_layers: int = 3, max_channels: int = 512,
                 condition_channels: int = 0, norm: DiscriminatorNorm = "instance",
                 spectral_norm: bool = False) -> None:
        super().__init__()
        self.condition_channels = condition_channels
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        bias = norm == "none"
        widths = width_ladder(base_channels, max_channels, num_layers + 1)
        layers: list[nn.Module] = [sn(nn.Conv2d(4 + condition_channels, widths[0], 4, stride=2, padding=1)),
                                   nn.LeakyReLU(0.2, True)]
        for i in range(1, num_layers + 1):
            stride = 2 if i < num_layers else 1  # the last conv keeps the size: a 70x70 field of view at 3 layers
            layers += [sn(nn.Conv2d(widths[i - 1], widths[i], 4, stride=stride, padding=1, bias=bias)),
                       norm_layer(norm, widths[i]), nn.LeakyReLU(0.2, True)]
        layers.append(sn(nn.Conv2d(widths[-1], 1, 4, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, L: torch.Tensor, ab: torch.Tensor, mask: torch.Tensor,  # noqa: N803
                condition: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) L, (B, 2, H, W) ab, (B, 1, H, W) mask -> (B, 1, h, w) logits."""
        check_inputs(L, mask, condition, self.condition_channels)
        parts = [L, ab.to(L.dtype), mask.to(L.dtype)] + ([condition] if condition is not None else [])
        return self.net(torch.cat(parts, dim=1))
