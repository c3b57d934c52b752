"""colorgan: mask-conditioned GAN colorization of grayscale photos in Lab space."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colorgan.errors import ColorganError
from colorgan.inference import colorize
from colorgan.models import PatchDiscriminator, UNetGenerator
from colorgan.version import __version__

if TYPE_CHECKING:
    from colorgan.training.data import ColorizationDataModule
    from colorgan.training.module import ColorGAN

# The Lightning-backed classes load on first use: `colorgan predict` and `from colorgan import colorize` then start
# without importing pytorch_lightning (several seconds).
_LAZY = {"ColorGAN": "colorgan.training.module", "ColorizationDataModule": "colorgan.training.data"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'colorgan' has no attribute {name!r}")


__all__ = ["ColorGAN", "ColorganError", "ColorizationDataModule", "PatchDiscriminator", "UNetGenerator", "__version__",
           "colorize"]
