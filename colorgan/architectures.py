"""The other colorizers colorgan grew from: an autoencoder with a fully connected bottleneck, a DCGAN-style
adversarial autoencoder and a VGG16 encoder-decoder (torch and torchvision only: no Lightning, no color math).

They share :class:`colorgan.networks.UNetGenerator`'s interface, so any of them can be the ``generator`` of
:class:`colorgan.module.ColorGAN`: ``forward(L, mask, condition=None) -> ab`` with ``L`` and ``mask`` (B, 1, H, W)
of any size and ``ab`` (B, 2, H, W), exactly 0 (gray) wherever ``mask == 0``. Each network keeps its constructor
arguments in ``self.config`` (plain values) so that a checkpoint can rebuild it offline.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
import torchvision
from torch import nn

from colorgan.data import _online
from colorgan.errors import ColorganError
from colorgan.networks import GeneratorNorm, _check_inputs, apply_mask, norm_layer

VGG16_WEIGHTS_URL: str = torchvision.models.VGG16_Weights.IMAGENET1K_V1.url
"""torchvision's ImageNet VGG16 weights (``VGG16_Weights.IMAGENET1K_V1``), about 528 MB."""
VGG16_BLOCK_WIDTHS = (64, 128, 256, 512, 512)
"""Output channels of VGG16's five conv blocks (each block but the last is followed by a 2x2 max pool)."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SUPERSAMPLE = 4
"""The fixed-size networks resize their inputs through a grid this many times finer (see ``_to_working_size``)."""

__all__ = ["VGG16_WEIGHTS_URL", "AdversarialAutoencoderGenerator", "AutoencoderGenerator", "VGG16Colorizer",
           "vgg16_weights_path"]


# --- helpers -----------------------------------------------------------------------------------------------------


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


def _inputs(L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:  # noqa: N803
    """(B, 2 [+ C], H, W): L, mask and the optional condition stacked as input channels."""
    return torch.cat([L, mask.to(L.dtype)] + ([condition.to(L.dtype)] if condition is not None else []), dim=1)


def _widths(base_channels: int, max_channels: int, count: int) -> list[int]:
    return [min(base_channels * 2**i, max_channels) for i in range(count)]


def vgg16_weights_path() -> Path:
    """Where torchvision keeps (and looks for) the ImageNet VGG16 weights: ``$TORCH_HOME/hub/checkpoints/...``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_WEIGHTS_URL.rsplit("/", 1)[-1]


def _imagenet_vgg16_features() -> dict[str, torch.Tensor]:
    """State dict of torchvision's ImageNet ``vgg16().features`` (keys ``"0.weight"``, ...), from the local cache or
    downloaded into it; raises :class:`ColorganError` at once when the file is missing and the host unreachable."""
    path = vgg16_weights_path()
    hint = f"put {VGG16_WEIGHTS_URL} at {path}, or set pretrained: false to train VGG16 from scratch"
    if not path.is_file():
        reason = _online(VGG16_WEIGHTS_URL, timeout=3.0)
        if reason is not None:
            raise ColorganError(f"the pretrained VGG16 weights {path} are missing and {reason}: {hint}.")
    try:
        state = torch.hub.load_state_dict_from_url(VGG16_WEIGHTS_URL, map_location="cpu", progress=True,
                                                   check_hash=True, weights_only=True)
    except Exception as error:  # noqa: BLE001 (network, truncated file, wrong file: the same clear message)
        raise ColorganError(f"loading the pretrained VGG16 weights failed ({error}): {hint}.") from error
    return {key.removeprefix("features."): value for key, value in state.items() if key.startswith("features.")}


# --- autoencoder with a fully connected bottleneck -----------------------------------------------------------------


