"""colorgan.app: the painted mask, the missing-extra message, and the page driven through its API (gradio_client)."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
import torch
from PIL import Image

from colorgan import cli
from colorgan.app import INSTALL_HINT, mask_from_editor
from colorgan.errors import ColorganError


def layer(height: int, width: int, painted: tuple[slice, slice], alpha: int = 255) -> Image.Image:
    """A transparent RGBA layer with ``painted`` (rows, cols) in opaque-ish red."""
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    pixels[painted] = (255, 0, 0, alpha)
    return Image.fromarray(pixels, mode="RGBA")


def test_mask_is_the_union_of_the_layers_alpha_at_the_background_size() -> None:
    background = Image.new("RGBA", (12, 8), (90, 90, 90, 255))
    value = {"background": background, "composite": background,
             "layers": [layer(8, 12, (slice(0, 2), slice(0, 3)), alpha=1), np.asarray(layer(8, 12, (slice(6, 8),
                                                                                               slice(9, 12))))]}
    mask = mask_from_editor(value)
    expected = torch.zeros(8, 12)
    expected[0:2, 0:3] = 1.0  # alpha 1 (a faint stroke) still counts as painted
    expected[6:8, 9:12] = 1.0
    assert mask.dtype == torch.float32 and torch.equal(mask, expected)


def test_mask_ignores_the_composite_and_resizes_odd_layers() -> None:
    background = Image.new("RGBA", (12, 8), (90, 90, 90, 255))
    red_photo = Image.new("RGBA", (12, 8), (255, 0, 0, 255))  # a composite that looks painted everywhere
    half = layer(4, 6, (slice(0, 4), slice(0, 3)))  # left half, at half size
    mask = mask_from_editor({"background": background, "composite": red_photo, "layers": [half, None]})
    assert mask.shape == (8, 12)
    assert mask[:, :6].eq(1).all() and mask[:, 6:].eq(0).all()
    assert mask_from_editor({"background": background, "layers": []}).eq(0).all()


def test_mask_needs_a_photo_and_rgba_layers() -> None:
    with pytest.raises(ColorganError, match="upload a photo"):
        mask_from_editor({"background": None, "layers": []})
    with pytest.raises(ColorganError, match="RGBA"):
        mask_from_editor({"background": Image.new("RGB", (4, 4)), "layers": [Image.new("L", (4, 4))]})


def test_app_without_gradio_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    real_import = builtins.__import__

    def no_gradio(name: str, *args, **kwargs):  # noqa: ANN002, ANN003
        if name == "gradio" or name.startswith("gradio."):
            raise ImportError("No module named 'gradio'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gradio)
    assert cli.main(["app", "--ckpt", "missing.ckpt"]) == 2
    err = capsys.readouterr().err
    assert err == f"colorgan: error: {INSTALL_HINT}\n" and "pip install 'colorgan[app]'" in err
