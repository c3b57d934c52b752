"""colorgan.app: the painted mask, the missing-extra message, and the page driven through its API (gradio_client)."""

from __future__ import annotations

import builtins
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import smooth_color_image
from PIL import Image

from colorgan import cli
from colorgan.app import INSTALL_HINT, add_hint, colorize_editor, library_layer, mask_from_editor, parse_hint_lines
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


class Colorful(torch.nn.Module):
    """A stand-in generator: strong chroma everywhere the mask lets it."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, L: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: N803
        return torch.full_like(L, 0.3).repeat(1, 2, 1, 1) * mask


def gray(image: Image.Image) -> np.ndarray:
    """Where an RGB image has R = G = B exactly, (H, W) bool."""
    pixels = np.asarray(image, dtype=np.int16)
    return (pixels[..., 0] == pixels[..., 1]) & (pixels[..., 1] == pixels[..., 2])


def test_a_library_mask_becomes_paint_that_reads_back_as_the_same_mask() -> None:
    from colorgan.masks import library_mask

    value = {"background": Image.new("RGBA", (30, 20)), "layers": [library_layer("circle", 20, 30)]}
    assert torch.equal(mask_from_editor(value), library_mask("circle", 20, 30)[0])


def test_invert_colors_what_is_not_painted_and_feather_softens_the_edge() -> None:
    photo = Image.new("RGBA", (40, 20), (120, 120, 120, 255))
    value = {"background": photo, "layers": [layer(20, 40, (slice(None), slice(0, 20)))]}  # left half painted
    plain = gray(colorize_editor(value, Colorful(), size=None))
    assert not plain[:, :20].any() and plain[:, 20:].all()
    inverted = gray(colorize_editor(value, Colorful(), size=None, invert=True))
    assert inverted[:, :20].all() and not inverted[:, 20:].any()
    # feathered: the color fades over the 4 pixels on each side of the edge, and is exactly gray beyond them
    soft = np.asarray(colorize_editor(value, Colorful(), size=None, feather=4), dtype=np.int16)
    chroma = np.abs(soft[..., 0] - soft[..., 2])[10]
    assert chroma[15] == chroma[0] > chroma[19] > chroma[21] > chroma[23] == 0 and gray(Image.fromarray(
        soft.astype(np.uint8)))[:, 24:].all()
    nothing = {"background": photo, "layers": []}
    with pytest.raises(ColorganError, match="nothing is painted"):
        colorize_editor(nothing, Colorful(), size=None)
    assert not gray(colorize_editor(nothing, Colorful(), size=None, invert=True)).any()  # all of it, inverted


class HintSpread(torch.nn.Module):
    """A stand-in hinted generator: the mean ab of the hints, everywhere the mask lets it."""

    condition_channels = 3

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:  # noqa: N803
        total = condition.sum(dim=(2, 3), keepdim=True)
        return (total[:, :2] / total[:, 2:].clamp_min(1e-6)).expand(-1, -1, *L.shape[-2:]) * mask


def test_hint_box_lines_are_added_by_clicks_and_parsed_like_hint_options() -> None:
    text = add_hint(add_hint("", 3, 4, "#2060ff"), 10, 2, "red")
    assert text == "3,4,#2060ff\n10,2,red"
    assert [(h.x, h.y, h.color) for h in parse_hint_lines(text + "\n\n")] == [(3, 4, "#2060ff"), (10, 2, "red")]
    with pytest.raises(ColorganError, match="hint line 2"):
        parse_hint_lines("3,4,red\n5,nowhere,blue")


def test_hints_steer_a_hinted_model_and_are_refused_by_others() -> None:
    photo = Image.new("RGBA", (40, 20), (120, 120, 120, 255))
    value = {"background": photo, "layers": [layer(20, 40, (slice(None), slice(None)))]}
    blue = np.asarray(colorize_editor(value, HintSpread(), size=None, hints="20,10,#2060ff"), dtype=np.int16)
    assert (blue[..., 2] > blue[..., 0] + 20).all()  # the hint's blue, spread over the painted photo
    with pytest.raises(ColorganError, match="trained without hints"):
        colorize_editor(value, Colorful(), size=None, hints="20,10,#2060ff")


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


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random U-Net with hint channels exported as safetensors, trained (it says) at 32 px."""
    from colorgan.checkpoint import save_generator_safetensors
    from colorgan.models import UNetGenerator, network_spec

    torch.manual_seed(0)
    net = UNetGenerator(base_channels=4, depth=2, max_channels=8, condition_channels=3)
    path = tmp_path_factory.mktemp("app") / "tiny.safetensors"
    return save_generator_safetensors(net, path, {"colorgan": json.dumps({"generator": network_spec(net),
                                                                         "image_size": 32})})


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A colorful 40x56 photo (what the page must turn gray outside the paint)."""
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(smooth_color_image(np.random.default_rng(3), 40, 56)).save(path)
    return path


def assert_painted_result(result: Image.Image, photo: Path, painted: np.ndarray, export: Path,
                          size: tuple[int, int] | None = None) -> None:
    """``result`` is what colorize() gives for ``painted``: colored there, R = G = B exactly elsewhere, at ``size``
    (default: the file's)."""
    from colorgan.checkpoint import load_generator
    from colorgan.inference import colorize

    pixels = np.asarray(result.convert("RGB"), dtype=np.int16)
    assert result.size == (size or Image.open(photo).size)
    outside = pixels[~painted]
    assert (outside[:, 0] == outside[:, 1]).all() and (outside[:, 1] == outside[:, 2]).all()
    inside = pixels[painted]
    assert (np.abs(inside[:, 0] - inside[:, 1]) + np.abs(inside[:, 1] - inside[:, 2]) > 0).mean() > 0.5
    generator = load_generator(export)[0]
    expected = colorize(photo, mask=torch.from_numpy(painted.astype(np.float32)), generator=generator, size=32)
    assert np.array_equal(pixels, np.asarray(expected, dtype=np.int16))


def test_page_colorizes_where_the_layer_is_painted(export: Path, photo: Path, tmp_path: Path) -> None:
    pytest.importorskip("gradio", reason="the app needs the extra: pip install 'colorgan[app]'")
    from gradio_client import Client, handle_file

    from colorgan.app import launch

    painted = np.zeros((40, 56), dtype=bool)
    painted[5:30, 10:40] = True
    stroke = tmp_path / "layer.png"
    layer(40, 56, (slice(5, 30), slice(10, 40)), alpha=128).save(stroke)
    page = launch(export, port=None, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(page.local_url, verbose=False, download_files=str(tmp_path / "downloads"))
        editor = {"background": handle_file(str(photo)), "layers": [handle_file(str(stroke))],
                  "composite": handle_file(str(photo))}
        output = client.predict(editor, str(export), api_name="/colorize")
        assert Path(output).name == "photo_colorized.png"  # PNG: lossless, WebP would break the exact gray
        assert_painted_result(Image.open(output), photo, painted, export)
        # The library dropdown replaces the paint with a mask the user can edit on; invert colors the rest.
        started = client.predict(editor, "half_vertical", api_name="/library_mask")
        half = np.zeros((40, 56), dtype=bool)
        half[:, :28] = True
        assert started["composite"] is None and len(started["layers"]) == 1
        started = {"background": handle_file(started["background"]), "layers": [handle_file(started["layers"][0])]}
        output = client.predict(started, str(export), True, 0, api_name="/colorize")
        assert np.array_equal(gray(Image.open(output).convert("RGB")), half)
        with pytest.raises(Exception, match="nothing is painted"):  # an error is a message, not a traceback
            client.predict({**editor, "layers": []}, str(export), api_name="/colorize")
    finally:
        page.close()


def rotated_jpeg(path: Path) -> Path:
    """A JPEG stored 40 wide and 56 high with EXIF orientation 6 (turn 90 degrees clockwise): 56x40 upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(smooth_color_image(np.random.default_rng(5), 56, 40)).save(path, quality=95, exif=exif)
    return path


def test_page_colorizes_the_uploaded_file_as_predict_does(export: Path, photo: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A 16-bit PNG and an EXIF-rotated JPEG, uploaded and painted: the result is predict's output for the file
    under that paint (upright, full size, the same pixels and depth), named after it; a pasted photo is used as is."""
    pytest.importorskip("gradio", reason="the app needs the extra: pip install 'colorgan[app]'")
    from gradio_client import Client, handle_file

    from colorgan import app
    from colorgan.checkpoint import load_generator
    from colorgan.inference import colorize, colorize_files

    gray16 = tmp_path / "gray16.png"
    Image.fromarray(np.arange(40 * 56, dtype=np.uint16).reshape(40, 56) * 25 + 1000).save(gray16)  # low bytes vary
    assert Image.open(gray16).mode.startswith("I")  # a 16-bit file
    jpeg = rotated_jpeg(tmp_path / "turned.jpg")
    generator = load_generator(export)[0]
    page = app.launch(export, port=None, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(page.local_url, verbose=False, download_files=str(tmp_path / "downloads"))
        # (file, longest side the editor shows, the paint there): the JPEG's copy is half size, painted at half size
        for source, side, shown in ((gray16, 2048, (slice(5, 30), slice(10, 40))), (jpeg, 28, (slice(3, 15),
                                                                                                slice(5, 20)))):
            monkeypatch.setattr(app, "DISPLAY_SIDE", side)
            opened, result = client.predict(handle_file(str(source)), api_name="/open_photo")
            copy = opened["background"]
            width, height = Image.open(copy).size
            assert result is None and not opened["layers"] and (width, height) == ((56, 40) if side > 56 else (28, 20))
            stroke = tmp_path / f"{source.stem}_layer.png"
            layer(height, width, shown, alpha=128).save(stroke)
            editor = {"background": handle_file(copy), "layers": [handle_file(str(stroke))], "composite": None}
            output = Path(client.predict(editor, str(export), api_name="/colorize"))
            assert output.name == f"{source.stem}_colorized.png"
            painted = np.zeros((height, width), dtype=bool)
            painted[shown] = True
            painted = painted.repeat(40 // height, axis=0).repeat(56 // width, axis=1)  # the paint, nearest
            assert_painted_result(Image.open(output), source, painted, export, size=(56, 40))
            predicted = colorize_files([source], mask=torch.from_numpy(painted.astype(np.float32)),
                                       generator=generator, size=32, out_dir=tmp_path / "predict", progress=False)
            expected = Image.open(predicted.written[0][1])
            assert Image.open(output).mode == expected.mode  # the depth predict writes
            assert np.array_equal(np.asarray(Image.open(output)), np.asarray(expected))
        # A photo pasted over the upload's copy is colorized as the browser sent it, under a generic name.
        stroke = tmp_path / "pasted_layer.png"
        layer(40, 56, (slice(6, 30), slice(10, 40))).save(stroke)
        pasted = {"background": handle_file(str(photo)), "layers": [handle_file(str(stroke))], "composite": None}
        output = Path(client.predict(pasted, str(export), api_name="/colorize"))
        painted = np.zeros((40, 56), dtype=bool)
        painted[6:30, 10:40] = True
        assert output.name == "photo_colorized.png"
        assert np.array_equal(np.asarray(Image.open(output)), np.asarray(
            colorize(photo, mask=torch.from_numpy(painted.astype(np.float32)), generator=generator, size=32)))
    finally:
        page.close()


def test_upload_needs_an_image_file(tmp_path: Path) -> None:
    from colorgan.app import open_upload

    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ColorganError, match="cannot read image notes.png"):
        open_upload(tmp_path / "notes.png")


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright's own browser downloads are never used


@pytest.mark.slow  # ~20 s: a browser starts; runs in the default suite all the same
def test_browser_paints_a_stroke_and_downloads_the_result(export: Path, tmp_path: Path) -> None:
    """End to end in a real browser: upload a rotated JPEG, paint with the mouse, colorize, download, check the
    file against colorize() of the JPEG itself; then click a blue hint onto the stroke, colorize again, and see
    the stroke turn blue."""
    pytest.importorskip("gradio", reason="the app needs the extra: pip install 'colorgan[app]'")
    playwright = pytest.importorskip("playwright.sync_api", reason="needs Playwright: pip install playwright==1.65.2")
    if not CHROMIUM.is_file():
        pytest.skip(f"needs Chromium at {CHROMIUM}: apt-get install -y --no-install-recommends chromium")
    from colorgan.app import PLACEHOLDER, launch
    from colorgan.checkpoint import load_generator
    from colorgan.inference import colorize

    source = tmp_path / "turned.jpg"  # stored 96 wide and 128 high, EXIF orientation 6: 128x96 upright
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(smooth_color_image(np.random.default_rng(4), 128, 96)).save(source, quality=95, exif=exif)
    app = launch(export, port=None, prevent_thread_lock=True, quiet=True)
    try:
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # The file input is in the page before the page listens: wait until the editor's canvas exists. (Not
            # for network idle: the page keeps a heartbeat open for its per-session state.)
            page.goto(app.local_url)
            page.locator("#editor canvas").first.wait_for()
            page.locator("#photo input[type=file]").set_input_files(str(source))
            # The photo is decoded and drawn in the browser (no request to wait for): its first undo step says it
            # is on the canvas. A stroke painted before that would be on an empty canvas, without a background.
            playwright.expect(page.locator("#editor button[title=Undo]")).to_be_enabled(timeout=30_000)
            playwright.expect(page.locator("#editor")).not_to_contain_text(PLACEHOLDER)
            canvas = page.locator("#editor canvas").first
            box = canvas.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x - 60, y)  # the brush is the editor's default tool: a horizontal stroke through the middle
            page.mouse.down()
            for step in range(13):
                page.mouse.move(x - 60 + 10 * step, y)
            page.mouse.up()
            page.click("#colorize")
            page.locator("#result img").wait_for(timeout=60_000)
            with page.expect_download() as download:
                page.locator("#result").get_by_label("Download").first.click()
            assert download.value.suggested_filename == "turned_colorized.png"
            saved = tmp_path / "downloaded.png"
            download.value.save_as(saved)
            # A click on the result places a color hint at that pixel of the photo, in the picker's color: the
            # middle of the stroke. Colorized again, the hint's blue spreads along the stroke.
            result_image = page.locator("#result img")
            before = result_image.get_attribute("src")
            result_box = result_image.bounding_box()
            result_image.click(position={"x": result_box["width"] / 2, "y": result_box["height"] / 2})
            playwright.expect(page.locator("#hints textarea")).to_have_value(re.compile(r"^\d+,\d+,#2060ff$"))
            page.click("#colorize")
            playwright.expect(result_image).not_to_have_attribute("src", before, timeout=60_000)
            with page.expect_download() as download:
                page.locator("#result").get_by_label("Download").first.click()
            hinted_file = tmp_path / "hinted.png"
            download.value.save_as(hinted_file)
            browser.close()
    finally:
        app.close()

    result = np.asarray(Image.open(saved).convert("RGB"), dtype=np.int16)
    assert result.shape == (96, 128, 3)  # full resolution, not the displayed size
    colored = (result[..., 0] != result[..., 1]) | (result[..., 1] != result[..., 2])
    assert colored[48, 56:72].all()  # the middle of the stroke
    rows = colored.any(axis=1).nonzero()[0]
    assert 0 < rows.min() and rows.max() < 95  # a horizontal stroke: the top and bottom rows are untouched
    # Unpainted pixels are exactly the gray that colorize() gives the photo with nothing painted.
    gray = np.asarray(colorize(source, mask=torch.zeros(96, 128), generator=load_generator(export)[0], size=32),
                      dtype=np.int16)
    assert np.array_equal(result[~colored], gray[~colored])
    assert np.array_equal(result[[0, -1]], gray[[0, -1]])
    hinted = np.asarray(Image.open(hinted_file).convert("RGB"), dtype=np.int16)
    assert np.array_equal(hinted[~colored], gray[~colored])  # the hint stays inside the painted stroke
    blueness = [float((image[..., 2] - image[..., 0])[colored].mean()) for image in (result, hinted)]
    assert blueness[1] > blueness[0] + 40  # the whole stroke, not only the hint's few pixels