class AutoencoderGenerator(nn.Module):
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
        self.config = dict(image_size=image_size, latent_dim=latent_dim, base_channels=base_channels,
                           num_downsamples=num_downsamples, max_channels=max_channels,
                           condition_channels=condition_channels, norm=norm)
        self.image_size, self.condition_channels = image_size, condition_channels
        widths = _widths(base_channels, max_channels, num_downsamples + 1)
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
        _check_inputs(L, mask, condition, self.condition_channels)
        x = _to_working_size(_inputs(L, mask, condition), self.image_size)
        code = self.compress(self.encoder(x).flatten(1))
        x = self.expand(code).unflatten(1, self.bottleneck_shape)
        ab = torch.tanh(self.head(self.decoder(x)))
        return apply_mask(_to_input_size(ab, L), mask)


# --- DCGAN-style adversarial autoencoder -------------------------------------------------------------------------


class AdversarialAutoencoderGenerator(nn.Module):
    """DCGAN-style encoder-generator: (L, mask[, condition]) -> latent vector -> ab, gray outside the mask.

    The encoder is a DCGAN discriminator body (strided 4x4 convs down to 4x4, then a 4x4 conv to a
    ``latent_dim`` x 1 x 1 code); the decoder is a DCGAN generator (a 4x4 transposed conv to 4x4, then transposed
    convs doubling the size up to ``image_size``). It is trained against colorgan's discriminator on the colorized
    image (``ColorGAN`` with any adversarial loss). Note: the adversary judges images, not the latent code as in
    Makhzani et al.'s adversarial autoencoder.

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
        self.config = dict(image_size=image_size, latent_dim=latent_dim, base_channels=base_channels,
                           max_channels=max_channels, condition_channels=condition_channels, norm=norm)
        self.image_size, self.condition_channels = image_size, condition_channels
        steps = int(math.log2(image_size)) - 2  # stride-2 steps between image_size and 4
        widths = _widths(base_channels, max_channels, steps)  # widths[i]: at image_size / 2**(i + 1)
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
        _check_inputs(L, mask, condition, self.condition_channels)
        x = _to_working_size(_inputs(L, mask, condition), self.image_size)
        ab = self.decoder(self.encoder(x))  # the encoder's output is the (B, latent_dim, 1, 1) latent vector
        return apply_mask(_to_input_size(ab, L), mask)


# --- VGG16 encoder-decoder ---------------------------------------------------------------------------------------


class VGG16Colorizer(nn.Module):
    """torchvision's VGG16 conv blocks as the encoder, a conv decoder to ab: (L, mask[, condition]) -> ab.

    Input: L is turned into the gray image VGG16 was trained on (L* / 100 repeated to 3 channels, ImageNet
    normalization) so that the pretrained first conv sees what it expects; the mask (and any condition) enters as
    extra input channels of that first conv. With ``pretrained`` their filters start at zero, so the network starts
    out exactly as ImageNet's VGG16 and learns how to use the mask.

    The encoder keeps the first ``num_blocks`` blocks (without the max pool after the last), so the bottleneck is at
    ``1 / 2**(num_blocks - 1)`` of the input size. Each decoder level upsamples (bilinear), concatenates that level's
    encoder features when ``skips`` (U-Net style) and fuses with a 3x3 conv. Inputs of any size are padded to a
    multiple of ``2**(num_blocks - 1)`` and the output is cropped back.

    ``pretrained`` loads torchvision's ``VGG16_Weights.IMAGENET1K_V1`` from ``$TORCH_HOME/hub/checkpoints`` (or
    downloads it there); offline with the file missing it raises :class:`ColorganError` at once. ``self.config``
    records ``pretrained=False``: a checkpoint carries the trained weights, so rebuilding must never download.

    Args:
        pretrained: start the encoder from the ImageNet weights (False: train from scratch).
        skips: concatenate the encoder's features into the decoder at every level.
        num_blocks: VGG16 conv blocks kept in the encoder, 1 to 5 (fewer: smaller and faster).
        decoder_channels: decoder width at full resolution; level ``i`` has
            ``min(decoder_channels * 2**i, decoder_max_channels)``.
        decoder_max_channels: cap on the decoder's width.
        condition_channels: extra input channels beyond L and mask (0 for plain colorization).
        norm: normalization in the decoder (the VGG16 encoder has none).
    """

    def __init__(self, pretrained: bool = True, skips: bool = True, num_blocks: int = 5, decoder_channels: int = 32,
                 decoder_max_channels: int = 256, condition_channels: int = 0, norm: GeneratorNorm = "batch") -> None:
        super().__init__()
        if not 1 <= num_blocks <= 5:
            raise ValueError(f"num_blocks must be 1 to 5 (VGG16 has 5 conv blocks), got {num_blocks}")
        self.config = dict(pretrained=False, skips=skips, num_blocks=num_blocks, decoder_channels=decoder_channels,
                           decoder_max_channels=decoder_max_channels, condition_channels=condition_channels, norm=norm)
        self.skips, self.num_blocks, self.condition_channels = skips, num_blocks, condition_channels

        vgg = torchvision.models.vgg
        layers = vgg.make_layers(vgg.cfgs["D"])  # exactly torchvision's vgg16().features, so state-dict keys match
        pools = [i for i, layer in enumerate(layers) if isinstance(layer, nn.MaxPool2d)]
        self.encoder = layers[:pools[num_blocks - 1]]
        if pretrained:
            state = _imagenet_vgg16_features()
            self.encoder.load_state_dict({k: v for k, v in state.items() if int(k.split(".")[0]) < len(self.encoder)})
        rgb_conv = self.encoder[0]
        first = nn.Conv2d(3 + 1 + condition_channels, rgb_conv.out_channels, 3, padding=1)
        with torch.no_grad():
            if pretrained:
                first.weight.zero_()
                first.weight[:, :3] = rgb_conv.weight
                first.bias.copy_(rgb_conv.bias)
            else:  # torchvision's VGG initialization
                nn.init.kaiming_normal_(first.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(first.bias)
        self.encoder[0] = first
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

        widths = _widths(decoder_channels, decoder_max_channels, num_blocks - 1)  # widths[i]: decoder level i
        bias = norm == "none"
        self.decoder = nn.ModuleList()
        channels = VGG16_BLOCK_WIDTHS[num_blocks - 1]
        for level in reversed(range(num_blocks - 1)):  # deepest first, the order forward() runs them in
            skip = VGG16_BLOCK_WIDTHS[level] if skips else 0
            self.decoder.append(nn.Sequential(nn.Conv2d(channels + skip, widths[level], 3, padding=1, bias=bias),
                                              norm_layer(norm, widths[level]), nn.ReLU(True)))
            channels = widths[level]
        self.head = nn.Conv2d(channels, 2, 1)

    def forward(self, L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:  # noqa: N803
        """(B, 1, H, W) L and mask [+ (B, C, H, W) condition] -> (B, 2, H, W) ab in [-1, 1], 0 outside the mask."""
        _check_inputs(L, mask, condition, self.condition_channels)
        h, w = L.shape[-2:]
        # L* / 100 stands in for the gray sRGB intensity; close enough for ImageNet features.
        gray = ((L + 1) / 2).expand(-1, 3, -1, -1)
        rgb = (gray - self.mean.to(L.dtype)) / self.std.to(L.dtype)
        x = torch.cat([rgb, _inputs(L, mask, condition)[:, 1:]], dim=1)  # the 3 RGB channels replace L
        multiple = 2 ** (self.num_blocks - 1)
        # Unconditional (a zero pad is a no-op): no shape-dependent branch for the ONNX tracer to freeze.
        x = F.pad(x, (0, -w % multiple, 0, -h % multiple), mode="replicate")
        features = []  # each kept block's output, full resolution first, recorded before its max pool
        for layer in self.encoder:
            if isinstance(layer, nn.MaxPool2d):
                features.append(x)
            x = layer(x)
        for block, skip in zip(self.decoder, reversed(features), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1) if self.skips else x)
        ab = torch.tanh(self.head(x))[..., :h, :w]
        return apply_mask(ab, mask)
