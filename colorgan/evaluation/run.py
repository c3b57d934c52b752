"""Evaluate a checkpoint and two training-free baselines on a folder of photos, per mask family.

:func:`evaluate`, behind ``colorgan evaluate --ckpt C [--size 256] [--out results.json] IMAGE_DIR``:

1. The photos are screened and cropped like validation images (short side resized to ``size``, center crop);
   files that do not decode (truncated, corrupt) are skipped with a warning, so each photo is scored once.
2. Each photo is scored under one fixed mask of every family (:mod:`.protocol`), so there is a row per
   family and one over ``all`` pairs.
3. Three methods see the same (image, mask) pairs: the checkpoint's EMA generator (``model``), ``gray`` (ab = 0:
   what a model that never colors scores) and ``mean_color`` (one average ab inside the mask: a model that
   learned a single color; fit on the checkpoint's training photos, or on this folder). A model should beat both.
4. Scores are those of :mod:`.metrics`, plus LPIPS and FID where their weights are on disk
   (:mod:`.perceptual`); otherwise the report carries one line each saying why not.
5. A model trained with hints is scored without hints (``model``) and, for each count N of ``hints``, with N
   hints drawn from the truth inside the mask (``model+N hints``): seeded per (file name, family, protocol seed)
   like the masks (:func:`.protocol.protocol_hint_seed`), and nested, so the curve over N is reproducible.
   Their colors are spread over their regions after the network, as ``colorgan predict`` does
   (:mod:`colorgan.propagation`; ``spread=False`` scores the network alone). ``psnr_unhinted`` is the PSNR on
   the mask pixels no hint covers, ``hinted_share`` the share of the mask hints cover.

The target is the truth colored inside the mask and gray outside, and the prediction's RGB is
:func:`.scores.scored_rgb` of ``(L, ab)`` at the crop size, exactly as in ``ColorGAN.test_step``: so
``colorgan test`` and this agree on the same files at the same size.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from colorgan.checkpoint import DEFAULT_SIZE, load_generator
from colorgan.color import AB_SCALE, rgb_to_lab_norm
from colorgan.errors import ColorganError, printable
from colorgan.evaluation import perceptual as perceptual_metrics
from colorgan.evaluation import report
from colorgan.evaluation.baselines import Predictor, gray_baseline, mean_ab_of, mean_color_baseline
from colorgan.evaluation.metrics import ColorizationMetrics
from colorgan.evaluation.protocol import PROTOCOL_FAMILIES, ProtocolDataset
from colorgan.evaluation.report import EvaluationResult
from colorgan.evaluation.scores import scored_rgb
from colorgan.hints import require_hints, sample_hints, takes_hints
from colorgan.images import ImageFolderDataset, find_images, screen_images
from colorgan.inference import resolve_device
from colorgan.propagation import hinted_ab

CACHE_BYTES = 256 << 20
"""Keep the decoded crops in memory (decoded once for both passes) when they take at most this much."""
THUMBNAIL_SIZE = 128

__all__ = ["evaluate"]


def evaluate(image_dir: str | Path, ckpt: str | Path | None = None, *, generator: nn.Module | None = None,
             size: int | None = None, batch_size: int = 8, device: str | torch.device = "cpu", seed: int = 0,
             baselines: bool = True, mean_ab: Sequence[float] | None = None, perceptual: bool = True,
             families: Sequence[str] = PROTOCOL_FAMILIES, thumbnails: int = 16, progress: bool = False,
             out: str | Path | None = None, wandb: bool | None = None,
             hints: Sequence[int] = (), spread: bool = True) -> EvaluationResult:
    """Score a checkpoint (or ``generator``) and the baselines on the photos in ``image_dir``, per mask family.

    Args:
        image_dir: a folder of photos (recursive); grayscale images, images under ``size // 2`` and files that do
            not decode are skipped, each with a warning.
        ckpt: a checkpoint or safetensors export; with neither it nor ``generator`` only the baselines run.
        generator: an already loaded ``generator(L, mask) -> ab`` (used instead of ``ckpt``).
        size: side of the square center crops (the resolution the networks see); default: the size the
            checkpoint was trained at, else 256.
        batch_size: (image, mask) pairs per forward pass.
        device: where the networks run.
        seed: protocol seed of the masks (0 for reported numbers).
        baselines: also score ``gray`` and ``mean_color``.
        mean_ab: the mean-color baseline's normalized (a, b); default: the mean over the checkpoint's training
            crops where the checkpoint records it (colorgan >= 0.2), else the mean over this folder's crops.
        perceptual: try LPIPS and FID (each runs only if its weights are on disk).
        families: mask families to evaluate.
        thumbnails: how many (image, mask) pairs to keep as thumbnails for the W&B table.
        progress: show a progress bar.
        out: write ``<out stem>.json`` and ``.csv`` here (see :mod:`.report`).
        wandb: log tables to W&B: True starts a run if none is active (offline without a key), None logs only
            into an active run, False never.
        hints: hint counts to score a model trained with hints at, besides 0 (e.g. 1, 2, 5, 10, 20, 50).
        spread: spread the hints' colors over their regions after the network, as predict does
            (:func:`colorgan.propagation.propagate_hints`); False scores the network alone.

    Returns:
        The rows and metadata; the same as the files written to ``out``.

    Raises:
        ColorganError: no usable images, a bad checkpoint or option.
    """
    device = resolve_device(device)
    root = Path(image_dir).expanduser()
    if not root.is_dir():
        raise ColorganError(f"image folder {root} does not exist")
    info: dict[str, Any] = {}
    if generator is None and ckpt is not None:  # a bad checkpoint fails before a big folder is scanned
        generator, info = load_generator(ckpt, device)
    hint_methods = _hint_methods(generator, hints)
    size = size or info.get("image_size") or DEFAULT_SIZE  # the scale the model was trained for
    if size < 8 or batch_size < 1:
        raise ColorganError(f"size must be >= 8 and batch size >= 1, got {size} and {batch_size}")
    files = screen_images(find_images(root), size // 2)
    if not files:
        raise ColorganError(f"no usable color photos in {root}")
    # screening reads headers only: a truncated file passes it and fails to decode. skip_bad drops such files
    # (warning for each) instead of letting the next photo fill their slot, so each good photo counts once.
    images = ImageFolderDataset(files, size, train=False, cache=len(files) * 3 * size * size <= CACHE_BYTES,
                                skip_bad=True)
    files = images.files
    methods, mean, mean_source = _methods(generator, device, images, baselines, mean_ab, info)
    if "model" in methods:  # the hinted runs of the model right after it
        methods = {"model": methods["model"], **{name: methods["model"] for name in hint_methods if name != "model"},
                   **methods}
    pairs = ProtocolDataset(images, [f.name for f in files], families, seed)
    lpips_net, fids, unavailable = _perceptual(perceptual, device, list(methods))
    if fids and len(pairs) < 2:  # FID's covariances need two samples per side
        fids, unavailable["fid"] = {}, f"FID unavailable: needs at least 2 (image, mask) pairs, got {len(pairs)}"
    scores, samples = _score(pairs, methods, device, batch_size, lpips_net, fids, thumbnails, progress, files,
                             hint_methods, spread)
    meta = {
        # paths as printable text: JSON and W&B config want valid Unicode, and a name need not be valid UTF-8
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "image_dir": printable(root), "images": len(files),
        "pairs": len(pairs), "size": size, "seed": seed, "families": list(families), "device": str(device),
        "checkpoint": printable(str(info.get("path", ckpt))) if (ckpt or info) else None,
        "checkpoint_epoch": info.get("epoch"), "checkpoint_step": info.get("global_step"),
        "mean_ab": None if mean is None else mean.tolist(),  # normalized, as --mean-ab takes it
        "mean_ab_lab": None if mean is None else [round(v * AB_SCALE, 3) for v in mean.tolist()],  # a*, b*
        "mean_ab_source": mean_source,
        "hint_methods": hint_methods,  # method -> hints per pair, for the curve
        "hint_spread": spread if hint_methods else None,
        "unavailable": unavailable,
    }
    result = EvaluationResult(_rows(scores, fids), meta, samples)
    if out is not None:
        report.write_files(result, out)
    report.log_wandb(result, start=wandb)
    return result


def _methods(generator: nn.Module | None, device: torch.device, images: ImageFolderDataset, baselines: bool,
             mean_ab: Sequence[float] | None, info: dict[str, Any],
             ) -> tuple[dict[str, Predictor], torch.Tensor | None, str | None]:
    """The predictors to score (``model``, ``gray``, ``mean_color``), the mean color and where it comes from."""
    methods: dict[str, Predictor] = {}
    if generator is not None:
        methods["model"] = generator.eval().to(device)
    mean, source = None, None
    if baselines:
        # the mean-color baseline is fit on the checkpoint's training photos when it records their mean (fair:
        # the model saw only those); otherwise on this folder itself, which flatters it slightly
        if mean_ab is not None:
            mean, source = torch.tensor(mean_ab, dtype=torch.float32), "given"
        elif info.get("train_mean_ab") is not None:
            mean, source = torch.tensor(info["train_mean_ab"], dtype=torch.float32), "training photos"
        else:
            mean, source = mean_ab_of(images), "this folder"
        methods.update(gray=gray_baseline, mean_color=mean_color_baseline(mean))
    if not methods:
        raise ColorganError("nothing to evaluate: pass a checkpoint or keep the baselines")
    return methods, mean, source


def _hint_methods(generator: nn.Module | None, hints: Sequence[int]) -> dict[str, int]:
    """``{method: hints per pair}`` for a generator trained with hints (``model``: 0), else {}; bad counts refused."""
    counts = sorted(set(hints))
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in counts):
        raise ColorganError(f"hint counts must be whole numbers >= 0, got {list(hints)}")
    hinted = generator is not None and takes_hints(generator)
    if counts and generator is None:
        raise ColorganError("--hints scores a model with hints; it needs a checkpoint (not --baselines-only)")
    if counts:
        require_hints(generator, "be scored with --hints")
    if not hinted:
        return {}
    return {"model": 0, **{f"model+{n} hint{'s' * (n != 1)}": n for n in counts if n > 0}}


def _protocol_hints(ab: torch.Tensor, mask: torch.Tensor, seeds: torch.Tensor, count: int,
                    max_count: int) -> torch.Tensor:
    """(B, 3, S, S) ``count`` hints per pair from the truth ``ab`` inside ``mask``, each pair by its own seed.

    Every count draws ``max_count`` candidates from the same seed and keeps the first ``count``: the hints of a
    smaller count are among those of a larger one.
    """
    return torch.cat([sample_hints(ab[i : i + 1], mask[i : i + 1], count=count, max_count=max_count,
                                   generator=torch.Generator(ab.device).manual_seed(seed))
                      for i, seed in enumerate(seeds.tolist())])


@torch.inference_mode()
def _score(pairs: ProtocolDataset, methods: dict[str, Predictor], device: torch.device, batch_size: int,
           lpips_net: Any, fids: dict[str, Any], thumbnails: int, progress: bool, files: list[Path],
           hint_methods: dict[str, int], spread: bool,
           ) -> tuple[dict[str, ColorizationMetrics], list[dict[str, Any]]]:
    """Every method on every (image, mask) pair: per-family metrics, and thumbnails of the first pairs.

    The methods of ``hint_methods`` are hinted generators, called with that many protocol hints per pair (whose
    colors are then spread if ``spread``).
    """
    max_hints = max(hint_methods.values(), default=0)
    scores = {name: ColorizationMetrics().to(device) for name in methods}
    samples: list[dict[str, Any]] = []
    loader = DataLoader(pairs, batch_size=batch_size)
    for batch in tqdm(loader, desc="evaluating", unit="batch", disable=None if progress else True, file=sys.stderr):
        rgb = batch["image"].to(device).float() / 255.0
        mask, family = batch["mask"].to(device).float(), batch["family"].to(device)
        L, ab = rgb_to_lab_norm(rgb)  # noqa: N806
        target_ab = ab * mask  # the truth of a partial colorization is gray outside the mask
        target = scored_rgb(L, target_ab)
        outputs = {}
        unhinted = None  # the hinted model's output at 0 hints (scored first): what every count spreads from
        for name, predict in methods.items():
            hinted = None
            if name in hint_methods:
                condition = _protocol_hints(ab, mask, batch["hint_seed"], hint_methods[name], max_hints)
                pred_ab = hinted_ab(predict, L, mask, condition, spread and hint_methods[name] > 0, unhinted)
                if hint_methods[name] == 0:
                    unhinted = pred_ab
                hinted = condition[:, 2:3]
            else:
                pred_ab = predict(L, mask).float()
            pred = outputs[name] = scored_rgb(L, pred_ab)
            lp = lpips_net(pred, target, normalize=True).flatten() if lpips_net is not None else None
            scores[name].update(pred, target, pred_ab, target_ab, mask, family, lp, hinted)
            if name in fids:
                fids[name].update(target, real=True)
                fids[name].update(pred, real=False)
        for i in range(max(0, min(len(rgb), thumbnails - len(samples)))):
            samples.append({"file": printable(files[int(batch["item"][i])].name),
                            "family": PROTOCOL_FAMILIES[int(family[i])], "mask": _thumbnail(mask[i]),
                            "gray input": _thumbnail(scored_rgb(L[i:i + 1], 0 * ab[i:i + 1])[0]),
                            **{n: _thumbnail(o[i]) for n, o in outputs.items()}, "truth": _thumbnail(target[i])})
    return scores, samples


def _rows(scores: dict[str, ColorizationMetrics], fids: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per method and group (``all`` first, then each family); FID only over ``all``."""
    rows = []
    for name, metric in scores.items():
        fid = float(fids[name].compute()) if name in fids else float("nan")
        for group, values in metric.compute().items():
            rows.append({"method": name, "family": group, **values, "fid": fid if group == "all" else float("nan")})
    return rows


