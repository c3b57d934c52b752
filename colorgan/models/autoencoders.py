"""Fixed-size colorizers from the seed projects: an autoencoder with a fully connected bottleneck and a DCGAN-style
encoder-decoder (torch only).

Both keep the generator contract of :class:`colorgan.models.unet.UNetGenerator`: ``forward(L, mask, condition=None)
-> ab`` with ``L`` and ``mask`` (B, 1, H, W) of any size and ``ab`` (B, 2, H, W), exactly 0 (gray) wherever
``mask == 0``. Their dense layers fix the spatial size, so they run on an ``image_size`` square copy of their inputs.
"""

from __future__ import annotations

import math

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

SUPERSAMPLE = 4
"""The fixed-size networks resize their inputs through a grid this many times finer (see ``_to_working_size``)."""

__all__ = ["AutoencoderGenerator", "DCGANAutoencoderGenerator"]


def _to_working_size(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, size, size), antialiased: bilinear to ``SUPERSAMPLE * size``, then average pooling.

    From up to ``SUPERSAMPLE`` times the working size this is exact area averaging (beyond it, mildly aliased);
    at the working size itself a light [1/8, 3/4, 1/8] blur, the same in training and inference. Unlike
    ``interpolate(antialias=True)`` it exports to ONNX, and it has no shape-dependent branch to trip a tracer.
    """
    x = F.interpolate(x, size=(SUPERSAMPLE * size, SUPERSAMPLE * size), mode="bilinear", align_corners=False)
    return F.avg_pool2d(x, SUPERSAMPLE)


def _to_input_size(ab: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of (B, 2, size, size) ab to the (H, W) of ``like`` (mostly an upsampling: chroma is smooth)."""
    return F.interpolate(ab, size=like.shape[-2:], mode="bilinear", align_corners=False)




# --- autoencoder with a fully connected bottleneck -----------------------------------------------------------------


