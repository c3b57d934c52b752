"""The wheel: what it ships, and predict and the quick start run from an install outside the repository (no clone,
no configs/, no runs/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from PIL import Image


def _run(command: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    return _run_both(command, cwd, env)[0]


def _run_both(command: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> tuple[str, str]:
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result.stdout, result.stderr


def _assert_stripes(path: Path, size: tuple[int, int]) -> None:
    """``path`` is ``size`` and the library's stripes mask shows: 8 bands, the odd ones exactly gray, the rest
    colored."""
    with Image.open(path) as image:
        assert image.size == size
        rgb = np.asarray(image.convert("RGB")).astype(int)
    width = rgb.shape[1]
    gray = np.floor((np.arange(width) + 0.5) / width * 8) % 2 == 1
    assert (rgb[:, gray, 0] == rgb[:, gray, 1]).all() and (rgb[:, gray, 1] == rgb[:, gray, 2]).all()
    assert np.abs(rgb[:, ~gray, 0] - rgb[:, ~gray, 2]).mean() > 1


@pytest.mark.slow
def test_wheel_predicts_with_the_bundled_model_and_runs_the_quickstart_outside_the_repository(tmp_path: Path) -> None:
    pytest.importorskip("hatchling", reason="building without isolation needs hatchling: pip install -e '.[dev]'")
    assert not tmp_path.is_relative_to(REPO)
    # the wheel, built offline with the build backend of this environment
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist",
          REPO], cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("colorgan-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for name in ("colorgan/configs/quickstart.yaml", "colorgan/configs/flowers_masks.yaml",
                 "colorgan/mask_library/stripes.png", "colorgan/sample_photos/CREDITS.md",
                 "colorgan/bundled/default.safetensors"):
        assert name in names

    # a fresh venv that borrows this environment's dependencies (torch & co.) through a .pth line. A plain path
    # line does not run the .pth files in that folder, so this environment's editable colorgan stays invisible.
    # No pip of its own either: this environment's pip, run by the new interpreter, installs into the new venv.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).strip())
    borrowed = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "_borrowed_dependencies.pth").write_text("".join(f"{path}\n" for path in borrowed))
    # --ignore-installed: pip sees this environment's colorgan through the .pth and must not try to replace it
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q", wheel], tmp_path)
    origin = _run([python, "-c", "import importlib.util; print(importlib.util.find_spec('colorgan').origin)"],
                  tmp_path).strip()
    assert Path(origin) == site / "colorgan" / "__init__.py"

    work = tmp_path / "work"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true")
    colorgan = venv / "bin" / "colorgan"
    photo = site / "colorgan" / "sample_photos" / "apple_blossom.jpg"  # 288 x 192: a wrong size would show
    with Image.open(photo) as image:
        size = image.size

    # right after install, with no runs/ anywhere: the README's predict line runs the bundled default model
    shutil.copy(photo, work / "img.jpg")
    _, said = _run_both([colorgan, "predict", "--mask", "stripes.png", "--no-progress", "img.jpg"], work, env)
    assert "using the bundled default model default.safetensors" in said
    _assert_stripes(work / "colorized" / "img_color.png", size)
    assert not (work / "runs").exists()

    # the quick start in that folder: the bundled config by name, the bundled photos, one short epoch
    _run([colorgan, "fit", "--config", "quickstart", "--trainer.max_epochs", "1",
          "--trainer.limit_train_batches", "2", "--trainer.num_sanity_val_steps", "0",
          "--trainer.enable_progress_bar", "false"], work, env)
    assert list((work / "runs" / "quickstart" / "version_0" / "checkpoints").glob("*.ckpt"))

    # then predict takes the run's checkpoint instead, and says so
    _, said = _run_both([colorgan, "predict", "--mask", "stripes.png", "--no-progress", photo], work, env)
    assert "using the newest checkpoint runs/quickstart/version_0/checkpoints/" in said
    _assert_stripes(work / "colorized" / "apple_blossom_color.png", size)


def test_every_bundled_photo_is_credited_once_and_small() -> None:
    import csv

    folder = REPO / "colorgan" / "sample_photos"
    rows = list(csv.DictReader((folder / "credits.csv").open(encoding="utf-8")))
    photos = sorted(p.name for p in folder.glob("*.jpg"))
    assert sorted(r["file"] for r in rows) == photos  # each photo once, no credit without its photo
    assert all(r["author"] and r["source"] and r["license"] for r in rows)
    credits_md = (folder / "CREDITS.md").read_text(encoding="utf-8")
    assert all(f"| {name} |" in credits_md for name in photos) and f"holds {len(photos)} small" in credits_md
    assert all(min(Image.open(folder / name).size) == 192 for name in photos)  # downscaled as CREDITS.md says
