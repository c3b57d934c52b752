"""colorgan: mask-conditioned GAN colorization of grayscale photos in Lab space."""

__version__ = "0.1.0"

from colorgan.data import ColorizationDataModule  # noqa: E402
from colorgan.errors import ColorganError  # noqa: E402
from colorgan.inference import colorize  # noqa: E402
from colorgan.module import ColorGAN  # noqa: E402
from colorgan.networks import PatchDiscriminator, UNetGenerator  # noqa: E402

__all__ = ["ColorGAN", "ColorganError", "ColorizationDataModule", "PatchDiscriminator", "UNetGenerator", "__version__",
           "colorize"]