class AutoencoderGenerator(RebuildableModule):
    """Convolutional autoencoder with a fully connected bottleneck: (L, mask[, condition]) -> ab, gray outside the mask.

    The encoder halves the resolution ``num_downsamples`` times with strided 4x4 convs; a linear layer squeezes the
    whole feature map into ``latent_dim`` numbers and a second one expands it again; transposed 4x4 convs upsample
    back to full size. Meant for the regression losses only (``ColorGAN(adversarial_weight=0)``).

    Any input size: the fully connected layers fix the spatial size, so the network always runs on an
    ``image_size`` x ``image_size`` copy of its inputs (antialiased; other aspect ratios are stretched) and
    the predicted ab is resized back to (H, W) before it is masked with the full-resolution mask. Train with
    ``data.image_size == image_size`` (the training crops then keep their size); at inference chroma is predicted
    at ``image_size`` and upsampled, while the luminance and the mask's edge keep their full resolution.

    Args:
        image_size: working resolution; a multiple of ``2**num_downsamples``.
        latent_dim: size of the fully connected bottleneck.
        base_channels: width at full resolution; level ``i`` has ``min(base_channels * 2**i, max_channels)``.
        num_downsamples: stride-2 steps before (and transposed-conv steps after) the bottleneck.
        max_channels: cap on the width of deep levels.
        condition_channels: extra input channels beyond L and mask (0 for plain colorization).
        norm: normalization after each strided and transposed conv.
    """

    def __init__(self, image_size: int = 64, latent_dim: int = 256, base_channels: int = 32, num_downsamples: int = 3,
                 max_channels: int = 128, condition_channels: int = 0, norm: GeneratorNorm = "batch") -> None:
        super().__init__()
        if num_downsamples < 1 or image_size % 2**num_downsamples:
            raise ValueError(f"image_size must be a multiple of 2**num_downsamples, got image_size={image_size}, "
                             f"num_downsamples={num_downsamples}")
        self.image_size, self.condition_channels = image_size, condition_channels
        widths = width_ladder(base_channels, max_channels, num_downsamples + 1)
        self.grid = image_size // 2**num_downsamples
        self.bottleneck_shape = (widths[-1], self.grid, self.grid)
        bias = norm == "none"  # a bias right before a normalization is dead weight

        self.encoder = nn.Sequential(
            nn.Conv2d(2 + condition_channels, widths[0], 3, padding=1), nn.LeakyReLU(0.2, True),
            *(layer for i in range(num_downsamples)
              for layer in (nn.Conv2d(widths[i], widths[i + 1], 4, stride=2, padding=1, bias=bias),
                            norm_layer(norm, widths[i + 1]), nn.LeakyReLU(0.2, True))))
        features = math.prod(self.bottleneck_shape)
        # Linear code (no activation): the two layers form a rank-latent_dim map of the whole feature map.
        self.compress = nn.Linear(features, latent_dim)
        self.expand = nn.Sequential(nn.Linear(latent_dim, features), nn.ReLU(True))
        self.decoder = nn.Sequential(
            *(layer for i in reversed(range(num_downsamples))
              for layer in (nn.ConvTranspose2d(widths[i + 1], widths[i], 4, stride=2, padding=1, bias=bias),
                            norm_layer(norm, widths[i]), nn.ReLU(True))))
        self.head = nn.Conv2d(widths[0], 2, 3, padding=1)

    def forward(self, L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:  # noqa: N803
        """(B, 1, H, W) L and mask [+ (B, C, H, W) condition] -> (B, 2, H, W) ab in [-1, 1], 0 outside the mask."""
        check_inputs(L, mask, condition, self.condition_channels)
        x = _to_working_size(stack_inputs(L, mask, condition), self.image_size)
        code = self.compress(self.encoder(x).flatten(1))
        x = self.expand(code).unflatten(1, self.bottleneck_shape)
        ab = torch.tanh(self.head(self.decoder(x)))
        return apply_mask(_to_input_size(ab, L), mask)


# --- DCGAN-style encoder-decoder -----------------------------------------------------------------------------------


class DCGANAutoencoderGenerator(RebuildableModule):
    """DCGAN-style encoder-generator: (L, mask[, condition]) -> latent vector -> ab, gray outside the mask.

    The encoder is a DCGAN discriminator body (strided 4x4 convs down to 4x4, then a 4x4 conv to a
    ``latent_dim`` x 1 x 1 code); the decoder is a DCGAN generator (a 4x4 transposed conv to 4x4, then transposed
    convs doubling the size up to ``image_size``). It is trained against colorgan's discriminator on the colorized
    image (``ColorGAN`` with any adversarial loss). The adversary judges images, not the latent code, so this is
    not Makhzani et al.'s adversarial autoencoder (colorgan 0.2 called it ``AdversarialAutoencoderGenerator``).

    Any input size: like :class:`AutoencoderGenerator`, the network runs on an ``image_size`` square copy of its
    inputs and the ab it predicts is resized back to (H, W) and masked at full resolution.

    Args:
        image_size: working resolution; a power of two, at least 8.
        latent_dim: size of the latent vector (100 as in DCGAN).
        base_channels: width after the first stride-2 step; doubled per step up to ``max_channels``.
        max_channels: cap on the width.
        condition_channels: extra input channels beyond L and mask (0 for plain colorization).
        norm: normalization after every conv but the first encoder conv and the output conv (as in DCGAN).
    """

    def __init__(self, image_size: int = 64, latent_dim: int = 100, base_channels: int = 32, max_channels: int = 256,
                 condition_channels: int = 0, norm: GeneratorNorm = "batch") -> None:
        super().__init__()
        if image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two, at least 8, got {image_size}")
        self.image_size, self.condition_channels = image_size, condition_channels
        steps = int(math.log2(image_size)) - 2  # stride-2 steps between image_size and 4
        widths = width_ladder(base_channels, max_channels, steps)  # widths[i]: at image_size / 2**(i + 1)
        bias = norm == "none"

        encoder: list[nn.Module] = [nn.Conv2d(2 + condition_channels, widths[0], 4, stride=2, padding=1),
                                    nn.LeakyReLU(0.2, True)]
        for i in range(1, steps):
            encoder += [nn.Conv2d(widths[i - 1], widths[i], 4, stride=2, padding=1, bias=bias),
                        norm_layer(norm, widths[i]), nn.LeakyReLU(0.2, True)]
        encoder.append(nn.Conv2d(widths[-1], latent_dim, 4))  # 4x4 -> 1x1: the latent vector
        self.encoder = nn.Sequential(*encoder)

        decoder: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, widths[-1], 4, bias=bias),  # 1x1 -> 4x4
                                    norm_layer(norm, widths[-1]), nn.ReLU(True)]
        for i in reversed(range(1, steps)):
            decoder += [nn.ConvTranspose2d(widths[i], widths[i - 1], 4, stride=2, padding=1, bias=bias),
                        norm_layer(norm, widths[i - 1]), nn.ReLU(True)]
        decoder += [nn.ConvTranspose2d(widths[0], 2, 4, stride=2, padding=1), nn.Tanh()]
        self.decoder = nn.Sequential(*decoder)

    def forward(self, L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:  # noqa: N803
        """(B, 1, H, W) L and mask [+ (B, C, H, W) condition] -> (B, 2, H, W) ab in [-1, 1], 0 outside the mask."""
        check_inputs(L, mask, condition, self.condition_channels)
        x = _to_working_size(stack_inputs(L, mask, condition), self.image_size)
        ab = self.decoder(self.encoder(x))  # the encoder's output is the (B, latent_dim, 1, 1) latent vector
        return apply_mask(_to_input_size(ab, L), mask)
