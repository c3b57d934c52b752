import copy
import re

import pytest
import pytorch_lightning as pl
import torch
from PIL import Image

from colorgan.color import rgb_to_lab_norm
from colorgan.models import PatchDiscriminator, UNetGenerator
from colorgan.training.data import ColorizationDataModule
from colorgan.training.module import ColorGAN


def _model(loss="lsgan", **kwargs):
    return ColorGAN(UNetGenerator(base_channels=4, depth=3, max_channels=16),
                    PatchDiscriminator(base_channels=4, num_layers=2, max_channels=16, norm="instance"),
                    adversarial_loss=loss, **kwargs)


def _fit(model, image_dir, steps=2):
    dm = ColorizationDataModule(str(image_dir), image_size=32, batch_size=2, num_workers=0, val_fraction=0.25)
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=steps, limit_val_batches=1, accelerator="cpu",
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(model, dm)
    return trainer


def _changed(before, after):
    return [k for k, v in before.items() if v.is_floating_point() and not torch.equal(v, after[k])]


@pytest.mark.parametrize("loss", ["lsgan", "wgan-gp", "hinge", "vanilla"])
def test_two_steps_update_both_networks(loss, image_dir):
    model = _model(loss, n_critic=1)
    g0, d0 = copy.deepcopy(model.generator.state_dict()), copy.deepcopy(model.discriminator.state_dict())
    trainer = _fit(model, image_dir)
    assert _changed(g0, model.generator.state_dict()) and _changed(d0, model.discriminator.state_dict())
    metrics = trainer.callback_metrics
    assert torch.isfinite(metrics["train/d_loss"]) and torch.isfinite(metrics["train/g_l1"])
    assert metrics["val/leak"].item() == 0.0  # exactly no color outside the masks
    if loss == "wgan-gp":
        assert torch.isfinite(metrics["train/gp"])
    # global_step counts every optimizer step: one D and one G step per batch
    assert trainer.global_step == 4


def test_n_critic_steps_generator_less_often(image_dir):
    model = _model("wgan-gp", n_critic=2)
    trainer = _fit(model, image_dir, steps=3)
    assert trainer.global_step == 3 + 1  # three critic steps, one generator step


def test_ema_tracks_generator_slowly(image_dir):
    model = _model(ema_decay=0.9)
    g0 = copy.deepcopy(model.generator.state_dict())
    _fit(model, image_dir, steps=3)
    g, ema = model.generator.state_dict(), model.ema_generator.state_dict()
    key = "head.weight"
    assert not torch.equal(ema[key], g0[key]) and not torch.equal(ema[key], g[key])
    # the EMA lies between the start and the current weights (a convex combination of the trajectory)
    assert (ema[key] - g[key]).norm() < (g0[key] - g[key]).norm()
    assert all(not p.requires_grad for p in model.ema_generator.parameters())
    stats = [k for k in g if "running_mean" in k]
    assert stats and all(torch.equal(ema[k], g[k]) for k in stats)  # BatchNorm statistics copied, not averaged
    assert not torch.equal(g[stats[0]], g0[stats[0]])


def test_adversarial_weight_zero_trains_regression_only(image_dir):
    model = _model(adversarial_weight=0.0)
    d0 = copy.deepcopy(model.discriminator.state_dict())
    g0 = copy.deepcopy(model.generator.state_dict())
    trainer = _fit(model, image_dir)
    assert not _changed(d0, model.discriminator.state_dict()) and _changed(g0, model.generator.state_dict())
    assert "train/d_loss" not in trainer.callback_metrics and trainer.global_step == 2


def test_wgan_gp_refuses_batchnorm_critic():
    with pytest.raises(ValueError, match="must not use BatchNorm"):
        ColorGAN(discriminator=PatchDiscriminator(norm="batch"), adversarial_loss="wgan-gp")


def test_checkpoint_describes_networks_as_plain_data(image_dir, tmp_path):
    model = _model()
    trainer = _fit(model, image_dir, steps=1)
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)  # no pickled code needed
    spec = checkpoint["colorgan"]["generator"]
    assert spec["class_path"] == "colorgan.models.unet.UNetGenerator" and spec["init_args"]["base_channels"] == 4
    rebuilt = UNetGenerator(**spec["init_args"])
    rebuilt.load_state_dict({k.removeprefix("ema_generator."): v for k, v in checkpoint["state_dict"].items()
                             if k.startswith("ema_generator.")})
    assert checkpoint["colorgan"]["ema_updates"] == 1


