"""The evaluation protocol: every image under one fixed mask of each family.

Training draws one random mask family per image; an evaluation that does the same has per-family numbers for
whichever families a small set happened to draw. Here instead each image is evaluated once per family
(:data:`PROTOCOL_FAMILIES`: the library and every procedural family, including ``full`` and ``empty``), with a
mask seeded by the image's *file name*, the family and a protocol seed. So the masks do not depend on where the
file lives, on which other files are in the folder or on their order: ``colorgan test`` (the validation images of
a config) and ``colorgan evaluate`` (a folder holding the same files, at the same size) score the same pairs.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from colorgan.masks import MASK_FAMILIES, MaskSampler

PROTOCOL_FAMILIES: tuple[str, ...] = MASK_FAMILIES
"""All mask families in a fixed order; a batch's ``family`` entry indexes this tuple."""

__all__ = ["PROTOCOL_FAMILIES", "ProtocolDataset", "protocol_hint_seed", "protocol_mask"]


@functools.cache
def _sampler(family: str) -> MaskSampler:
    return MaskSampler({family: 1.0})


def _key_bytes(text: str) -> bytes:
    """UTF-8 bytes of ``text``, also when it holds a file name that is not valid UTF-8."""
    # Plain UTF-8 is what seeded the masks of published numbers, so valid names must keep exactly these bytes.
    # Python decodes a name that is not valid UTF-8 (b'caf\xe9.jpg' from a Latin-1 system) with each bad byte as
    # a lone surrogate; surrogateescape turns those back into the name's own bytes, and leaves valid UTF-8 alone.
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates (unpaired UTF-16 in a Windows name): any fixed bytes do
        return text.encode("utf-8", "surrogatepass")


def protocol_mask(key: str, family: str, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """The fixed evaluation mask of image ``key`` (its file name) for ``family``: (1, H, W) float {0, 1}.

    ``library`` masks are one of the named patterns (randomly flipped), drawn like in training but without the
    user's ``mask_dir`` PNGs, so numbers compare across configs.
    """
    if family not in PROTOCOL_FAMILIES:
        raise ValueError(f"unknown mask family {family!r}; known: {', '.join(PROTOCOL_FAMILIES)}")
    # crc32, not hash(): Python salts str hashes per process, and the masks must be the same in every run.
    generator = torch.Generator().manual_seed(zlib.crc32(_key_bytes(f"{seed}/{family}/{key}")))
    return _sampler(family)(1, height, width, "cpu", generator)[0]


def protocol_hint_seed(key: str, family: str, seed: int = 0) -> int:
    """The seed of the hints drawn for image ``key`` under ``family`` (``colorgan evaluate --hints``).

    Like the masks, fixed by the file name, the family and the protocol seed, not by batching or order; the same
    seed at every hint count, so the hints of a smaller count are the first of a larger one's.
    """
    return zlib.crc32(_key_bytes(f"{seed}/hints/{family}/{key}"))


class ProtocolDataset(Dataset):
    """Items of ``images`` (dicts with a uint8 ``image`` (3, S, S)) under each family's protocol mask.

    Item ``i`` is image ``i // len(families)`` under family ``i % len(families)``, so a sequential loader decodes
    each image once (the last decoded image is kept). Each item is ``{"image": (3, S, S) uint8, "mask": (1, S, S)
    uint8, "family": () int64 index into PROTOCOL_FAMILIES, "item": () int64 image index, "hint_seed": () int64
    (:func:`protocol_hint_seed`)}``.

    Args:
        images: a map-style dataset of square uint8 crops, e.g. :class:`colorgan.images.ImageFolderDataset` in
            evaluation mode.
        keys: one key per image (its file name), which seeds its masks.
        families: the families to evaluate (default: all).
        seed: protocol seed; 0 is the one whose numbers are reported.
    """

    def __init__(self, images: Dataset, keys: Sequence[str], families: Sequence[str] = PROTOCOL_FAMILIES,
                 seed: int = 0) -> None:
        if len(keys) != len(images):  # type: ignore[arg-type]
            raise ValueError(f"got {len(keys)} keys for {len(images)} images")  # type: ignore[arg-type]
        unknown = [f for f in families if f not in PROTOCOL_FAMILIES]
        if unknown or not families:
            raise ValueError(f"families must be a non-empty subset of {PROTOCOL_FAMILIES}, got {list(families)}")
        self.images, self.keys, self.families, self.seed = images, list(keys), list(families), seed
        self._last: tuple[int, torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.keys) * len(self.families)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item, column = divmod(index, len(self.families))
        if self._last is None or self._last[0] != item:
            self._last = (item, self.images[item]["image"])
        image = self._last[1]
        family = self.families[column]
        mask = protocol_mask(self.keys[item], family, image.shape[-2], image.shape[-1], self.seed)
        return {"image": image, "mask": mask.to(torch.uint8), "family": torch.tensor(PROTOCOL_FAMILIES.index(family)),
                "item": torch.tensor(item), "hint_seed": torch.tensor(protocol_hint_seed(self.keys[item], family,
                                                                                         self.seed))}
