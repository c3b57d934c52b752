"""Colorization metrics against values worked out by hand on tiny images."""

import math

import pytest
import torch

from colorgan.color import AB_SCALE, lab_norm_to_rgb, rgb_to_lab_norm
from colorgan.evaluation.metrics import ColorizationMetrics, summarize
from colorgan.evaluation.protocol import PROTOCOL_FAMILIES
from colorgan.evaluation.scores import (
    PSNR_CAP,
    colorfulness,
    edge_chroma_jump,
    image_stats,
    mask_leak,
    psnr_from_mse,
    scored_rgb,
    seam_score,
)


def _ab(a: list[list[float]], b: list[list[float]] | None = None) -> torch.Tensor:
    """(1, 2, H, W) normalized ab from Lab-unit rows of a* (and b*, default 0)."""
    a_ = torch.tensor(a, dtype=torch.float32)
    b_ = torch.zeros_like(a_) if b is None else torch.tensor(b, dtype=torch.float32)
    return torch.stack([a_, b_])[None] / AB_SCALE


def test_leak_is_zero_for_gray_and_the_mean_chroma_outside_otherwise():
    mask = torch.tensor([[[[1.0, 0.0, 0.0]]]])
    assert mask_leak(torch.zeros(1, 2, 1, 3), mask).item() == 0.0
    ab = _ab([[50.0, 3.0, 0.0]], [[0.0, 4.0, 0.0]])  # color inside is fine; outside: C* = 5 and 0
    assert mask_leak(ab, mask).item() == pytest.approx(2.5)


def test_psnr_is_capped_for_identical_images_and_exact_otherwise():
    assert psnr_from_mse(torch.tensor(0.0)).item() == PSNR_CAP == 100.0  # documented: capped, not inf
    assert psnr_from_mse(torch.tensor(0.01)).item() == pytest.approx(20.0)
    assert math.isnan(psnr_from_mse(torch.tensor(float("nan"))).item())  # undefined stays undefined


def test_colorfulness_of_gray_is_zero_and_of_a_constant_color_is_its_mean_term():
    gray = torch.rand(1, 1, 5, 7).expand(-1, 3, -1, -1)
    assert colorfulness(gray).item() == 0.0
    constant = torch.tensor([200.0, 100.0, 50.0]).div(255).view(1, 3, 1, 1).expand(-1, -1, 4, 4)
    # rg = 100, yb = (200 + 100) / 2 - 50 = 100, no spread: M = 0.3 * sqrt(100^2 + 100^2)
    assert colorfulness(constant).item() == pytest.approx(0.3 * math.hypot(100, 100), rel=1e-5)


def test_colorfulness_of_a_red_and_a_blue_pixel():
    rgb = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]).view(1, 3, 1, 2)  # red | blue
    # rg = (255, 0): mean 127.5, std 127.5.  yb = (127.5, -255): mean -63.75, std 191.25.
    sigma = math.hypot(127.5, 191.25)
    mu = math.hypot(127.5, 63.75)
    assert colorfulness(rgb).item() == pytest.approx(sigma + 0.3 * mu, rel=1e-5)


def test_edge_pairs_are_the_4_neighbours_across_the_mask_edge():
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :2] = 1  # a 2x2 corner square: 2 pairs across its right side, 2 across its bottom
    ab = torch.zeros(1, 2, 4, 4)
    ab[:, 0, :2, :2] = 0.1  # a* = 11 inside
    total, pairs = edge_chroma_jump(ab, mask)
    assert pairs.item() == 4 and total.item() == pytest.approx(4 * 11.0)


def test_seam_is_zero_for_the_target_positive_for_a_harder_edge_and_nan_without_edge():
    mask = torch.tensor([[[[1.0, 1.0, 0.0, 0.0]]]])
    target = _ab([[30.0, 10.0, 0.0, 0.0]])  # the truth fades toward the edge: jump 10
    assert seam_score(target, target, mask).item() == 0.0
    jumpy = _ab([[30.0, 30.0, 0.0, 0.0]])  # prediction keeps full color up to the edge: jump 30
    assert seam_score(jumpy, target, mask).item() == pytest.approx(20.0)
    faded = _ab([[30.0, 4.0, 0.0, 0.0]], [[0.0, 3.0, 0.0, 0.0]])  # C* = 5 at the edge
    assert seam_score(faded, target, mask).item() == pytest.approx(-5.0)
    assert math.isnan(seam_score(target, target, torch.ones_like(mask)).item())


def test_scored_rgb_is_exactly_gray_where_ab_is_zero():
    L = torch.rand(2, 1, 6, 6) * 2 - 1  # noqa: N806
    rgb = scored_rgb(L, torch.zeros(2, 2, 6, 6))
    assert torch.equal(rgb[:, 0], rgb[:, 1]) and torch.equal(rgb[:, 1], rgb[:, 2])
    assert colorfulness(rgb).eq(0).all()
    ab = torch.full((2, 2, 6, 6), 0.2)
    assert torch.equal(scored_rgb(L, ab), lab_norm_to_rgb(L, ab))  # colored pixels are untouched


def test_psnr_inside_the_mask_ignores_the_gray_outside():
    target = torch.full((1, 3, 4, 4), 0.5)
    pred = target.clone()
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :, :2] = 1
    pred[..., :, :2] += 0.1  # error 0.1 inside (MSE 0.01), none outside
    zero_ab = torch.zeros(1, 2, 4, 4)
    scores = summarize(image_stats(pred, target, zero_ab, zero_ab, mask)[0])
    assert scores["psnr_mask"] == pytest.approx(20.0)
    assert scores["psnr"] == pytest.approx(-10 * math.log10(0.01 / 2))  # half the pixels are exact
    assert math.isnan(scores["lpips"]) and scores["images"] == 1


def test_scores_group_by_family_and_pool_over_all():
    rgb = torch.rand(3, 3, 16, 16)
    L, ab = rgb_to_lab_norm(rgb)  # noqa: N806
    mask = torch.ones(3, 1, 16, 16)
    target = scored_rgb(L, ab)
    metric = ColorizationMetrics()
    full, empty = PROTOCOL_FAMILIES.index("full"), PROTOCOL_FAMILIES.index("empty")
    metric.update(target, target, ab, ab, mask, torch.tensor([full, full, empty]), lpips=torch.zeros(3))
    result = metric.compute()
    assert set(result) == {"all", "full", "empty"}
    assert result["all"]["images"] == 3 and result["full"]["images"] == 2
    assert result["all"]["psnr"] == PSNR_CAP and result["full"]["ssim"] == pytest.approx(1.0)
    assert result["full"]["delta_colorfulness"] == 0.0 and result["all"]["lpips"] == 0.0
    flat = metric.flat("test")
    assert flat["test/full/psnr"] == PSNR_CAP and "test/full/seam" not in flat  # no edge: NaN is not logged
    with pytest.raises(ValueError, match="family must have shape"):
        metric.update(target, target, ab, ab, mask, torch.tensor([full]))
