"""colorgan.models.ab_classes: the ab bins, soft targets and the annealed mean."""

from __future__ import annotations

import pytest
import torch

from colorgan.models.ab_classes import ab_bin_centers, annealed_mean, downsample_ab, soft_encode


def test_bins_tile_the_ab_disc_on_a_10_unit_grid() -> None:
    centers = ab_bin_centers() * 110
    assert centers.norm(dim=1).max() <= 110
    assert torch.allclose(torch.remainder(centers + 5, 10), torch.zeros_like(centers), atol=1e-4)
    assert len(torch.unique(centers, dim=0)) == len(centers)
    # neutral gray and a saturated green are both representable to within half a bin diagonal
    for color in ([0.0, 0.0], [-60.0, 50.0]):
        assert (centers - torch.tensor(color)).norm(dim=1).min() <= 5 * 2 ** 0.5 + 1e-4


def test_soft_targets_are_distributions_on_the_nearest_bins() -> None:
    centers = ab_bin_centers()
    ab = torch.rand(2, 2, 3, 5, generator=torch.Generator().manual_seed(0)) * 1.2 - 0.6
    targets = soft_encode(ab, centers)
    assert targets.shape == (2, len(centers), 3, 5)
    assert torch.allclose(targets.sum(1), torch.ones(2, 3, 5)) and (targets >= 0).all()
    assert ((targets > 0).sum(1) == 5).all()
    nearest = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), centers).argmin(1)
    assert torch.equal(targets.permute(0, 2, 3, 1).reshape(-1, len(centers)).argmax(1), nearest)


def test_annealed_mean_goes_from_the_mean_to_the_mode() -> None:
    centers = ab_bin_centers()
    green, red = (torch.cdist(torch.tensor([c]) / 110, centers).argmin().item() for c in ([-60.0, 50.0],
                                                                                           [60.0, 40.0]))
    logits = torch.full((1, len(centers), 1, 1), -50.0)
    logits[0, green], logits[0, red] = 1.0, 0.8  # two plausible hues, green a bit more likely
    mean = annealed_mean(logits, centers, 1.0)[0, :, 0, 0]
    sharp = annealed_mean(logits, centers, 0.01)[0, :, 0, 0]
    assert torch.allclose(sharp, centers[green], atol=1e-3)  # low temperature: the mode, a clean green
    # the mean of green and red is neither: a dull yellow-brown (the "sepia" problem)
    assert mean[0].abs() < 0.2 * centers[green][0].abs() and mean.norm() < 0.75 * centers[green].norm()
    with pytest.raises(ValueError, match="temperature"):
        annealed_mean(logits, centers, 0.0)


def test_a_bin_decodes_back_to_itself() -> None:
    centers = ab_bin_centers()
    ab = centers[torch.tensor([0, 100, 200, 383])].T.reshape(1, 2, 1, 4)
    logits = torch.log(soft_encode(ab, centers).clamp_min(1e-12))
    assert torch.allclose(annealed_mean(logits, centers, 0.1), ab, atol=1e-4)


def test_downsample_averages_areas() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(downsample_ab(x, 2), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    assert downsample_ab(x, 1) is x