def test_training_records_the_mean_color_of_the_masked_training_pixels(tmp_path):
    folder = tmp_path / "orange"
    folder.mkdir()
    for i in range(6):  # one color everywhere: every masked pixel's ab is that color's
        Image.new("RGB", (40, 40), (230, 120, 30)).save(folder / f"{i}.png")
    model = _model()
    assert model.train_mean_ab is None  # nothing seen yet: no mean-color baseline
    dm = ColorizationDataModule(str(folder), image_size=32, batch_size=2, num_workers=0, val_fraction=0.25,
                                mask_probabilities={"stripes": 1.0})
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=0, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, dm)
    _, ab = rgb_to_lab_norm(torch.tensor([230, 120, 30], dtype=torch.float32).view(1, 3, 1, 1) / 255)
    assert torch.allclose(model.train_mean_ab, ab.flatten(), atol=1e-5)
    assert 0 < model._train_ab_sum[2] < 2 * 2 * 32 * 32  # counts masked pixels only (stripes cover part)
    checkpoint = {"state_dict": {}}
    model.on_save_checkpoint(checkpoint)
    restored = _model()
    restored.on_load_checkpoint(checkpoint)  # resuming keeps accumulating from the same sums
    assert torch.equal(restored._train_ab_sum, model._train_ab_sum.cpu())
    assert checkpoint["colorgan"]["train_mean_ab"] == pytest.approx(ab.flatten().tolist(), abs=1e-5)


def test_a_pretrained_encoder_gets_its_own_learning_rate_or_stays_frozen():
    pytest.importorskip("timm")
    from colorgan.models import UNetEncoderGenerator

    def generator() -> UNetEncoderGenerator:
        return UNetEncoderGenerator("resnet18", pretrained=False, decoder_channels=(4, 8))

    model = ColorGAN(generator(), PatchDiscriminator(base_channels=4), lr_generator=1e-3, lr_encoder=1e-5)
    groups = model.configure_optimizers()[0].param_groups
    assert [group["lr"] for group in groups] == [1e-3, 1e-5]
    assert sum(len(g["params"]) for g in groups) == len(list(model.generator.parameters()))
    frozen = ColorGAN(generator(), PatchDiscriminator(base_channels=4), lr_encoder=0.0)
    (group,) = frozen.configure_optimizers()[0].param_groups
    assert not any(p.requires_grad for p in frozen.generator.encoder_parameters())
    assert len(group["params"]) == len(frozen.generator.decoder_parameters())
    plain = ColorGAN(UNetGenerator(base_channels=4, depth=2), PatchDiscriminator(base_channels=4), lr_encoder=1e-5)
    assert len(plain.configure_optimizers()[0].param_groups) == 1  # no encoder: one rate


def test_divergence_stops_the_run_in_one_line_and_keeps_checkpoints_finite(image_dir, workdir, capsys):
    from conftest import CONFIGS

    from colorgan.cli import main

    code = main(["fit", "--config", str(CONFIGS / "tiny.yaml"), "--data.data_dir", str(image_dir),
                 "--trainer.max_epochs", "2", "--model.lr_generator", "1e20", "--model.lr_discriminator", "1e20"])
    err = capsys.readouterr().err
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("colorgan: error: training diverged: the "), last
    assert re.search(r"(discriminator|generator) loss is (nan|inf|-inf) at step \d+ \(epoch \d+\)", last), last
    assert "Traceback" not in err
    for path in (workdir / "runs").rglob("*.ckpt"):
        state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), path


def test_a_checkpoint_with_non_finite_weights_is_never_written():
    from colorgan.errors import ColorganError

    model = _model()
    with torch.no_grad():
        next(model.ema_generator.parameters()).view(-1)[0] = float("inf")
    with pytest.raises(ColorganError, match=r"ema generator weights hold NaN or inf \(in .*not writing a checkpoint"):
        model.on_save_checkpoint({})


def test_divergence_keeps_the_last_finite_checkpoint(image_dir, tmp_path):
    from pytorch_lightning.callbacks import ModelCheckpoint

    from colorgan.errors import ColorganError

    class Explode(pl.Callback):  # a sane first epoch (and checkpoint), then learning rates that diverge at once
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                for optimizer in trainer.optimizers:
                    for group in optimizer.param_groups:
                        group["lr"] = 1e20

    dm = ColorizationDataModule(str(image_dir), image_size=32, batch_size=2, num_workers=0, val_fraction=0.25)
    trainer = pl.Trainer(max_epochs=3, limit_train_batches=2, limit_val_batches=1, accelerator="cpu", logger=False,
                         callbacks=[Explode(), ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)],
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    with pytest.raises(ColorganError, match=r"training diverged: the (discriminator|generator) loss is .* \(epoch 1\)"):
        trainer.fit(_model(), dm)
    checkpoint = torch.load(tmp_path / "ckpt" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values() if v.is_floating_point())


