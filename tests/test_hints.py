"""Hint sampling and explicit hints (colorgan/hints.py): counts, placement inside the mask, values, layout."""

import inspect

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from colorgan import hints
from colorgan.hints import Hint, hint_counts, hints_from_points, paint_hints, sample_hints


def _truth(batch: int = 2, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth random ab and a mask with its left half (minus a notch) on, (B, 2, H, W) and (B, 1, H, W)."""
    g = torch.Generator().manual_seed(seed)
    ab = F.interpolate(torch.rand(batch, 2, 4, 4, generator=g) - 0.5, size=(size, size), mode="bilinear")
    mask = torch.zeros(batch, 1, size, size)
    mask[..., : size // 2] = 1.0
    mask[..., :4, :4] = 0.0
    return ab, mask


class TestHintCounts:
    def test_geometric_mean_and_share_without_hints(self) -> None:
        counts = hint_counts(20_000, p=1 / 8, max_count=1000, generator=torch.Generator().manual_seed(0)).float()
        assert abs(counts.mean().item() - 7.0) < 0.25  # (1 - p) / p
        assert abs((counts == 0).float().mean().item() - 1 / 8) < 0.01

    def test_capped(self) -> None:
        counts = hint_counts(1000, p=0.01, max_count=5, generator=torch.Generator().manual_seed(0))
        assert counts.max().item() == 5 and counts.min().item() >= 0

    def test_bad_p(self) -> None:
        with pytest.raises(ValueError, match="in \\(0, 1\\]"):
            hint_counts(2, p=0.0)


class TestSampleHints:
    def test_layout_and_inside_mask(self) -> None:
        ab, mask = _truth()
        condition = sample_hints(ab, mask, count=20, generator=torch.Generator().manual_seed(1))
        assert condition.shape == (2, 3, 32, 32)
        hinted = condition[:, 2:] > 0
        assert hinted.any(dim=(1, 2, 3)).all()
        assert not (hinted & (mask == 0)).any()  # every hinted pixel inside the mask
        assert (condition[:, :2][~hinted.expand(-1, 2, -1, -1)] == 0).all()
        assert set(condition[:, 2].unique().tolist()) == {0.0, 1.0}

    def test_values_are_the_truths_patch_means(self) -> None:
        ab, mask = _truth(batch=1)
        condition = sample_hints(ab, mask, count=1, sizes=(3,), generator=torch.Generator().manual_seed(2))
        hinted = condition[0, 2] > 0
        rows, cols = hinted.nonzero(as_tuple=True)
        assert 1 <= len(rows) <= 9 and rows.max() - rows.min() <= 2 and cols.max() - cols.min() <= 2
        expected = ab[0][:, hinted].mean(dim=1)  # the patch lies inside the mask: its mean over the hinted pixels
        assert torch.allclose(condition[0, :2][:, hinted], expected[:, None].expand(-1, len(rows)), atol=1e-6)

    def test_zero_hints_is_all_zero(self) -> None:
        ab, mask = _truth()
        assert (sample_hints(ab, mask, count=0) == 0).all()
        assert (sample_hints(ab, mask, p=1.0) == 0).all()

    def test_all_gray_mask_gets_no_hints(self) -> None:
        ab, mask = _truth()
        assert (sample_hints(ab, torch.zeros_like(mask), count=10) == 0).all()

    def test_per_image_counts_and_seed(self) -> None:
        ab, mask = _truth()
        condition = sample_hints(ab, mask, count=torch.tensor([0, 3]), sizes=(1,),
                                 generator=torch.Generator().manual_seed(3))
        pixels = condition[:, 2].flatten(1).sum(dim=1)
        assert pixels[0] == 0 and 1 <= pixels[1] <= 3
        again = sample_hints(ab, mask, count=torch.tensor([0, 3]), sizes=(1,),
                             generator=torch.Generator().manual_seed(3))
        assert torch.equal(condition, again)

    def test_no_host_sync_in_the_source(self) -> None:
        source = inspect.getsource(hints)
        assert ".item()" not in source and ".tolist()" not in source.replace("hint_counts(3, p=1.0).tolist()", "")


class TestHintsFromPoints:
    def test_patch_color_and_clipping(self) -> None:
        _, mask = _truth(batch=2)
        condition = hints_from_points([Hint(row=10, col=13, ab=(0.3, -0.2), size=5)], mask)
        hinted = condition[:, 2] > 0
        assert torch.equal(hinted[0], hinted[1])
        # rows 10-14, columns 13-15: the patch is clipped where the mask (columns < 16) ends
        assert hinted[0].sum() == 5 * 3 and hinted[0, 10:15, 13:16].all()
        assert torch.allclose(condition[0, 0][hinted[0]], torch.tensor(0.3))
        assert torch.allclose(condition[0, 1][hinted[0]], torch.tensor(-0.2))

    def test_outside_mask_or_image_dropped(self) -> None:
        _, mask = _truth(batch=1)
        outside = [Hint(row=10, col=20, ab=(0.3, 0.3)), Hint(row=1, col=1, ab=(0.3, 0.3)),
                   Hint(row=40, col=3, ab=(0.3, 0.3))]
        assert (hints_from_points(outside, mask) == 0).all()
        assert (hints_from_points([], mask) == 0).all()

    def test_overlapping_patches_average(self) -> None:
        mask = torch.ones(1, 1, 16, 16)
        condition = hints_from_points([Hint(5, 5, (0.4, 0.0), 2), Hint(6, 6, (0.0, 0.2), 2)], mask)
        assert condition[0, 2].sum() == 7
        assert torch.allclose(condition[0, :2, 6, 6], torch.tensor([0.2, 0.1]))

    def test_paint_needs_one_source(self) -> None:
        mask = torch.ones(1, 1, 8, 8)
        index = torch.zeros(1, 1, dtype=torch.long)
        with pytest.raises(ValueError, match="exactly one"):
            paint_hints(mask, index, index, index + 1, index == 0)
