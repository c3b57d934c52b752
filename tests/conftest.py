"""Shared fixtures: tiny synthetic photo folders and an isolated working directory."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
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


def generator_inputs(batch: int, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random normalized L and a mask with its top half colored (but a 3x3 gray corner), (B, 1, H, W) each."""
    L = torch.rand(batch, 1, height, width) * 2 - 1  # noqa: N806
    mask = torch.zeros(batch, 1, height, width)
    mask[..., : height // 2, :] = 1.0
    mask[..., :3, :3] = 0.0
    return L, mask


def assert_onnx_matches(path: Path, net: torch.nn.Module, sizes: list[tuple[int, int]]) -> None:
    """The ONNX export at ``path`` gives ``net``'s ab (to 1e-4) at every (H, W) of ``sizes``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for size in sizes:
        L, mask = generator_inputs(1, *size)  # noqa: N806
        with torch.no_grad():
            expected = net(L, mask).numpy()
        (ab,) = session.run(None, {"L": L.numpy(), "mask": mask.numpy()})
        assert ab.shape == expected.shape
        assert abs(ab - expected).max() < 1e-4


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask for the test, whatever the one running the suite is; restored afterwards."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder after ``colorgan fit --config configs/tiny.yaml`` on eight 40x48 photos, trained once per
    test session: ``images/`` and ``runs/tiny/version_0/``. Shared: tests write their outputs elsewhere."""
    from colorgan import cli

    root = tmp_path_factory.mktemp("tiny_project")
    images = make_image_folder(root / "images")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("WANDB_MODE", "offline")
        assert cli.main(["fit", "--config", str(CONFIGS / "tiny.yaml"), "--data.data_dir", str(images)]) == 0
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


def make_messy_folder(root: Path) -> Path:
    """Good photos plus every kind of trouble a real folder has."""
    make_image_folder(root / "good", count=6, size=(48, 40))
    rng = np.random.default_rng(1)
    photo = Image.fromarray(smooth_color_image(rng, 48, 64))
    photo.convert("CMYK").save(root / "cmyk.jpg")
    photo.convert("RGBA").save(root / "rgba.png")
    photo.convert("P", palette=Image.Palette.ADAPTIVE).save(root / "palette.png")
    photo.save(root / "upper.JPEG")
    photo.convert("L").save(root / "gray.jpg")
    Image.fromarray(np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) * 20).save(root / "gray16.png")
    photo.resize((8, 8)).save(root / "tiny.png")
    (root / "notes.txt").write_text("not an image")
    (root / "fake.png").write_bytes(b"\x89PNG but not really")
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")  # noisy: long scan data
    (root / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    photo.save(root / "rotated.jpg", exif=exif)
    (root / ".hidden").mkdir()
    photo.save(root / ".hidden" / "skip.png")
    return root