class _Recorder(UNetGenerator):
    """A hinted U-Net that records the hint channels it was called with."""

    def __init__(self) -> None:
        super().__init__(base_channels=4, depth=3, max_channels=16, condition_channels=3)
        self.seen: list[torch.Tensor] = []

    def forward(self, L, mask, condition=None):  # noqa: N803
        self.seen.append(condition.detach().clone())
        return super().forward(L, mask, condition)


def test_hints_reach_the_generator_in_training_and_validation_is_seeded(image_dir):
    model = ColorGAN(_Recorder(), PatchDiscriminator(base_channels=4, num_layers=2, max_channels=16), hints=True,
                     hint_p=0.05)  # few images without hints
    _fit(model, image_dir, steps=2)
    train = model.generator.seen
    assert len(train) == 2 and all(c.shape[1] == 3 for c in train)
    assert any(c[:, 2].sum() > 0 for c in train)  # hints drawn from the truth ...
    first_val = model.ema_generator.seen[-1]
    assert first_val[:, 2].sum() > 0
    trainer = pl.Trainer(accelerator="cpu", logger=False, limit_val_batches=1, enable_progress_bar=False,
                         enable_model_summary=False)
    dm = ColorizationDataModule(str(image_dir), image_size=32, batch_size=2, num_workers=0, val_fraction=0.25)
    trainer.validate(model, dm, verbose=False)
    assert torch.equal(model.ema_generator.seen[-1], first_val)  # ... validation's with a fixed seed
    trainer.test(model, dm, verbose=False)
    assert (model.ema_generator.seen[-1] == 0).all()  # test batches: no hints


class _Judge(PatchDiscriminator):
    """A discriminator that records the condition it judged with."""

    def __init__(self, condition_channels: int) -> None:
        super().__init__(base_channels=4, num_layers=2, max_channels=16, condition_channels=condition_channels)
        self.seen: list[torch.Tensor | None] = []

    def forward(self, L, ab, mask, condition=None):  # noqa: N803
        self.seen.append(None if condition is None else condition.detach().clone())
        return super().forward(L, ab, mask, condition)


