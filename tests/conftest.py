"""Shared fixtures: tiny synthetic photo folders and an isolated working directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


def smooth_color_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A colorful, smooth uint8 RGB image: random low-frequency color fields (something a colorizer can learn)."""
    coarse = rng.uniform(0, 255, size=(3, 4, 4)).astype(np.float32)
    field = torch.nn.functional.interpolate(torch.from_numpy(coarse)[None], size=(height, width), mode="bicubic",
                                            align_corners=False)[0]
    return field.clamp(0, 255).round().byte().permute(1, 2, 0).numpy()


def make_image_folder(root: Path, count: int = 8, size: tuple[int, int] = (40, 48), seed: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(smooth_color_image(rng, size[0], size[1])).save(root / f"photo_{i:02d}.png")
    return root


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    """Eight 40x48 color PNGs."""
    return make_image_folder(tmp_path / "images")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory (runs/ lands there) with W&B kept offline and quiet."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(work))
    return work
