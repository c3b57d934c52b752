"""The LightningModule: wires generator, discriminator, losses, EMA and metrics (manual optimization)."""

from __future__ import annotations

import copy
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from colorgan.errors import ColorganError
from colorgan.evaluation.baselines import gray_baseline, mean_color_baseline
from colorgan.evaluation.metrics import ColorizationMetrics
from colorgan.evaluation.scores import colorfulness, mask_leak, scored_rgb
from colorgan.hints import HINT_CHANNELS, HINT_P, generate, sample_hints, takes_hints
from colorgan.models import PatchDiscriminator, UNetGenerator, network_spec
from colorgan.models.ab_classes import class_weights
from colorgan.training.losses import AdversarialLoss, masked_l1
from colorgan.training.objectives import GANObjective
from colorgan.version import __version__

__all__ = ["ColorGAN", "learning_rate_factor"]


class ColorGAN(pl.LightningModule):
    """Mask-conditioned colorization GAN in Lab space.

    The generator maps (L, mask) to ab and is exactly gray outside the mask. What each network is trained to
    minimize is :class:`~colorgan.training.objectives.GANObjective`'s; this class steps the optimizers, keeps the
    EMA generator and scores validation and test batches.

    Each training batch makes one discriminator step and, every ``n_critic`` batches, one generator step followed by
    an EMA update of the generator. Note that Lightning's ``global_step`` counts optimizer steps, so it advances by
    two per batch at ``n_critic=1``; budget runs with ``max_epochs``.

    Args:
        generator: the colorizer (default :class:`UNetGenerator`); called as ``generator(L, mask) -> ab``, or
            ``generator(L, mask, hints) -> ab`` with ``hints``.
        discriminator: the critic (default :class:`PatchDiscriminator`); ``discriminator(L, ab, mask) -> logits``.
        adversarial_loss: ``lsgan``, ``wgan-gp``, ``hinge`` or ``vanilla``.
        adversarial_weight: weight of the generator's adversarial term; 0 trains a plain regression baseline
            (the discriminator is then not stepped).
        l1_weight: weight of the masked L1 distance between generated and true ab.
        l2_weight: weight of the masked L2 distance between generated and true ab.
        gp_weight: weight of the WGAN-GP gradient penalty (``wgan-gp`` only).
        n_critic: discriminator steps per generator step (5 is usual for WGAN-GP).
        lr_generator: Adam learning rate of the generator.
        lr_encoder: learning rate of a pretrained encoder inside the generator (a generator with
            ``encoder_parameters()``, e.g. :class:`~colorgan.models.encoder_unet.UNetEncoderGenerator`); None: the
            generator's; 0: the encoder stays frozen. Pretrained features are easily washed out by the large
            early gradients of a fresh decoder, so a smaller rate for them is usual.
        lr_discriminator: Adam learning rate of the discriminator (TTUR: often 2-4x the generator's).
        betas: Adam betas of both optimizers.
        ema_decay: decay of the generator's exponential moving average, used for validation and export (0: off).
        hints: train with user color hints (:mod:`colorgan.hints`): the generator takes them as 3 condition
            channels (``condition_channels: 3``; the default generator gets them), each training batch draws hints
            from the truth on the device, validation batches draw them with a fixed seed (the batch index) and
            test batches get none (so test scores compare with a model trained without hints). The
            discriminator sees the hints too when it is built with ``condition_channels: 3`` (it judges whether
            the colors fit them), else not; the masked L1/L2 is unchanged.
        hint_p: parameter of the geometric number of hints per image (1/8: mean 7, one image in 8 without any).
        lr_decay: final share of ``trainer.max_epochs`` over which every learning rate falls linearly to 0, as
            pix2pix and CycleGAN train (constant for the first half, then linear decay: 0.5); 0 keeps them constant.
            Set per batch from the epoch and batch index, so a resumed run continues the same schedule.
        class_weight: weight of the cross-entropy over ab classes, for a generator with ``head: classes``
            (:class:`~colorgan.models.encoder_unet.UNetEncoderGenerator`): Zhang et al.'s loss, which learns a
            distribution of plausible colors instead of their brownish mean.
        rebalance: class rebalancing of that loss, in [0, 1): each pixel counts with ``1 / (rebalance * p +
            (1 - rebalance) / Q)`` for the frequency ``p`` of its color among the training pixels so far (counted
            on the device as training goes, kept in checkpoints); Zhang et al. use 0.5. Rare, saturated colors then
            count more than the grays and browns that dominate photos. 0: off.
    """

    def __init__(self, generator: nn.Module | None = None, discriminator: nn.Module | None = None,
                 adversarial_loss: AdversarialLoss = "lsgan", adversarial_weight: float = 1.0, l1_weight: float = 10.0,
                 l2_weight: float = 10.0, gp_weight: float = 10.0, n_critic: int = 1, lr_generator: float = 2e-4,
                 lr_discriminator: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999),
                 ema_decay: float = 0.999, lr_encoder: float | None = None, hints: bool = False,
                 hint_p: float = HINT_P, lr_decay: float = 0.0, class_weight: float = 0.0,
                 rebalance: float = 0.0) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["generator", "discriminator"])
        self.automatic_optimization = False
        self.generator = generator if generator is not None else UNetGenerator(
            condition_channels=HINT_CHANNELS if hints else 0)
        _check_hint_channels(self.generator, hints)
        if not 0 < hint_p <= 1:
            raise ColorganError(f"model.hint_p must be in (0, 1], got {hint_p}")
        if not 0 <= lr_decay <= 1:
            raise ColorganError(f"model.lr_decay must be in [0, 1], got {lr_decay}")
        self.discriminator = discriminator if discriminator is not None else PatchDiscriminator()
        _check_hint_channels(self.discriminator, hints, "discriminator", optional=True)
        # The discriminator is given the hints only when it was built for them.
        self._judge_hints = takes_hints(self.discriminator)
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        if class_weight < 0:
            raise ColorganError(f"model.class_weight must be >= 0, got {class_weight}")
        if class_weight and getattr(self.generator, "head_kind", None) != "classes":
            raise ColorganError("model.class_weight needs a generator with ab classes: add head: classes to the "
                                "generator's init_args (UNetEncoderGenerator)")
        if not 0 <= rebalance < 1 or (rebalance and not class_weight):
            raise ColorganError(f"model.rebalance must be in [0, 1) and needs model.class_weight > 0, got {rebalance}")
        if rebalance:  # the class histogram of the training pixels so far: the prior the weights come from
            self.register_buffer("ab_class_counts", torch.zeros(len(self.generator.ab_centers), dtype=torch.float64))
        self.objective = GANObjective(adversarial_loss, adversarial_weight, l1_weight, l2_weight, gp_weight,
                                      class_weight)
        self.objective.check_discriminator(self.discriminator)
        self.ema_generator = copy.deepcopy(self.generator).requires_grad_(False)
        self._ema_updates = 0
        image_metrics = MetricCollection({"psnr": PeakSignalNoiseRatio(data_range=1.0),
                                          "ssim": StructuralSimilarityIndexMeasure(data_range=1.0)})
        self.val_metrics, self.test_metrics = image_metrics.clone(prefix="val/"), image_metrics.clone(prefix="test/")
        self.val_means = nn.ModuleDict({k: MeanMetric() for k in ("colorfulness", "leak", "l1")})
        self.test_means = nn.ModuleDict({k: MeanMetric() for k in ("colorfulness", "leak", "l1")})
        self.test_scores = ColorizationMetrics()  # per mask family, when test batches say which (protocol.py)
        self.baseline_scores = nn.ModuleDict({"gray": ColorizationMetrics(), "mean_color": ColorizationMetrics()})
        self.test_report: list[dict[str, Any]] = []  # rows of the last test, for callbacks.TestReport
        # Sum of a, b over the masked pixels of the training crops, and their count: the mean-color baseline that
        # `colorgan test` and `colorgan evaluate` score beside the model is fit on the training photos only.
        self._train_ab_sum = torch.zeros(3, dtype=torch.float64)
        self._losses_in_bar = True  # set per fit (on_fit_start)

    # --- optimization --------------------------------------------------------------------------------------------

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        hp = self.hparams
        optimizers = [torch.optim.Adam(self._generator_groups(), lr=hp.lr_generator, betas=tuple(hp.betas)),
                      torch.optim.Adam(self.discriminator.parameters(), lr=hp.lr_discriminator, betas=tuple(hp.betas))]
        for optimizer in optimizers:  # the rates lr_decay scales (kept apart from "lr", which it rewrites)
            for group in optimizer.param_groups:
                group.setdefault("base_lr", group["lr"])
        return optimizers

    def on_fit_start(self) -> None:
        # Lightning turns every prog_bar metric into a Python float after every batch (LoggerConnector.on_batch_end),
        # whether a bar is shown or not and whatever its refresh rate: on a GPU that is a host sync per step. So the
        # bar shows the training losses on the CPU only, where reading them is free; on a GPU they still reach the
        # loggers (every log_every_n_steps) and callback_metrics, as tensors.
        self._losses_in_bar = self.device.type == "cpu"
        epochs = self.trainer.max_epochs
        if self.hparams.get("lr_decay", 0.0) and (epochs is None or epochs < 1):
            raise ColorganError("model.lr_decay needs trainer.max_epochs, the length its schedule is a share of")

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Set the learning rates of this batch: constant, then linear to 0 over the last ``lr_decay`` of training."""
        share = self.hparams.get("lr_decay", 0.0)
        if not share:
            return
        epochs = self.trainer.max_epochs
        batches = self.trainer.num_training_batches  # inf for a stream of unknown length: then per epoch
        within = batch_idx / batches if 0 < batches < float("inf") else 0.0
        done = (self.current_epoch + within) / epochs  # share of training before this batch
        factor = learning_rate_factor(done, share)
        for optimizer in self.trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor

    def _generator_groups(self) -> list[dict[str, Any]]:
        """The generator's parameter groups: a pretrained encoder at ``lr_encoder``, the rest at ``lr_generator``."""
        lr_encoder = self.hparams.get("lr_encoder")
        if lr_encoder is None or not hasattr(self.generator, "encoder_parameters"):
            return [{"params": list(self.generator.parameters())}]
        encoder, rest = self.generator.encoder_parameters(), self.generator.decoder_parameters()
        if lr_encoder == 0:  # frozen: no gradients computed, no optimizer state kept
            for parameter in encoder:
                parameter.requires_grad_(False)
            return [{"params": rest}]
        return [{"params": rest}, {"params": encoder, "lr": lr_encoder}]

    def forward(self, L: torch.Tensor, mask: torch.Tensor,  # noqa: N803
                condition: torch.Tensor | None = None) -> torch.Tensor:
        """ab of (L, mask[, hint condition]) from the EMA generator (the one that is validated and exported).

        A hinted model without ``condition`` colorizes without hints.
        """
        if condition is None:
            condition = self._hints(None, mask, seed=None)
        return generate(self.ema_generator, L, mask, condition)

    def _hints(self, ab: torch.Tensor | None, mask: torch.Tensor, seed: int | None) -> torch.Tensor | None:
        """The hint condition (B, 3, H, W) of a batch, None for a model without hints.

        Drawn from ``ab`` on the batch's device (``seed`` fixes them, None takes the global random state); no
        ``ab``: no hints, an all-zero condition.
        """
        if not self.hparams.get("hints", False):
            return None
        if ab is None:
            return mask.new_zeros(mask.shape[0], HINT_CHANNELS, *mask.shape[-2:])
        generator = None if seed is None else torch.Generator(device=mask.device).manual_seed(seed)
        return sample_hints(ab, mask, p=self.hparams.hint_p, generator=generator)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        g_opt, d_opt = self.optimizers()
        L, ab, mask = batch["L"], batch["ab"], batch["mask"]  # noqa: N806
        with torch.no_grad():  # on the device, no host sync
            self._train_ab_sum = self._train_ab_sum.to(L.device) + torch.cat(
                [(ab * mask).sum(dim=(0, 2, 3)), mask.sum().view(1)]).double()
            condition = self._hints(ab, mask, seed=None)
        logits = None
        if self.objective.class_weight:
            fake_ab, logits = self.generator.forward_with_logits(L, mask, condition)
        else:
            fake_ab = generate(self.generator, L, mask, condition)

        if self.objective.adversarial:
            with self.toggled_optimizer(d_opt):
                d_loss, logs = self.objective.discriminator_loss(self.discriminator, L, ab, fake_ab, mask,
                                                                 condition if self._judge_hints else None)
                self._check_finite(d_loss, "discriminator")
                d_opt.zero_grad(set_to_none=True)
                self.manual_backward(d_loss)
                d_opt.step()
            self.log_dict({f"train/{k}": v for k, v in logs.items()}, prog_bar=self._losses_in_bar)

        if (batch_idx + 1) % self.hparams.n_critic == 0:
            with self.toggled_optimizer(g_opt):
                g_loss, logs = self.objective.generator_loss(
                    self.discriminator, L, ab, fake_ab, mask, condition if self._judge_hints else None, logits,
                    getattr(self.generator, "ab_centers", None), self._class_weights())
                counts = logs.pop("class_counts", None)
                if counts is not None and self.hparams.get("rebalance", 0.0):
                    self.ab_class_counts += counts.double()
                self._check_finite(g_loss, "generator")
                g_opt.zero_grad(set_to_none=True)
                self.manual_backward(g_loss)
                g_opt.step()
            self._update_ema()
            self.log_dict({f"train/{k}": v for k, v in logs.items()}, prog_bar=self._losses_in_bar)

    def _class_weights(self) -> torch.Tensor | None:
        """The rebalancing weights (Q,) of the class loss from the histogram so far (uniform before any); None
        when off."""
        strength = self.hparams.get("rebalance", 0.0)
        if not strength:
            return None
        counts = self.ab_class_counts + 1e-6  # a pseudo-count instead of a host-side "any counts yet?" check
        return class_weights((counts / counts.sum()).float(), mix=1.0 - strength)

    def _check_finite(self, loss: torch.Tensor, network: str) -> None:
        """Stop training at a non-finite loss, before its backward and optimizer step.

        A NaN loss makes NaN gradients, which Adam writes into every weight and the EMA: the run then goes on
        "training" silently and its checkpoints colorize everything black. Stopping before the step keeps the
        weights finite, so no checkpoint written now or later can hold NaNs, and the last finite one is kept.
        The check reads the loss on the host: free on CPU, one sync per loss on a GPU, which is the price of
        never stepping on a NaN (a deferred device-side flag would let the weights go NaN before it is read).
        """
        if bool(torch.isfinite(loss.detach())):
            return
        value = loss.detach().float().item()
        hp = self.hparams
        raise ColorganError(
            f"training diverged: the {network} loss is {value} at step {self.global_step} (epoch "
            f"{self.current_epoch}); the last finite checkpoint is kept. Lower the learning rates (now "
            f"--model.lr_generator {hp.lr_generator} and --model.lr_discriminator {hp.lr_discriminator}) and fit "
            f"again")

    @torch.no_grad()
    def _update_ema(self) -> None:
        self._ema_updates += 1
        # warm-up: average over the steps so far while there are few, so early validation is not of a random net
        decay = min(self.hparams.ema_decay, (1 + self._ema_updates) / (10 + self._ema_updates))
        ema_params = list(self.ema_generator.parameters())
        torch._foreach_lerp_(ema_params, [p.detach() for p in self.generator.parameters()], 1.0 - decay)
        ema_buffers = list(self.ema_generator.buffers())  # BatchNorm statistics: copied, not averaged
        if ema_buffers:
            torch._foreach_copy_(ema_buffers, list(self.generator.buffers()))

    # --- evaluation ----------------------------------------------------------------------------------------------

    def _score_batch(self, batch: dict[str, torch.Tensor], stage: str, batch_idx: int) -> dict[str, torch.Tensor]:
        L, ab, mask = batch["L"], batch["ab"], batch["mask"]  # noqa: N806
        condition = self._hints(ab if stage == "val" else None, mask, seed=batch_idx)
        fake_ab = generate(self.ema_generator, L, mask, condition).float()
        pred = scored_rgb(L, fake_ab)  # exactly gray where ab is 0 (lab_norm_to_rgb leaves ~1e-7 of color there)
        target = scored_rgb(L, ab * mask)  # the truth of a partial colorization is gray outside the mask
        image_metrics = self.val_metrics if stage == "val" else self.test_metrics
        means = self.val_means if stage == "val" else self.test_means
        image_metrics.update(pred, target)
        means["colorfulness"].update(colorfulness(pred))
        means["leak"].update(mask_leak(fake_ab, mask))
        means["l1"].update(masked_l1(fake_ab, ab, mask))
        self.log_dict(image_metrics, prog_bar=stage == "val")
        self.log_dict({f"{stage}/{name}": metric for name, metric in means.items()})
        if stage == "test" and "family" in batch:
            self.test_scores.update(pred, target, fake_ab, ab * mask, mask, batch["family"])
            baselines = {"gray": gray_baseline(L, mask)}
            if (mean_ab := self.train_mean_ab) is not None:
                baselines["mean_color"] = mean_color_baseline(mean_ab)(L, mask)
            for name, baseline_ab in baselines.items():
                self.baseline_scores[name].update(scored_rgb(L, baseline_ab), target, baseline_ab, ab * mask, mask,
                                                  batch["family"])
        return {"ab": fake_ab, "rgb": pred, "target": target}

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        return self._score_batch(batch, "val", batch_idx)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        return self._score_batch(batch, "test", batch_idx)

    def on_test_epoch_end(self) -> None:
        # test/<family>/<score> and test/all/<score> (evaluation/metrics.py); compute() has already synced ranks.
        self.test_report = []
        for method, scores in {"model": self.test_scores, **self.baseline_scores}.items():
            if scores.update_called:
                self.log_dict(scores.flat("test" if method == "model" else f"baseline/{method}"))
                self.test_report += [{"method": method, "family": group, **values}
                                     for group, values in scores.compute().items()]
            scores.reset()

    @property
    def train_mean_ab(self) -> torch.Tensor | None:
        """Mean normalized (a, b) (2,) of the training crops inside their masks so far; None before training."""
        if self._train_ab_sum[2] <= 0:
            return None
        return (self._train_ab_sum[:2] / self._train_ab_sum[2]).float()

    # --- checkpoints ---------------------------------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Belt and braces for training_step's loss check (gradients can be non-finite where the loss is not): a
        # checkpoint with non-finite generator weights must never replace a finite one. Raised before Lightning
        # writes the file, so last.ckpt keeps its previous, finite content. One host sync per checkpoint.
        for name in ("generator", "ema_generator"):
            tensors = {k: v for k, v in getattr(self, name).state_dict().items() if v.is_floating_point()}
            if tensors and not bool(torch.stack([torch.isfinite(v).all() for v in tensors.values()]).all()):
                first = next(k for k, v in tensors.items() if not bool(torch.isfinite(v).all()))
                raise ColorganError(
                    f"training diverged: the {name.replace('_', ' ')} weights hold NaN or inf (in {first}) at step "
                    f"{self.global_step} (epoch {self.current_epoch}); not writing a checkpoint, the last finite "
                    f"one is kept. Lower the learning rates and fit again")
        # Plain-data description of the networks, so that `colorgan predict` can rebuild the generator from a
        # checkpoint loaded with weights_only=True, without the CLI or its config.
        mean_ab = self.train_mean_ab
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        checkpoint["colorgan"] = {"version": __version__, "generator": network_spec(self.generator),
                                  "image_size": getattr(datamodule, "image_size", None),  # predict's default size
                                  "discriminator": network_spec(self.discriminator), "ema_updates": self._ema_updates,
                                  "train_ab_sum": self._train_ab_sum.tolist(),
                                  "train_mean_ab": None if mean_ab is None else mean_ab.tolist()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        section = checkpoint.get("colorgan", {})
        self._ema_updates = int(section.get("ema_updates", 0))
        self._train_ab_sum = torch.tensor(section.get("train_ab_sum", [0.0, 0.0, 0.0]), dtype=torch.float64)


def learning_rate_factor(done: float, decay: float) -> float:
    """The factor on the base learning rates after a share ``done`` of training: 1, then linear to 0 over the last
    share ``decay`` (pix2pix's schedule at 0.5). A batch at ``done`` < 1 never gets 0: the last one still learns.

    >>> [round(learning_rate_factor(d, 0.5), 2) for d in (0.0, 0.5, 0.75, 0.99)]
    [1.0, 1.0, 0.5, 0.02]
    """
    if decay <= 0 or done <= 1 - decay:
        return 1.0
    return max(0.0, (1.0 - done) / decay)


def _check_hint_channels(network: nn.Module, hints: bool, name: str = "generator", optional: bool = False) -> None:
    """Refuse a network whose condition input does not fit ``hints``: 3 channels with hints, none without.

    ``optional``: with hints, none is fine too (the discriminator may or may not see them).
    """
    channels = getattr(network, "condition_channels", 0)
    if hints and not takes_hints(network) and not (optional and channels == 0):
        raise ColorganError(f"model.hints is true, but the {name} takes {channels} condition channels; hints need "
                            f"{HINT_CHANNELS} (a, b and the hint mask): add condition_channels: {HINT_CHANNELS} to "
                            f"the {name}'s init_args")
    if not hints and channels:
        raise ColorganError(f"the {name} takes {channels} condition channels, but model.hints is false; set "
                            f"model.hints: true (for {HINT_CHANNELS} channels) or remove condition_channels")
