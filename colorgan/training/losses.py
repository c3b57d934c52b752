"""GAN objectives and reconstruction terms: pure functions of tensors (torch only).

The discriminator returns raw logits (no sigmoid). ``discriminator_loss`` and ``generator_loss`` pick the
objective by name; which network is stepped, ``detach`` and ``n_critic`` are the training loop's business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812

from colorgan.models.ab_classes import downsample_ab, soft_encode

AdversarialLoss = Literal["lsgan", "wgan-gp", "hinge", "vanilla"]

__all__ = [
    "ADVERSARIAL_LOSSES",
    "AdversarialLoss",
    "discriminator_loss",
    "generator_loss",
    "gradient_penalty",
    "masked_class_loss",
    "masked_l1",
    "masked_l2",
]


# --- discriminator / critic objectives: (real_logits, fake_logits) -> scalar ------------------------------------


def _d_lsgan(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # Mao et al. 2017, a=0 b=1; the 1/2 keeps the scale of the original paper.
    return 0.5 * ((real - 1.0).square().mean() + fake.square().mean())


def _d_vanilla(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real).mean() + F.softplus(fake).mean()  # = BCE(real, 1) + BCE(fake, 0), stable in logits


def _d_hinge(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def _d_wasserstein(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return fake.mean() - real.mean()  # the gradient penalty is added by the caller


# --- generator objectives: fake_logits -> scalar ------------------------------------------------------------------


def _g_lsgan(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (fake - 1.0).square().mean()


def _g_vanilla(fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake).mean()  # non-saturating form, -log D(G(z))


def _g_critic(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()  # hinge and WGAN share the generator side


ADVERSARIAL_LOSSES: dict[str, tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]]] = {
    "lsgan": (_d_lsgan, _g_lsgan),
    "wgan-gp": (_d_wasserstein, _g_critic),
    "hinge": (_d_hinge, _g_critic),
    "vanilla": (_d_vanilla, _g_vanilla),
}


def _lookup(kind: str) -> tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]]:
    try:
        return ADVERSARIAL_LOSSES[kind]
    except KeyError:
        raise ValueError(f"unknown adversarial loss {kind!r}; choose one of {sorted(ADVERSARIAL_LOSSES)}") from None


def discriminator_loss(kind: AdversarialLoss, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator (critic) loss for real and fake logits of any matching shape, as a float32 scalar."""
    return _lookup(kind)[0](real_logits.float(), fake_logits.float())


def generator_loss(kind: AdversarialLoss, fake_logits: torch.Tensor) -> torch.Tensor:
    """Adversarial loss of the generator given the discriminator's logits on its output, as a float32 scalar."""
    return _lookup(kind)[1](fake_logits.float())


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     target: float = 1.0) -> torch.Tensor:
    """WGAN-GP penalty ``E[(||grad critic(x_hat)|| - target)^2]`` on random interpolates (Gulrajani et al. 2017).

    Args:
        critic: maps a batch shaped like ``real`` to logits; closes over any conditioning (L, mask).
        real: (B, ...) real samples.
        fake: (B, ...) generated samples; detached here.
        target: the Lipschitz target (1 in the paper).

    Returns:
        Scalar penalty, differentiable w.r.t. the critic's parameters (``create_graph=True``).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} must have the same shape")
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    out = critic(x_hat)
    # Out-of-place autograd.grad fires no DDP allreduce hooks; the later backward of the total loss syncs once.
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - target).square().mean()


def _masked_mean(err: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weight = mask.expand_as(err).float()
    # clamp: an all-zero mask (nothing to color) contributes 0 rather than 0/0
    return (err.float() * weight).sum() / weight.sum().clamp_min(1.0)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the pixels where ``mask`` (B, 1, H, W), binary or soft, is on; weighted by it."""
    return _masked_mean((pred - target).abs(), mask)


def masked_l2(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the pixels where ``mask`` (B, 1, H, W), binary or soft, is on; weighted by it."""
    return _masked_mean((pred - target).square(), mask)


def masked_class_loss(logits: torch.Tensor, true_ab: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor,
                      weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of ab class ``logits`` (B, Q, h, w) against the soft-encoded true ab (B, 2, H, W), where
    ``mask`` (B, 1, H, W) is on: Zhang et al.'s multinomial loss.

    ab and mask are area-averaged to the logits' resolution (``H / h``, an integer, e.g. 4); a pixel there counts
    with the share of its area that the mask covers. ``centers`` (Q, 2) are the bins the logits are over.
    ``weights`` (Q,), e.g. :func:`colorgan.models.ab_classes.class_weights`, rebalance the classes: each pixel
    counts with the weight of its true color (soft: its targets' weighted sum).

    Returns:
        ``(loss, counts)``: the scalar loss and the (Q,) sum of the masked soft targets, the batch's class
        histogram (for estimating the prior that ``weights`` come from).
    """
    stride = true_ab.shape[-1] // logits.shape[-1]
    if stride < 1 or true_ab.shape[-2] // stride != logits.shape[-2]:
        raise ValueError(f"logits {tuple(logits.shape[-2:])} are not a whole reduction of ab "
                         f"{tuple(true_ab.shape[-2:])}")
    small_ab, small_mask = downsample_ab(true_ab.float(), stride), downsample_ab(mask.float(), stride)
    with torch.no_grad():
        targets = soft_encode(small_ab, centers)
        counts = (targets * small_mask).sum(dim=(0, 2, 3))
        pixel_weight = small_mask if weights is None else small_mask * torch.einsum(
            "bqhw,q->bhw", targets, weights.to(targets)).unsqueeze(1)
    cross_entropy = -(targets * torch.log_softmax(logits.float(), dim=1)).sum(dim=1, keepdim=True)
    # normalized by the mask's area, not by the weights' sum: rebalancing changes which pixels matter, not the scale
    return (cross_entropy * pixel_weight).sum() / small_mask.sum().clamp_min(1.0), counts
