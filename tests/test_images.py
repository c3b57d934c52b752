import subprocess
import sys

import numpy as np
from conftest import make_messy_folder
from PIL import Image

from colorgan.images import open_rgb


def test_open_rgb_converts_every_mode(tmp_path):
    folder = make_messy_folder(tmp_path)
    for name in ["cmyk.jpg", "rgba.png", "palette.png", "gray.jpg", "gray16.png", "rotated.jpg"]:
        image = open_rgb(folder / name)
        assert image.mode == "RGB", name
    assert open_rgb(folder / "rotated.jpg").size == (48, 64)  # EXIF orientation applied: portrait
    g16 = np.asarray(open_rgb(folder / "gray16.png"))
    assert g16.max() > 200 and np.all(g16[..., 0] == g16[..., 1])  # scaled from 16 bit, not clipped to white


def test_open_rgb_composites_transparency_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    assert np.all(np.asarray(open_rgb(tmp_path / "clear.png")) == 255)


def test_predict_and_evaluate_paths_do_not_import_lightning():
    """``colorgan predict`` should start in the time torch takes to import, without Lightning's seconds on top."""
    code = ("import sys, colorgan, colorgan.cli, colorgan.tools, colorgan.inference, colorgan.evaluation; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytorch_lightning', 'lightning')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
