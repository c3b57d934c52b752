"""colorgan.inference: exact gray outside the mask, kept lightness, sizes, masks, image modes and file handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_image_folder, smooth_color_image
from kornia.color import rgb_to_lab
from PIL import Image
from torch import nn

from colorgan.checkpoint import load_generator
from colorgan.color import rgb_to_gray
from colorgan.errors import ColorganError
from colorgan.inference import colorize, colorize_files, colorize_tensor, plan_outputs, prepare_mask
from colorgan.masks import library_mask, write_library


class Saturated(nn.Module):
    """A stand-in generator: chroma ``strength`` (0.95: a worst case, most colors leave sRGB), hue varying with L."""

    def __init__(self, strength: float = 0.95) -> None:
        super().__init__()
        self.strength = strength
        self.anchor = nn.Parameter(torch.zeros(()))  # gives colorize_tensor a device to read

    def forward(self, L: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: N803
        return self.strength * torch.cat([torch.sin(12 * L), torch.cos(12 * L)], dim=1) * mask


@pytest.fixture(scope="module")
def ckpt(tiny_project: Path) -> Path:
    return tiny_project / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def generator(ckpt: Path) -> nn.Module:
    return load_generator(ckpt)[0]


def write_photo(path: Path, height: int, width: int, seed: int = 0) -> Path:
    Image.fromarray(smooth_color_image(np.random.default_rng(seed), height, width)).save(path)
    return path


def lightness(image: Image.Image | np.ndarray) -> torch.Tensor:
    """CIE L* (H, W) of an 8-bit RGB image."""
    rgb = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    return rgb_to_lab(rgb)[0, 0]


def read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "RGB"
        return np.asarray(image).astype(np.int16)


# --- exactness ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["checkpoint", "saturated"])
def test_gray_outside_mask_is_exact_after_png_round_trip(tmp_path: Path, generator: nn.Module, which: str) -> None:
    net = generator if which == "checkpoint" else Saturated()
    source = write_photo(tmp_path / "photo.png", 48, 64)
    summary = colorize_files([source], mask="stripes", generator=net, out_dir=tmp_path / "out", progress=False)
    assert summary.ok and len(summary.written) == 1
    out = read(summary.written[0][1])
    gray = library_mask("stripes", 48, 64)[0].numpy() == 0
    assert (out[gray, 0] == out[gray, 1]).all() and (out[gray, 1] == out[gray, 2]).all()
    colored = ~gray
    assert (np.abs(out[colored, 0] - out[colored, 1]) + np.abs(out[colored, 1] - out[colored, 2])).max() > 0


def test_gray_pixels_equal_rgb_to_gray() -> None:
    rgb = torch.rand(2, 3, 20, 28)
    mask = (torch.rand(2, 1, 20, 28) > 0.5).float()
    out = colorize_tensor(Saturated(), rgb, mask, size=16)
    off = mask.expand(-1, 3, -1, -1) == 0
    assert torch.equal(out[off], rgb_to_gray(rgb)[off])


def test_lightness_is_kept_inside_the_mask_even_for_out_of_gamut_colors(tmp_path: Path) -> None:
    source = write_photo(tmp_path / "photo.png", 40, 56, seed=3)
    out = colorize(source, mask="half_vertical", generator=Saturated(), size=32)
    inside = library_mask("half_vertical", 40, 56)[0].bool()
    delta = (lightness(out) - lightness(Image.open(source)))[inside].abs()
    assert delta.max() < 1.0, f"L* changed by up to {delta.max():.2f}"
    chroma = rgb_to_lab(torch.from_numpy(np.asarray(out, np.float32) / 255).permute(2, 0, 1)[None])[0, 1:].norm(dim=0)
    assert chroma[inside].mean() > 20  # really colored, not trivially gray


def test_soft_mask_scales_chroma_at_the_same_lightness() -> None:
    rgb = torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    mild = Saturated(strength=0.1)  # stays inside sRGB, so no gamut reduction interferes
    full = colorize_tensor(mild, rgb, torch.ones(1, 1, 16, 16), size=None)
    half = colorize_tensor(mild, rgb, torch.full((1, 1, 16, 16), 0.5), size=None)
    lab_full, lab_half = rgb_to_lab(full), rgb_to_lab(half)
    for lab in (lab_full, lab_half):  # up to the 1e-3 sRGB tolerance of the gamut search
        torch.testing.assert_close(lab[:, :1], rgb_to_lab(rgb)[:, :1], atol=0.15, rtol=0)
    ratio = lab_half[:, 1:].norm(dim=1) / lab_full[:, 1:].norm(dim=1).clamp_min(1e-3)
    assert 0.45 < ratio.median() < 0.55


# --- sizes, masks, image modes -----------------------------------------------------------------------------------


def test_odd_size_output_matches_input_size(tmp_path: Path, ckpt: Path) -> None:
    source = write_photo(tmp_path / "odd.png", 333, 517)
    out = colorize(source, mask="circle", ckpt=ckpt)
    assert out.size == (517, 333)


def test_mask_by_name_and_by_path_agree(tmp_path: Path, generator: nn.Module) -> None:
    source = write_photo(tmp_path / "photo.png", 36, 52)
    (mask_file,) = write_library(tmp_path / "masks", 36, 52, ["checkerboard"])
    by_name = colorize(source, mask="checkerboard", generator=generator, size=32)
    by_path = colorize(source, mask=mask_file, generator=generator, size=32)
    assert np.array_equal(np.asarray(by_name), np.asarray(by_path))


def test_exif_rotated_input_comes_out_upright(tmp_path: Path, generator: nn.Module) -> None:
    stored = np.zeros((32, 48, 3), np.uint8)
    stored[:, :24] = 230  # bright left half as stored; EXIF 6 (rotate 90 cw to display) puts it on top
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    out = colorize(path, generator=generator, size=32)
    assert out.size == (32, 48)  # (width, height): upright portrait
    L = lightness(out)  # noqa: N806
    assert L[:24].mean() > L[24:].mean() + 40


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16", "P"])
def test_grayscale_rgba_16bit_and_palette_inputs(tmp_path: Path, generator: nn.Module, mode: str) -> None:
    rgb = smooth_color_image(np.random.default_rng(1), 30, 44)
    if mode == "I;16":
        image = Image.fromarray((rgb.mean(axis=2) * 257).astype(np.uint16))
    elif mode == "RGBA":
        image = Image.fromarray(np.dstack([rgb, np.full((30, 44), 255, np.uint8)]), mode="RGBA")
    else:
        image = Image.fromarray(rgb).convert(mode)
    path = tmp_path / f"input_{mode.replace(';', '')}.png"
    image.save(path)
    assert Image.open(path).mode == image.mode
    out = colorize(path, mask="half_horizontal", generator=generator, size=32)
    assert out.size == (44, 30) and out.mode == "RGB"
    expected = lightness(Image.open(path).convert("RGB") if mode != "I;16" else np.repeat(
        (np.asarray(Image.open(path), np.float32) / 257).round().astype(np.uint8)[..., None], 3, axis=2))
    assert (lightness(out) - expected).abs().max() < 1.0


def test_prepare_mask_feather_invert_threshold() -> None:
    hard = prepare_mask("half_vertical", 8, 40)
    assert torch.equal(prepare_mask("half_vertical", 8, 40, invert=True), 1 - hard)
    soft = prepare_mask("half_vertical", 8, 40, feather=4)[0, 0, 0]
    assert torch.equal(soft[:16], torch.ones(16)) and torch.equal(soft[24:], torch.zeros(16))  # edge at x = 20
    assert ((soft[16:24] > 0) & (soft[16:24] < 1)).all() and (soft[16:24].diff() < 0).all()
    ramp = torch.linspace(0, 1, 40).expand(8, 40)
    assert set(prepare_mask(ramp, 8, 40, threshold=0.5).unique().tolist()) == {0.0, 1.0}


def test_bad_inputs_raise_clear_errors(tmp_path: Path, generator: nn.Module) -> None:
    with pytest.raises(ColorganError, match="neither a file nor a library mask"):
        prepare_mask("no_such_mask", 8, 8)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        colorize_tensor(generator, torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="mask must have shape"):
        colorize_tensor(generator, torch.rand(1, 3, 8, 8), torch.ones(1, 1, 4, 8))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ColorganError, match="cannot read image"):
        colorize(tmp_path / "broken.png", generator=generator)


# --- files -------------------------------------------------------------------------------------------------------


def test_colorize_files_keeps_going_and_never_overwrites_inputs(tmp_path: Path, generator: nn.Module) -> None:
    folder = make_image_folder(tmp_path / "photos", count=3, size=(24, 32))
    (folder / "sub").mkdir()
    write_photo(folder / "sub" / "deep.png", 24, 32)
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    before = {p: p.read_bytes() for p in folder.rglob("*.png")}
    summary = colorize_files([folder, tmp_path / "missing.jpg"], generator=generator, out_dir=tmp_path / "out",
                             size=32, progress=False)
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for _, p in summary.written)
    assert written == ["photo_00_color.png", "photo_01_color.png", "photo_02_color.png", "sub/deep_color.png"]
    assert sorted(Path(s).name for s, _ in summary.failed) == ["corrupt.png", "missing.jpg"]
    assert not list((tmp_path / "out").rglob(".*"))  # no temporary files left behind
    # Writing next to the inputs with no suffix would replace them: refused, even with overwrite; inputs untouched.
    clash = colorize_files([folder / "photo_00.png"], generator=generator, out_dir=folder, suffix="", progress=False,
                           overwrite=True)
    assert not clash.written and "would overwrite an input" in clash.failed[0][1]
    assert {p: p.read_bytes() for p in folder.rglob("*.png")} == before
    # Outputs inside an input folder: a second run skips them instead of colorizing them again.
    for overwrite in (False, True):  # the second run replaces the first one's outputs
        again = colorize_files([folder], generator=generator, out_dir=folder / "colorized", size=32, progress=False,
                               overwrite=overwrite)
        assert len(again.written) == 4 and [Path(s).name for s, _ in again.failed] == ["corrupt.png"]


def test_colorize_files_never_replaces_a_file_it_did_not_write(tmp_path: Path, generator: nn.Module) -> None:
    source = write_photo(tmp_path / "a.jpg", 24, 32)
    (tmp_path / "a.png").write_bytes(b"unrelated")
    (tmp_path / "b.png").symlink_to(tmp_path / "gone.png")  # a dangling link is in the way too
    # refused before any work: the missing checkpoint is not even looked at
    with pytest.raises(ColorganError, match=r"2 outputs already exist \(.*a\.png, .*b\.png\).*--overwrite"):
        colorize_files([source, write_photo(tmp_path / "b.jpg", 24, 32)], ckpt=tmp_path / "missing.ckpt",
                       out_dir=tmp_path, suffix="", progress=False)
    assert (tmp_path / "a.png").read_bytes() == b"unrelated"
    summary = colorize_files([source], generator=generator, out_dir=tmp_path, suffix="", size=32, progress=False,
                             overwrite=True)
    assert summary.ok and summary.written == [(source, tmp_path / "a.png")]
    assert read(tmp_path / "a.png").shape == (24, 32, 3)


def test_plan_outputs_renames_repeated_names_and_says_which_is_which(tmp_path: Path) -> None:
    x, y, out = tmp_path / "x", tmp_path / "y", tmp_path / "out"
    x.mkdir()
    y.mkdir()
    inputs = [write_photo(path, 8, 8) for path in (x / "a.jpg", x / "a.png", y / "a.jpg")]
    plan = plan_outputs(inputs, out)
    assert plan.outputs == list(zip(inputs, [out / "a_color.png", out / "a-2_color.png", out / "a-3_color.png"],
                                    strict=True))
    assert plan.renamed == [(inputs[1], out / "a-2_color.png", inputs[0]), (inputs[2], out / "a-3_color.png",
                                                                             inputs[0])]


def test_batches_match_single_images(tmp_path: Path, generator: nn.Module) -> None:
    folder = make_image_folder(tmp_path / "photos", count=3, size=(24, 32))
    one = colorize_files([folder], generator=generator, out_dir=tmp_path / "one", size=32, progress=False)
    many = colorize_files([folder], generator=generator, out_dir=tmp_path / "many", size=32, batch_size=2,
                          progress=False)
    assert len(one.written) == len(many.written) == 3
    for (_, a), (_, b) in zip(one.written, many.written, strict=True):
        assert np.abs(read(a) - read(b)).max() <= 1  # float summation order may differ by one rounding step


class HintEcho(nn.Module):
    """A stand-in hinted generator: each pixel takes the mean ab of the hints within 4 pixels of it."""

    condition_channels = 3

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:  # noqa: N803
        near = torch.nn.functional.avg_pool2d(condition, 9, stride=1, padding=4, count_include_pad=False)
        return near[:, :2] / near[:, 2:].clamp_min(1e-6) * mask


def test_a_hint_moves_the_colors_near_it_toward_its_color(tmp_path: Path) -> None:
    photo = Image.new("RGB", (48, 32), (128, 128, 128))
    mask = torch.zeros(32, 48)
    mask[:, :24] = 1.0
    plain = np.asarray(colorize(photo, mask=mask, generator=HintEcho(), size=None), dtype=np.int16)
    assert (plain.max(axis=2) == plain.min(axis=2)).all()  # no hints: no color
    with pytest.warns(UserWarning, match=r"^hint 0.9,0.5,red,5 is outside the mask; ignored$"):
        hinted = np.asarray(colorize(photo, mask=mask, generator=HintEcho(), size=None,
                                     hints=["10,16,#2050ff", {"x": 0.9, "y": 0.5, "color": "red"}]), dtype=np.int16)
    near = hinted[13:20, 7:14]
    assert (near[..., 2] - near[..., 0] > 40).all()  # blue around the hint
    assert (hinted[:, 24:].max(axis=2) == hinted[:, 24:].min(axis=2)).all()  # the red hint, outside: nothing


def test_hints_are_refused_by_a_generator_without_hint_channels(tmp_path: Path) -> None:
    photo = Image.new("RGB", (16, 16), (128, 128, 128))
    with pytest.raises(ColorganError, match="trained without hints") as caught:
        colorize(photo, generator=Saturated(), hints=["1,1,red"])
    assert "\n" not in str(caught.value)
    with pytest.raises(ColorganError, match="bad hint: unknown color 'nope'"):
        colorize(photo, generator=HintEcho(), hints=["1,1,nope"])


def test_colorize_files_says_which_input_a_hint_missed(tmp_path: Path) -> None:
    source = write_photo(tmp_path / "a.png", 32, 32)
    mask = torch.zeros(32, 32)
    mask[:16] = 1.0
    seen: list[tuple[str, str]] = []
    summary = colorize_files([source], mask=mask, out_dir=tmp_path / "out", generator=HintEcho(), size=None,
                             hints=["2,2,red", "2,30,blue"], on_warning=lambda *args: seen.append(args),
                             progress=False)
    assert summary.ok and seen == [(str(source), "hint 2,30,blue,5 is outside the mask; ignored")]
