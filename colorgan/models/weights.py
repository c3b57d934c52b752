"""Pretrained weights from torch hub's cache: found on disk, downloaded once when the host answers, or one clear
sentence saying where to put the file. Never a hang offline, never a silently random network.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

import torch

from colorgan.errors import ColorganError

VGG16_WEIGHTS_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
"""torchvision's ImageNet VGG16 weights (``VGG16_Weights.IMAGENET1K_V1``), about 528 MB."""

__all__ = ["VGG16_WEIGHTS_URL", "hub_file", "load_hub_weights", "unreachable"]


def unreachable(url: str, timeout: float = 5.0) -> str | None:
    """None when ``url``'s host accepts a connection, else why not (so offline users get a sentence, not a hang)."""
    host = urlparse(url).hostname or ""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return None
    except OSError as error:
        return f"{host} is unreachable ({error.strerror or error})"


def hub_file(url: str) -> Path:
    """Where torch hub keeps (and looks for) the file of ``url``: ``$TORCH_HOME/hub/checkpoints/<name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def load_hub_weights(url: str, what: str, fallback: str) -> dict[str, torch.Tensor]:
    """The state dict at ``url``, from torch hub's cache or downloaded into it (hash-checked, weights only).

    Args:
        url: the weights file's address; its name is its name in the cache.
        what: the weights' name in messages, e.g. ``"pretrained VGG16 weights"``.
        fallback: what the user can do instead, e.g. ``"set pretrained: false to train from scratch"``.

    Raises:
        ColorganError: at once when the file is missing and the host unreachable, or when loading fails.
    """
    path = hub_file(url)
    hint = f"put {url} at {path}, or {fallback}"
    if not path.is_file() and (reason := unreachable(url, timeout=3.0)) is not None:
        raise ColorganError(f"the {what} {path} are missing and {reason}: {hint}.")
    try:
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=True, check_hash=True,
                                                  weights_only=True)
    except Exception as error:  # noqa: BLE001 (network, truncated file, wrong file: the same clear message)
        raise ColorganError(f"loading the {what} failed ({error}): {hint}.") from error
