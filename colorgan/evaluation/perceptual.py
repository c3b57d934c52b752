"""LPIPS and FID, only from backbone weights already on disk: never a download, never a random backbone.

Both metrics need ImageNet-trained networks that colorgan does not ship:

- **LPIPS** (the ``lpips`` package, AlexNet variant) needs torchvision's AlexNet weights
  ``<torch hub>/checkpoints/alexnet-owt-7be5be79.pth`` and lpips's linear layers ``lpips/weights/v0.1/alex.pth``,
  which ship inside the lpips wheel.
- **FID** (torchmetrics' ``FrechetInceptionDistance``) needs the ``torch-fidelity`` package and its Inception
  weights ``<torch hub>/checkpoints/weights-inception-2015-12-05-6726825d.pth``.

``<torch hub>`` is :func:`torch.hub.get_dir`: ``$TORCH_HOME/hub``, by default ``~/.cache/torch/hub``. Files are
checked *before* anything is built, and the networks are then built from those files only (lpips with
``pnet_rand=True`` and the AlexNet weights loaded here; torch-fidelity with an explicit weights path), so
nothing can fall through to a download. When something is missing, ``*_unavailable`` returns one line saying what
and where, which the report prints instead of a number.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import torch
from torch import nn

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
ALEXNET_URL = f"https://download.pytorch.org/models/{ALEXNET_FILE}"
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"

__all__ = ["fid_unavailable", "load_lpips", "lpips_unavailable", "make_fid"]


def _checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"  # reads $TORCH_HOME on every call


def _lpips_linear_weights() -> Path | None:
    spec = importlib.util.find_spec("lpips")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "weights" / "v0.1" / "alex.pth"


def lpips_unavailable() -> str | None:
    """None when LPIPS can be computed from local files, else one line saying which file is missing where."""
    linear = _lpips_linear_weights()
    if linear is None:
        return "LPIPS unavailable: the lpips package is not installed (pip install lpips)"
    if not linear.is_file():
        return f"LPIPS unavailable: lpips's linear weights are missing at {linear} (reinstall lpips)"
    alexnet = _checkpoints() / ALEXNET_FILE
    if not alexnet.is_file():
        return f"LPIPS unavailable: AlexNet weights not found at {alexnet} (download {ALEXNET_URL} there)"
    return None


def load_lpips(device: str | torch.device = "cpu") -> nn.Module:
    """The LPIPS (AlexNet) metric built from local files only, frozen; call it as ``lpips(x, y, normalize=True)``
    on (B, 3, H, W) images in [0, 1] to get (B, 1, 1, 1) distances.

    Raises:
        FileNotFoundError: with :func:`lpips_unavailable`'s line, when a file is missing.
    """
    reason = lpips_unavailable()
    if reason is not None:
        raise FileNotFoundError(reason)
    import lpips

    # pnet_rand=True builds AlexNet without torchvision's download; its ImageNet weights are loaded right below.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # lpips passes torchvision's deprecated `pretrained=`
        model = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
    state = torch.load(_checkpoints() / ALEXNET_FILE, map_location="cpu", weights_only=True)
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    # lpips splits torchvision's alexnet.features into slice1..slice5, keeping each layer's index as its name.
    loaded = 0
    for block in (model.net.slice1, model.net.slice2, model.net.slice3, model.net.slice4, model.net.slice5):
        for index, layer in block.named_children():
            wanted = {name: features[f"{index}.{name}"] for name in layer.state_dict()}
            layer.load_state_dict(wanted)
            loaded += len(wanted)
    if loaded != len(features):
        raise ValueError(f"{ALEXNET_FILE}: loaded {loaded} of its {len(features)} feature tensors")
    return model.eval().requires_grad_(False).to(device)


def fid_unavailable() -> str | None:
    """None when FID can be computed from local files, else one line saying what is missing where."""
    weights = _checkpoints() / INCEPTION_FILE
    if importlib.util.find_spec("torch_fidelity") is None:
        return (f"FID unavailable: torchmetrics' FID needs the torch-fidelity package (pip install torch-fidelity) "
                f"and its Inception weights at {weights} ({INCEPTION_URL})")
    if not weights.is_file():
        return f"FID unavailable: Inception weights not found at {weights} (download {INCEPTION_URL} there)"
    return None


def make_fid(device: str | torch.device = "cpu") -> nn.Module:
    """torchmetrics' FID (2048-d pool features) on images in [0, 1], with the Inception weights from local files.

    Raises:
        FileNotFoundError: with :func:`fid_unavailable`'s line, when something is missing.
    """
    reason = fid_unavailable()
    if reason is not None:
        raise FileNotFoundError(reason)
    from torchmetrics.image.fid import FrechetInceptionDistance

    return FrechetInceptionDistance(feature=2048, normalize=True,
                                    feature_extractor_weights_path=str(_checkpoints() / INCEPTION_FILE)).to(device)
