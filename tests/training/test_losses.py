import pytest
import torch

from colorgan.training.losses import (
    ADVERSARIAL_LOSSES,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    masked_l1,
    masked_l2,
)

REAL = torch.tensor([2.0, 0.5])
FAKE = torch.tensor([-1.0, 0.5])


def test_lsgan_values():
    # 0.5 * (mean((real-1)^2) + mean(fake^2)) = 0.5 * ((1 + 0.25)/2 + (1 + 0.25)/2)
    assert discriminator_loss("lsgan", REAL, FAKE).item() == pytest.approx(0.625)
    assert generator_loss("lsgan", FAKE).item() == pytest.approx(0.5 * (4 + 0.25) / 2)


def test_hinge_values():
    # relu(1 - real) = [0, 0.5]; relu(1 + fake) = [0, 1.5]
    assert discriminator_loss("hinge", REAL, FAKE).item() == pytest.approx(0.25 + 0.75)
    assert generator_loss("hinge", FAKE).item() == pytest.approx(0.25)


def test_wgan_values():
    assert discriminator_loss("wgan-gp", REAL, FAKE).item() == pytest.approx(-0.25 - 1.25)
    assert generator_loss("wgan-gp", FAKE).item() == pytest.approx(0.25)


def test_vanilla_matches_binary_cross_entropy():
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = bce(REAL, torch.ones(2)) + bce(FAKE, torch.zeros(2))
    assert discriminator_loss("vanilla", REAL, FAKE).item() == pytest.approx(expected.item())
    assert generator_loss("vanilla", FAKE).item() == pytest.approx(bce(FAKE, torch.ones(2)).item())


def test_every_loss_is_a_finite_scalar_and_unknown_names_fail():
    for kind in ADVERSARIAL_LOSSES:
        assert discriminator_loss(kind, torch.randn(2, 1, 3, 3), torch.randn(2, 1, 3, 3)).dim() == 0
    with pytest.raises(ValueError, match="unknown adversarial loss"):
        discriminator_loss("wasserstein", REAL, FAKE)


def test_gradient_penalty_of_linear_critics():
    real, fake = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    w = torch.randn(2, 3, 3)
    unit = w / w.norm()  # gradient norm exactly 1 everywhere: penalty 0
    assert gradient_penalty(lambda x: (x * unit).flatten(1).sum(1), real, fake).item() == pytest.approx(0, abs=1e-6)
    # gradient norm 3 everywhere: (3 - 1)^2 = 4, and it is differentiable w.r.t. the critic's weights
    scale = torch.tensor(3.0, requires_grad=True)
    gp = gradient_penalty(lambda x: scale * (x * unit).flatten(1).sum(1), real, fake)
    assert gp.item() == pytest.approx(4.0, rel=1e-5)
    gp.backward()
    assert scale.grad.item() == pytest.approx(2 * (3 - 1), rel=1e-5)


def test_masked_distances_ignore_pixels_outside_the_mask():
    pred = torch.zeros(1, 2, 2, 2)
    target = torch.tensor([[[[1.0, 5.0], [1.0, 5.0]], [[1.0, 5.0], [1.0, 5.0]]]])
    mask = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])  # left column only, where the error is 1
    assert masked_l1(pred, target, mask).item() == pytest.approx(1.0)
    assert masked_l2(pred, 2 * target, mask).item() == pytest.approx(4.0)
    assert masked_l1(pred, target, torch.zeros_like(mask)).item() == 0.0  # nothing to color, no NaN
