"""The GAN objective in one object: where the losses are summed (torch only, no Lightning).

As in NVlabs' stylegan2-ada and edm ``training/loss.py``, the training loop only steps optimizers; what each
network is penalized for lives here, so :class:`colorgan.training.module.ColorGAN` and the plain loop of
``benchmarks/train_throughput.py`` optimize exactly the same thing.

The discriminator judges (L, ab, mask[, condition]): real chroma is shown through the same mask as the generated
one, so only the colored region can give a fake away; a hinted model's discriminator may also see the hints.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from colorgan.training.losses import (
    ADVERSARIAL_LOSSES,
    AdversarialLoss,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    masked_class_loss,
    masked_l1,
    masked_l2,
)

__all__ = ["GANObjective", "judge"]


def judge(discriminator: nn.Module, L: torch.Tensor, ab: torch.Tensor, mask: torch.Tensor,  # noqa: N803
          condition: torch.Tensor | None = None) -> torch.Tensor:
    """``discriminator(L, ab, mask[, condition]) -> logits``: the condition is passed only when there is one, so a
    discriminator written with three arguments keeps working."""
    if condition is None:
        return discriminator(L, ab, mask)
    return discriminator(L, ab, mask, condition)


@dataclass(frozen=True)
class GANObjective:
    """The discriminator loss (with its gradient penalty) and the generator loss (L1 + L2 + adversarial term).

    Args:
        adversarial_loss: ``lsgan``, ``wgan-gp``, ``hinge`` or ``vanilla``.
        adversarial_weight: weight of the generator's adversarial term; 0 is plain masked regression (no D step).
        l1_weight: weight of the masked L1 distance between generated and true ab.
        l2_weight: weight of the masked L2 distance between generated and true ab.
        gp_weight: weight of the WGAN-GP gradient penalty (``wgan-gp`` only).
        class_weight: weight of the cross-entropy of a class-head generator's ab logits
            (:func:`~colorgan.training.losses.masked_class_loss`); 0: none.

    Both losses return ``(loss, logs)``: a float32 scalar to backpropagate and detached scalars to log.
    """

    adversarial_loss: AdversarialLoss = "lsgan"
    adversarial_weight: float = 1.0
    l1_weight: float = 10.0
    l2_weight: float = 10.0
    gp_weight: float = 10.0
    class_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.adversarial_loss not in ADVERSARIAL_LOSSES:
            raise ValueError(f"unknown adversarial loss {self.adversarial_loss!r}; choose one of "
                             f"{sorted(ADVERSARIAL_LOSSES)}")

    @property
    def adversarial(self) -> bool:
        """Whether there is a discriminator to train at all."""
        return self.adversarial_weight > 0

    def check_discriminator(self, discriminator: nn.Module) -> None:
        """Refuse a critic this objective would break: WGAN-GP's per-sample penalty with BatchNorm."""
        if self.adversarial_loss == "wgan-gp" and any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                                      for m in discriminator.modules()):
            raise ValueError("a WGAN-GP critic must not use BatchNorm (it couples the samples that the per-sample "
                             "gradient penalty treats as independent); use norm: instance, layer or none")

    def discriminator_loss(self, discriminator: nn.Module, L: torch.Tensor, true_ab: torch.Tensor,  # noqa: N803
                           fake_ab: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None = None,
                           ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """D's loss on real ``true_ab`` and generated ``fake_ab`` (B, 2, H, W), both seen through ``mask``.

        ``fake_ab`` is detached here: this loss trains the discriminator only. ``condition`` (B, C, H, W), e.g. the
        hints, is given to the discriminator with both, when not None.
        """
        real_ab, fake_ab = true_ab * mask, fake_ab.detach()
        loss = discriminator_loss(self.adversarial_loss, judge(discriminator, L, real_ab, mask, condition),
                                  judge(discriminator, L, fake_ab, mask, condition))
        logs = {"d_loss": loss.detach()}
        if self.adversarial_loss == "wgan-gp":
            # fp32 outside autocast: the double backward of the penalty is fragile in bf16/fp16
            with torch.autocast(device_type=L.device.type, enabled=False):
                cond = condition.float() if condition is not None else None
                gp = gradient_penalty(lambda ab: judge(discriminator, L.float(), ab, mask.float(), cond),
                                      real_ab.float(), fake_ab.float())
            loss = loss + self.gp_weight * gp
            logs["gp"] = gp.detach()
        return loss, logs

    def generator_loss(self, discriminator: nn.Module | None, L: torch.Tensor, true_ab: torch.Tensor,  # noqa: N803
                       fake_ab: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None = None,
                       logits: torch.Tensor | None = None, centers: torch.Tensor | None = None,
                       class_weights: torch.Tensor | None = None,
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G's loss: masked L1 and L2 to ``true_ab``, the class loss of ``logits`` over the bins ``centers`` when
        ``class_weight`` > 0 (rebalanced by ``class_weights`` (Q,) when given; the batch's class histogram is
        returned in the logs as ``class_counts``), plus, when adversarial, fooling ``discriminator`` (which sees
        ``condition`` when not None)."""
        l1, l2 = masked_l1(fake_ab, true_ab, mask), masked_l2(fake_ab, true_ab, mask)
        loss = self.l1_weight * l1 + self.l2_weight * l2
        logs = {"g_l1": l1.detach(), "g_l2": l2.detach()}
        if self.class_weight > 0:
            if logits is None or centers is None:
                raise ValueError("class_weight > 0 needs a generator with head='classes' (its logits and bins)")
            g_class, logs["class_counts"] = masked_class_loss(logits, true_ab, mask, centers, class_weights)
            loss = loss + self.class_weight * g_class
            logs["g_class"] = g_class.detach()
        if self.adversarial:
            if discriminator is None:
                raise ValueError(f"adversarial_weight {self.adversarial_weight} needs a discriminator")
            g_adv = generator_loss(self.adversarial_loss, judge(discriminator, L, fake_ab, mask, condition))
            loss = loss + self.adversarial_weight * g_adv
            logs["g_adv"] = g_adv.detach()
        return loss, logs
