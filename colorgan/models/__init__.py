"""Networks: torch only (no Lightning, no color math, no files).

Every generator keeps one contract: ``generator(L, mask[, condition]) -> ab`` on normalized Lab (B, 1, H, W) inputs
of any size, with ``ab`` (B, 2, H, W) exactly 0 wherever ``mask == 0``. The mask enters through
:func:`~colorgan.models.layers.stack_inputs` and leaves through :func:`~colorgan.models.layers.apply_mask`.
"""

from colorgan.models.autoencoders import AutoencoderGenerator, DCGANAutoencoderGenerator
from colorgan.models.encoder_unet import UNetEncoderGenerator
from colorgan.models.layers import RebuildableModule, network_spec
from colorgan.models.patchgan import PatchDiscriminator
from colorgan.models.unet import UNetGenerator
from colorgan.models.vgg import VGG16Colorizer

__all__ = ["AutoencoderGenerator", "DCGANAutoencoderGenerator", "PatchDiscriminator", "RebuildableModule",
           "UNetEncoderGenerator", "UNetGenerator", "VGG16Colorizer", "network_spec"]