def _thumbnail(x: torch.Tensor) -> torch.Tensor:
    """(C, H, W) in [0, 1] -> (H', W', 3) uint8 on the CPU, at most THUMBNAIL_SIZE on the long side."""
    scale = min(1.0, THUMBNAIL_SIZE / max(x.shape[-2:]))
    if scale < 1.0:
        x = F.interpolate(x[None].float(), scale_factor=scale, mode="area")[0]
    return x.expand(3, -1, -1).mul(255).round().clamp(0, 255).byte().permute(1, 2, 0).cpu()


def _perceptual(enabled: bool, device: torch.device, methods: Sequence[str]) -> tuple[Any, dict, dict[str, str]]:
    """(lpips network or None, {method: FID metric}, {metric: why it is unavailable})."""
    unavailable: dict[str, str] = {}
    lpips_net, fids = None, {}
    if not enabled:
        return None, {}, {"lpips": "LPIPS skipped (--no-perceptual)", "fid": "FID skipped (--no-perceptual)"}
    if (reason := perceptual_metrics.lpips_unavailable()) is None:
        lpips_net = perceptual_metrics.load_lpips(device)
    else:
        unavailable["lpips"] = reason
    if (reason := perceptual_metrics.fid_unavailable()) is None:
        fids = {method: perceptual_metrics.make_fid(device) for method in methods}
    else:
        unavailable["fid"] = reason
    return lpips_net, fids, unavailable
