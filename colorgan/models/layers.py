"""Building blocks shared by every network: where the mask enters and leaves, input checks, width ladders, and
the constructor-argument record that lets a file rebuild a network without pickled code.

Tensors follow colorgan's normalized Lab convention (see ``colorgan.color``): ``L`` (B, 1, H, W) in [-1, 1],
``ab`` (B, 2, H, W) in about [-1, 1], ``mask`` (B, 1, H, W) in [0, 1] where 1 means "color this pixel".
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, ClassVar, Literal

import torch
from torch import nn

GeneratorNorm = Literal["batch", "instance", "group", "none"]
DiscriminatorNorm = Literal["instance", "layer", "batch", "none"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

__all__ = ["DiscriminatorNorm", "GeneratorNorm", "ImageNetGray", "RebuildableModule", "apply_mask", "check_inputs",
           "network_spec", "norm_layer", "stack_inputs", "width_ladder"]


class RebuildableModule(nn.Module):
    """An ``nn.Module`` that records its constructor arguments (defaults filled in) as plain data in ``self.config``.

    A checkpoint or export stores :func:`network_spec` (class path + these arguments) beside the weights, so loading
    rebuilds the network by calling its constructor: no pickled code ever runs (the idea of stylegan2-ada's
    ``torch_utils/persistence.py``, without its source capture). Subclasses just write ``__init__``; the outermost
    class's arguments are recorded once it returns.

    ``spec_overrides`` replaces recorded values that must differ on rebuild: a network built with
    ``pretrained=True`` is rebuilt with ``pretrained=False``, since the file already holds the trained weights and
    loading must never download.
    """

    config: dict[str, Any]
    spec_overrides: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        init = cls.__dict__["__init__"]
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self: RebuildableModule, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            if type(self).__init__ is recording_init:  # a subclass's own wrapper records its arguments instead
                bound = signature.bind(self, *args, **kwargs)
                bound.apply_defaults()
                arguments = dict(list(bound.arguments.items())[1:])  # without self
                self.config = {**arguments, **self.spec_overrides}

        cls.__init__ = recording_init  # type: ignore[method-assign]


def network_spec(network: nn.Module) -> dict[str, Any] | None:
    """``{"class_path", "init_args"}`` that rebuilds ``network``; None for modules that record no arguments."""
    if not isinstance(network, RebuildableModule):
        return None
    cls = type(network)
    return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": dict(network.config)}


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


def width_ladder(base_channels: int, max_channels: int, count: int) -> list[int]:
    """Widths of ``count`` levels that double from ``base_channels`` and stop at ``max_channels``.

    Example:
        >>> width_ladder(16, 64, 5)
        [16, 32, 64, 64, 64]
    """
    return [min(base_channels * 2**i, max_channels) for i in range(count)]


def check_inputs(L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None,  # noqa: N803
                 condition_channels: int) -> None:
    """Raise ValueError unless L and mask are (B, 1, H, W) alike and ``condition`` has ``condition_channels``."""
    if L.dim() != 4 or L.shape[1] != 1:
        raise ValueError(f"L must have shape (B, 1, H, W), got {tuple(L.shape)}")
    if mask.shape != L.shape:
        raise ValueError(f"mask must have the shape of L {tuple(L.shape)}, got {tuple(mask.shape)}")
    got = 0 if condition is None else condition.shape[1]
    if got != condition_channels:
        raise ValueError(f"expected {condition_channels} condition channels, got {got}")


def stack_inputs(L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:  # noqa: N803
    """Where the mask enters a network: L, mask [and condition] stacked as (B, 2 [+ C], H, W) input channels."""
    parts = [L, mask.to(L.dtype)] + ([condition.to(L.dtype)] if condition is not None else [])
    return torch.cat(parts, dim=1)


class ImageNetGray(nn.Module):
    """Normalized L (B, 1, H, W) -> the gray image an ImageNet encoder expects: (B, 3, H, W), ImageNet mean/std.

    L* / 100 stands in for the gray sRGB intensity; close enough for ImageNet features. The statistics are
    non-persistent buffers: they follow the device and dtype but are not weights.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, L: torch.Tensor) -> torch.Tensor:  # noqa: N803
        gray = ((L + 1) / 2).expand(-1, 3, -1, -1)
        return (gray - self.mean.to(L.dtype)) / self.std.to(L.dtype)


def apply_mask(ab: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Where the mask leaves a generator: ``ab * mask``, exactly 0 (gray) wherever ``mask == 0``; soft masks fade."""
    return ab * mask.to(ab.dtype)
