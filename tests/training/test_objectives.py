"""colorgan.training.objectives: the one place the GAN losses are summed."""

import pytest
import torch

from colorgan.models import PatchDiscriminator
from colorgan.training.losses import discriminator_loss, generator_loss, gradient_penalty, masked_l1, masked_l2
from colorgan.training.objectives import GANObjective


def _batch(n: int = 2, size: int = 32) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    L = torch.rand(n, 1, size, size, generator=g) * 2 - 1  # noqa: N806
    true_ab, fake_ab = (torch.rand(n, 2, size, size, generator=g) - 0.5 for _ in range(2))
    mask = (torch.rand(n, 1, size, size, generator=g) > 0.5).float()
    return L, true_ab, fake_ab.requires_grad_(), mask


@pytest.mark.parametrize("loss", ["lsgan", "hinge", "vanilla"])
def test_discriminator_sees_real_chroma_through_the_mask_and_never_trains_g(loss: str) -> None:
    D = PatchDiscriminator(base_channels=4, num_layers=2)  # noqa: N806
    L, true_ab, fake_ab, mask = _batch()  # noqa: N806
    d_loss, logs = GANObjective(loss).discriminator_loss(D, L, true_ab, fake_ab, mask)
    expected = discriminator_loss(loss, D(L, true_ab * mask, mask), D(L, fake_ab, mask))
    torch.testing.assert_close(d_loss, expected)
    assert set(logs) == {"d_loss"}
    d_loss.backward()
    assert fake_ab.grad is None  # detached: the D loss trains D only


def test_wgan_gp_adds_the_weighted_penalty() -> None:
    D = PatchDiscriminator(base_channels=4, num_layers=2)  # noqa: N806
    L, true_ab, fake_ab, mask = _batch()  # noqa: N806
    torch.manual_seed(3)
    d_loss, logs = GANObjective("wgan-gp", gp_weight=7.0).discriminator_loss(D, L, true_ab, fake_ab, mask)
    torch.manual_seed(3)
    gp = gradient_penalty(lambda ab: D(L, ab, mask), true_ab * mask, fake_ab)
    plain = discriminator_loss("wgan-gp", D(L, true_ab * mask, mask), D(L, fake_ab, mask))
    torch.testing.assert_close(d_loss, plain + 7.0 * gp)
    torch.testing.assert_close(logs["gp"], gp.detach())


def test_generator_loss_sums_l1_l2_and_the_adversarial_term() -> None:
    D = PatchDiscriminator(base_channels=4, num_layers=2)  # noqa: N806
    L, true_ab, fake_ab, mask = _batch()  # noqa: N806
    objective = GANObjective("hinge", adversarial_weight=0.5, l1_weight=2.0, l2_weight=3.0)
    g_loss, logs = objective.generator_loss(D, L, true_ab, fake_ab, mask)
    expected = (2.0 * masked_l1(fake_ab, true_ab, mask) + 3.0 * masked_l2(fake_ab, true_ab, mask)
                + 0.5 * generator_loss("hinge", D(L, fake_ab, mask)))
    torch.testing.assert_close(g_loss, expected)
    assert set(logs) == {"g_l1", "g_l2", "g_adv"}


def test_regression_only_needs_no_discriminator() -> None:
    L, true_ab, fake_ab, mask = _batch()  # noqa: N806
    objective = GANObjective(adversarial_weight=0.0)
    assert not objective.adversarial
    g_loss, logs = objective.generator_loss(None, L, true_ab, fake_ab, mask)
    assert set(logs) == {"g_l1", "g_l2"} and g_loss.item() > 0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown adversarial loss"):
        GANObjective("wgan")
    with pytest.raises(ValueError, match="must not use BatchNorm"):
        GANObjective("wgan-gp").check_discriminator(PatchDiscriminator(norm="batch"))
    with pytest.raises(ValueError, match="needs a discriminator"):
        GANObjective().generator_loss(None, *_batch())


def test_a_conditioned_discriminator_judges_with_the_condition_everywhere() -> None:
    """The hints reach D for real, fake, the gradient penalty and G's adversarial term alike."""
    D = PatchDiscriminator(base_channels=4, num_layers=2, condition_channels=3)  # noqa: N806
    L, true_ab, fake_ab, mask = _batch()  # noqa: N806
    condition = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    objective = GANObjective("wgan-gp", gp_weight=7.0)
    torch.manual_seed(3)
    d_loss, _ = objective.discriminator_loss(D, L, true_ab, fake_ab, mask, condition)
    torch.manual_seed(3)
    gp = gradient_penalty(lambda ab: D(L, ab, mask, condition), true_ab * mask, fake_ab)
    plain = discriminator_loss("wgan-gp", D(L, true_ab * mask, mask, condition), D(L, fake_ab, mask, condition))
    torch.testing.assert_close(d_loss, plain + 7.0 * gp)
    g_loss, logs = objective.generator_loss(D, L, true_ab, fake_ab, mask, condition)
    torch.testing.assert_close(logs["g_adv"], generator_loss("wgan-gp", D(L, fake_ab, mask, condition)).detach())
    with pytest.raises(ValueError):  # and it cannot judge without them
        objective.discriminator_loss(D, L, true_ab, fake_ab, mask)


def test_class_loss_rewards_logits_on_the_true_color_and_needs_them() -> None:
    from colorgan.models.ab_classes import ab_bin_centers

    centers = ab_bin_centers()
    L, true_ab, fake_ab, mask = _batch(size=16)  # noqa: N806
    true_ab = torch.full_like(true_ab, 0.0)
    true_ab[:, 0], true_ab[:, 1] = -0.55, 0.45  # a green, 1/4 scale below
    right = torch.zeros(2, len(centers), 4, 4)
    right[:, torch.cdist(torch.tensor([[-0.55, 0.45]]), centers).argmin()] = 10.0
    objective = GANObjective(adversarial_weight=0.0, l1_weight=0.0, l2_weight=0.0, class_weight=1.0)
    good, logs = objective.generator_loss(None, L, true_ab, fake_ab, mask, logits=right, centers=centers)
    bad, _ = objective.generator_loss(None, L, true_ab, fake_ab, mask, logits=right.roll(1, dims=1), centers=centers)
    assert set(logs) == {"g_l1", "g_l2", "g_class", "class_counts"} and good < bad
    # the batch's class histogram: each masked pixel at 1/4 adds its mask share, all on the green bins
    counts = logs["class_counts"]
    assert torch.isclose(counts.sum(), torch.nn.functional.avg_pool2d(mask, 4).sum())
    assert counts.argmax() == right[0, :, 0, 0].argmax()
    # rebalancing weights each pixel by its color's weight: doubling the green's weight doubles the loss
    weights = torch.ones(len(centers))
    weights[counts > 0] = 2.0
    doubled, _ = objective.generator_loss(None, L, true_ab, fake_ab, mask, logits=right, centers=centers,
                                          class_weights=weights)
    assert torch.isclose(doubled, 2 * good)
    # outside the mask nothing counts: wrong logits there cost nothing
    empty = torch.zeros_like(mask)
    assert objective.generator_loss(None, L, true_ab, fake_ab, empty, logits=right.roll(1, dims=1),
                                    centers=centers)[0] == 0
    with pytest.raises(ValueError, match="head='classes'"):
        objective.generator_loss(None, L, true_ab, fake_ab, mask)
