"""VGG16 encoder-decoder colorizer from the seed projects (torch and torchvision only).

It keeps the generator contract of :class:`colorgan.models.unet.UNetGenerator`: ``forward(L, mask, condition=None)
-> ab`` with ``L`` and ``mask`` (B, 1, H, W) of any size and ``ab`` (B, 2, H, W), exactly 0 wherever ``mask == 0``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
import torchvision
from torch import nn

from colorgan.models.layers import (
    GeneratorNorm,
    ImageNetGray,
    RebuildableModule,
    apply_mask,
    check_inputs,
    norm_layer,
    stack_inputs,
    width_ladder,
)
from colorgan.models.weights import VGG16_WEIGHTS_URL, load_hub_weights

VGG16_BLOCK_WIDTHS = (64, 128, 256, 512, 512)
"""Output channels of VGG16's five conv blocks (each block but the last is followed by a 2x2 max pool)."""

__all__ = ["VGG16Colorizer"]


class VGG16Colorizer(RebuildableModule):
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
    downloads it there); offline with the file missing it raises :class:`ColorganError` at once. Its spec records
    ``pretrained=False``: a checkpoint carries the trained weights, so rebuilding must never download.

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

    spec_overrides = {"pretrained": False}  # the file holds the trained weights: rebuilding never downloads

    def __init__(self, pretrained: bool = True, skips: bool = True, num_blocks: int = 5, decoder_channels: int = 32,
                 decoder_max_channels: int = 256, condition_channels: int = 0, norm: GeneratorNorm = "batch") -> None:
        super().__init__()
        if not 1 <= num_blocks <= 5:
            raise ValueError(f"num_blocks must be 1 to 5 (VGG16 has 5 conv blocks), got {num_blocks}")
        self.skips, self.num_blocks, self.condition_channels = skips, num_blocks, condition_channels

        vgg = torchvision.models.vgg
        layers = vgg.make_layers(vgg.cfgs["D"])  # exactly torchvision's vgg16().features, so state-dict keys match
        pools = [i for i, layer in enumerate(layers) if isinstance(layer, nn.MaxPool2d)]
        self.encoder = layers[:pools[num_blocks - 1]]
        if pretrained:
            state = load_hub_weights(VGG16_WEIGHTS_URL, "pretrained VGG16 weights",
                                     "set pretrained: false to train VGG16 from scratch")
            state = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
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
        self.to_rgb = ImageNetGray()

        widths = width_ladder(decoder_channels, decoder_max_channels, num_blocks - 1)  # widths[i]: decoder level i
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
        check_inputs(L, mask, condition, self.condition_channels)
        h, w = L.shape[-2:]
        x = torch.cat([self.to_rgb(L), stack_inputs(L, mask, condition)[:, 1:]], dim=1)  # the 3 RGB channels replace L
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
