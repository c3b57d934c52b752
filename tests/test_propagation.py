import pytest
import torch

from colorgan.hints import Hint, hints_from_points
from colorgan.propagation import edge_weights, hinted_ab, propagate_hints


def two_regions(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized L (1, 1, S, S): a dark left half and a light right half; a full mask."""
    L = torch.full((1, 1, size, size), -0.6)  # noqa: N806  (L* 20)
    L[..., size // 2 :] = 0.6  # L* 80
    return L, torch.ones(1, 1, size, size)


BLUE = (-0.1, -0.4)


def test_a_hint_fills_its_region_and_stops_at_the_edge() -> None:
    L, mask = two_regions()  # noqa: N806
    condition = hints_from_points([Hint(16, 4, BLUE, size=3)], mask)
    out = propagate_hints(L, torch.zeros(1, 2, 32, 32), condition, mask)
    left, right = out[..., :16], out[..., 16:]
    assert torch.allclose(out[0, :, 16, 4], torch.tensor(BLUE))  # the hinted pixel keeps the hint
    assert torch.allclose(left, torch.tensor(BLUE).view(1, 2, 1, 1), atol=0.05)  # the whole dark half, far corners too
    assert right.abs().max() < 1e-3  # not across the edge


def test_no_hint_changes_nothing_and_outside_the_mask_stays_gray() -> None:
    L, mask = two_regions()  # noqa: N806
    ab = torch.rand(1, 2, 32, 32) - 0.5
    assert torch.equal(propagate_hints(L, ab, torch.zeros(1, 3, 32, 32), mask), ab)
    L = torch.zeros_like(L)  # noqa: N806  (one even region: only the mask can stop a hint)
    mask[..., 12:20] = 0  # a gray gap between two colored parts
    ab = ab * mask
    out = propagate_hints(L, ab, hints_from_points([Hint(16, 4, BLUE)], mask), mask)
    assert torch.equal(out[..., 12:20], torch.zeros_like(out[..., 12:20]))  # exactly gray
    assert torch.equal(out[..., 20:], ab[..., 20:])  # the hint does not jump the gap
    assert (out[..., :12] - ab[..., :12]).abs().mean() > 0.1


def test_a_correction_fades_with_distance_in_an_even_region() -> None:
    L, mask = torch.zeros(1, 1, 16, 64), torch.ones(1, 1, 16, 64)  # noqa: N806
    condition = hints_from_points([Hint(8, 2, BLUE, size=3)], mask)
    near = propagate_hints(L, torch.zeros(1, 2, 16, 64), condition, mask, reach=0.1)[0, 1, 8]
    far = propagate_hints(L, torch.zeros(1, 2, 16, 64), condition, mask, reach=10.0)[0, 1, 8]
    assert near[60] > -0.05 and far[60] < -0.35  # a short reach lets the network's colors back, a long one not
    assert (near[4:].diff() >= -1e-6).all()  # monotone: blue fading toward the prediction


def test_each_image_of_a_batch_is_solved_on_its_own() -> None:
    L, mask = two_regions()  # noqa: N806
    L = torch.cat([L, L.flip(-1)])  # noqa: N806
    mask = mask.expand(2, -1, -1, -1)
    ab = torch.rand(2, 2, 32, 32) - 0.5
    condition = torch.cat([hints_from_points([Hint(5, 5, BLUE)], mask[:1]),
                           hints_from_points([Hint(20, 25, (0.3, 0.2))], mask[:1])])
    both = propagate_hints(L, ab, condition, mask)
    for i in range(2):
        alone = propagate_hints(L[i : i + 1], ab[i : i + 1], condition[i : i + 1], mask[i : i + 1])
        assert torch.allclose(both[i : i + 1], alone, atol=1e-5)


def test_edge_weights_fall_across_lightness_edges_and_vanish_outside() -> None:
    L, mask = two_regions(8)  # noqa: N806
    mask[..., 0, :] = 0
    wx, wy = edge_weights(L, mask, sigma=8.0)
    assert wx.shape == (1, 1, 8, 7) and wy.shape == (1, 1, 7, 8)
    assert wx[0, 0, 3, 0] == 1 and wx[0, 0, 3, 3] < 1e-10  # even region; the 60 L* edge
    assert (wx[..., 0, :] == 0).all() and (wy[..., 0, :] == 0).all()  # row 0 is outside the mask


def test_hinted_ab_spreads_from_the_networks_output_without_hints() -> None:
    L, mask = two_regions()  # noqa: N806
    seen = []

    def copies_hints(L, mask, condition):  # noqa: N803  (colors the hinted patch only)
        seen.append(condition.clone())
        return condition[:, :2] * mask

    condition = hints_from_points([Hint(16, 4, BLUE, size=3)], mask)
    spread = hinted_ab(copies_hints, L, mask, condition)
    assert seen[-1].abs().max() == 0  # the network ran without the hints
    assert torch.allclose(spread[0, :, 30, 14], torch.tensor(BLUE), atol=0.05)
    alone = hinted_ab(copies_hints, L, mask, condition, spread=False)
    assert torch.equal(seen[-1], condition) and alone[0, :, 30, 14].abs().max() == 0


def test_bad_settings_are_refused() -> None:
    L, mask = two_regions(8)  # noqa: N806
    with pytest.raises(ValueError, match="sigma and reach must be > 0"):
        propagate_hints(L, torch.zeros(1, 2, 8, 8), torch.zeros(1, 3, 8, 8), mask, sigma=0)