@pytest.mark.parametrize("judged", [True, False])
def test_discriminator_sees_the_hints_only_when_built_for_them(image_dir, judged):
    model = ColorGAN(_Recorder(), _Judge(3 if judged else 0), hints=True, hint_p=0.05)
    _fit(model, image_dir, steps=2)
    d_calls = model.discriminator.seen
    assert len(d_calls) == 2 * 2 + 2  # per batch: real and fake for D's step, fake for G's
    if judged:  # the very hints the generator colorized with, for real and fake alike
        assert all(torch.equal(c, model.generator.seen[i // 3]) for i, c in enumerate(d_calls))
    else:
        assert all(c is None for c in d_calls)


def test_a_hinted_discriminator_needs_a_hinted_model():
    from colorgan.errors import ColorganError

    with pytest.raises(ColorganError, match=re.escape("the discriminator takes 3 condition channels, but model.hints "
                                                      "is false")):
        ColorGAN(UNetGenerator(base_channels=4, depth=3, max_channels=16), _Judge(3), hints=False)


@pytest.mark.parametrize(("channels", "hints", "message"), [
    (0, True, "model.hints is true, but the generator takes 0 condition channels; hints need 3"),
    (3, False, "the generator takes 3 condition channels, but model.hints is false")])
def test_hint_channels_must_fit_the_generator(channels, hints, message):
    from colorgan.errors import ColorganError

    with pytest.raises(ColorganError, match=re.escape(message)) as caught:
        ColorGAN(UNetGenerator(base_channels=4, depth=3, max_channels=16, condition_channels=channels), hints=hints)
    assert "\n" not in str(caught.value)


def test_default_generator_takes_hints_when_asked():
    model = ColorGAN(hints=True).eval()
    assert model.generator.condition_channels == 3
    L, mask = torch.zeros(1, 1, 32, 32), torch.ones(1, 1, 32, 32)  # noqa: N806
    assert model(L, mask).shape == (1, 2, 32, 32)  # no condition: colorized without hints


class _Rates(pl.Callback):
    """Records (epoch, batch, generator lr, encoder-free discriminator lr) as each batch starts training."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int, float, float]] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        g, d = trainer.optimizers
        self.seen.append((trainer.current_epoch, batch_idx, g.param_groups[0]["lr"], d.param_groups[0]["lr"]))


def test_lr_decay_is_constant_then_linear_to_zero_and_survives_resume(image_dir, tmp_path):
    from pytorch_lightning.callbacks import ModelCheckpoint

    def fit(epochs, rates, ckpt_path=None):
        dm = ColorizationDataModule(str(image_dir), image_size=32, batch_size=2, num_workers=0, val_fraction=0.25)
        trainer = pl.Trainer(max_epochs=epochs, limit_train_batches=2, limit_val_batches=0, accelerator="cpu",
                             logger=False, enable_progress_bar=False, enable_model_summary=False,
                             callbacks=[rates, ModelCheckpoint(dirpath=tmp_path, save_last=True)])
        trainer.fit(_model(lr_decay=0.5, lr_generator=4e-4, lr_discriminator=2e-4), dm, ckpt_path=ckpt_path)

    whole = _Rates()
    fit(4, whole)  # 8 batches: the first half at the base rates, then 1, 3/4, 1/2, 1/4 of them
    factors = [g / 4e-4 for *_, g, _ in whole.seen]
    assert factors == pytest.approx([1, 1, 1, 1, 1, 0.75, 0.5, 0.25])
    assert all(d / 2e-4 == pytest.approx(f) for (*_, d), f in zip(whole.seen, factors, strict=True))
    resumed = _Rates()
    fit(4, resumed, ckpt_path=tmp_path / "last.ckpt")  # a finished run: nothing more to train
    fit(6, resumed, ckpt_path=tmp_path / "last.ckpt")  # a longer run resumed: its own schedule from epoch 4
    # epochs 4 and 5 of 6: the decay began at epoch 3, so 1 - (4/6 - 1/2) / (1/2) = 2/3 and on
    assert [(e, round(g / 4e-4, 4)) for e, _, g, _ in resumed.seen] == [(4, 0.6667), (4, 0.5), (5, 0.3333),
                                                                        (5, 0.1667)]


def test_lr_decay_needs_a_share_in_range():
    from colorgan.errors import ColorganError

    with pytest.raises(ColorganError, match=r"model.lr_decay must be in \[0, 1\], got 1.5"):
        _model(lr_decay=1.5)


def test_lr_decay_needs_max_epochs_before_training_starts(image_dir):
    from colorgan.errors import ColorganError

    model = _model(lr_decay=0.5)
    g0 = copy.deepcopy(model.generator.state_dict())
    dm = ColorizationDataModule(str(image_dir), image_size=32, batch_size=2, num_workers=0, val_fraction=0.25)
    trainer = pl.Trainer(max_epochs=-1, max_steps=4, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    with pytest.raises(ColorganError, match="model.lr_decay needs trainer.max_epochs"):
        trainer.fit(model, dm)
    assert not _changed(g0, model.generator.state_dict())  # refused before the first step


def test_a_class_head_trains_on_its_class_loss(image_dir):
    pytest.importorskip("timm")
    from colorgan.errors import ColorganError
    from colorgan.models import UNetEncoderGenerator

    generator = UNetEncoderGenerator("resnet18", pretrained=False, decoder_channels=(4, 8), head="classes")
    model = ColorGAN(generator, PatchDiscriminator(base_channels=4, num_layers=2, norm="instance"),
                     adversarial_weight=0.0, l1_weight=0.0, l2_weight=0.0, class_weight=1.0)
    head0 = model.generator.head.weight.detach().clone()
    trainer = _fit(model, image_dir)
    assert torch.isfinite(trainer.callback_metrics["train/g_class"])
    assert not torch.equal(model.generator.head.weight, head0)  # the class loss is the only one that reaches it
    assert trainer.callback_metrics["val/leak"].item() == 0.0
    with pytest.raises(ColorganError, match="head: classes"):
        ColorGAN(UNetGenerator(base_channels=4, depth=2), PatchDiscriminator(base_channels=4), class_weight=1.0)


def test_rebalancing_counts_the_training_colors_and_weights_rare_ones_up(image_dir):
    pytest.importorskip("timm")
    from colorgan.errors import ColorganError
    from colorgan.models import UNetEncoderGenerator

    generator = UNetEncoderGenerator("resnet18", pretrained=False, decoder_channels=(4, 8), head="classes")
    model = ColorGAN(generator, PatchDiscriminator(base_channels=4, num_layers=2, norm="instance"),
                     adversarial_weight=0.0, l1_weight=0.0, l2_weight=0.0, class_weight=1.0, rebalance=0.5)
    assert torch.allclose(model._class_weights(), torch.ones(len(generator.ab_centers)))  # uniform before data
    _fit(model, image_dir)
    counts = model.ab_class_counts
    assert counts.sum() > 0 and "ab_class_counts" in model.state_dict()  # resumes with its histogram
    weights = model._class_weights()
    common, rare = counts.argmax(), counts.argmin()
    assert weights[rare] > weights[common]
    prior = counts / counts.sum()
    assert torch.isclose((prior.float() * weights).sum(), torch.tensor(1.0), atol=1e-4)  # expectation 1
    with pytest.raises(ColorganError, match="rebalance"):
        ColorGAN(UNetEncoderGenerator("resnet18", pretrained=False, decoder_channels=(4, 8), head="classes"),
                 rebalance=0.5)
