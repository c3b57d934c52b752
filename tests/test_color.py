import pytest
import torch
from kornia.color import rgb_to_lab

from colorgan.color import (
    AB_SCALE,
    L_SCALE,
    chroma,
    lab_norm_to_rgb,
    lab_norm_to_rgb_in_gamut,
    rgb_to_gray,
    rgb_to_lab_norm,
)


def test_round_trip_is_identity():
    rgb = torch.rand(4, 3, 16, 16)
    assert torch.allclose(lab_norm_to_rgb(*rgb_to_lab_norm(rgb)), rgb, atol=1e-4)


def test_ranges_and_known_colors():
    # black, white, mid gray, pure red, green, blue
    colors = torch.tensor([[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    L, ab = rgb_to_lab_norm(colors[:, :, None, None])
    assert L.shape == (6, 1, 1, 1) and ab.shape == (6, 2, 1, 1)
    lstar = (L.flatten() + 1) * L_SCALE
    # CIE L* of sRGB black, white, 50% gray, red, green, blue (standard D65 values)
    assert torch.allclose(lstar, torch.tensor([0.0, 100.0, 53.39, 53.24, 87.73, 32.30]), atol=0.05)
    assert ab[:3].abs().max() < 1e-3  # grays have no chroma
    assert torch.allclose(ab[3, :, 0, 0] * AB_SCALE, torch.tensor([80.09, 67.20]), atol=0.05)  # red a*, b*
    assert L.min() >= -1 and L.max() <= 1 and ab.abs().max() <= 1  # normalized ranges cover the gamut


def test_gradients_are_finite_on_black_and_white():
    rgb = torch.tensor([0.0, 1.0, 1e-8, 0.999999]).view(1, 1, 2, 2).expand(1, 3, 2, 2).clone().requires_grad_(True)
    L, ab = rgb_to_lab_norm(rgb)
    (L.sum() + ab.sum()).backward()
    assert torch.isfinite(rgb.grad).all()
    L2 = torch.tensor([-1.0, 1.0, 0.0, -0.9999]).view(1, 1, 2, 2).requires_grad_(True)
    ab2 = torch.zeros(1, 2, 2, 2, requires_grad=True)
    lab_norm_to_rgb(L2, ab2).sum().backward()
    assert torch.isfinite(L2.grad).all() and torch.isfinite(ab2.grad).all()


def test_fp32_under_autocast():
    rgb = torch.rand(2, 3, 8, 8, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        L, ab = rgb_to_lab_norm(rgb)
        back = lab_norm_to_rgb(L.bfloat16(), ab.bfloat16())
    assert L.dtype == ab.dtype == back.dtype == torch.float32


def test_gray_is_exactly_gray_and_keeps_lightness():
    rgb = torch.rand(2, 3, 8, 8)
    gray = rgb_to_gray(rgb)
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 1], gray[:, 2])
    assert torch.allclose(rgb_to_lab_norm(gray)[0], rgb_to_lab_norm(rgb)[0], atol=1e-4)


def test_chroma_of_gray_is_zero_and_of_red_matches():
    ab = torch.zeros(1, 2, 2, 2)
    assert chroma(ab).abs().max() == 0
    _, red_ab = rgb_to_lab_norm(torch.tensor([1.0, 0, 0]).view(1, 3, 1, 1))
    assert chroma(red_ab).item() == pytest.approx((80.09**2 + 67.20**2) ** 0.5, abs=0.1)


@pytest.mark.parametrize("bad", [torch.rand(3, 8, 8), torch.rand(1, 4, 8, 8)])
def test_bad_shapes_are_clear_errors(bad):
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        rgb_to_lab_norm(bad)


def test_in_gamut_conversion_reduces_chroma_instead_of_clipping_channels():
    L = torch.full((1, 1, 1, 3), 0.0)  # noqa: N806  L* = 50
    # a* = 99, b* = 0 at L* 50 is far outside sRGB; a* = 11 is inside; ab = 0 is gray
    ab = torch.tensor([[[[0.9, 0.1, 0.0]], [[0.0, 0.0, 0.0]]]])
    rgb = lab_norm_to_rgb_in_gamut(L, ab)
    assert rgb.min() >= 0 and rgb.max() <= 1
    lab = rgb_to_lab(rgb)
    assert torch.allclose(lab[:, 0], torch.full((1, 1, 3), 50.0), atol=0.2)  # lightness kept for all three
    assert lab[0, 1, 0, 0] > 40 and lab[0, 2, 0, 0].abs() < 2  # still a strong red, hue (b* ~ 0) kept
    assert torch.allclose(rgb[..., 1:], lab_norm_to_rgb(L[..., 1:], ab[..., 1:]), atol=1e-5)  # in gamut: unchanged
    assert torch.equal(rgb[..., 2:], lab_norm_to_rgb(L[..., 2:], ab[..., 2:]))  # gray: bit for bit
    clipped = rgb_to_lab(lab_norm_to_rgb(L, ab))
    assert (clipped[0, 0, 0, 0] - 50).abs() > 1  # what the plain conversion would have done to lightness
