"""``colorgan predict | masks | export`` driven in-process through colorgan.cli.main: exit codes and messages."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_image_folder
from PIL import Image

from colorgan import checkpoint as checkpoint_module
from colorgan import cli
from colorgan.checkpoint import load_generator
from colorgan.inference import colorize_tensor
from colorgan.masks import LIBRARY, library_mask


@pytest.fixture(scope="module")
def project(tiny_project: Path) -> Path:
    return tiny_project


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    return project


@pytest.fixture
def ckpt(project: Path) -> Path:
    return project / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt"


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("colorgan: error:")]


def test_predict_without_ckpt_uses_the_newest_checkpoint(in_project: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    newest = in_project / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt"
    os.utime(newest)  # the fit also wrote epoch=0-step=2.ckpt in the same second
    code = cli.main(["predict", "--mask", "stripes", "--out", str(tmp_path / "out"), "images/photo_00.png"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert str(Path("runs/tiny/version_0/checkpoints/last.ckpt")) in captured.err
    out = np.asarray(Image.open(tmp_path / "out" / "photo_00_color.png")).astype(int)
    gray = library_mask("stripes", 40, 48)[0].numpy() == 0
    assert out.shape == (40, 48, 3) and (out[gray].max(axis=1) == out[gray].min(axis=1)).all()


def test_predict_folder_with_a_bad_file_writes_the_rest_and_exits_1(project: Path, ckpt: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_image_folder(tmp_path / "photos", count=3, size=(24, 32))
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    code = cli.main(["predict", "--ckpt", str(ckpt), "--out", str(tmp_path / "out"), "--batch-size", "2",
                     "--threads", str(torch.get_num_threads()), str(folder), str(tmp_path / "missing.png")])
    captured = capsys.readouterr()
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"photo_0{i}_color.png" for i in range(3)]
    failures = [line for line in captured.err.splitlines() if line.startswith("colorgan: failed:")]
    assert len(failures) == 2
    assert any("corrupt.jpg" in line for line in failures) and any("missing.png" in line for line in failures)
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("size", [[], ["--size", "64"]])
def test_predict_mask_file_and_odd_size(ckpt: Path, tmp_path: Path, size: list[str]) -> None:
    image = make_image_folder(tmp_path / "odd", count=1, size=(33, 51)) / "photo_00.png"
    assert cli.main(["masks", "--write", str(tmp_path / "masks"), "--size", "33", "51", "circle"]) == 0
    args = ["predict", "--ckpt", str(ckpt), "--mask", str(tmp_path / "masks" / "circle.png"), "--invert",
            "--feather", "2", "--out", str(tmp_path / "out"), "--suffix=-c", *size, str(image)]
    assert cli.main(args) == 0
    with Image.open(tmp_path / "out" / "photo_00-c.png") as out:
        assert out.size == (51, 33)
        pixels = np.asarray(out).astype(int)
    # inverted circle: the center (far from the feathered edge) is exactly gray
    assert (pixels[14:19, 23:28].max(axis=2) == pixels[14:19, 23:28].min(axis=2)).all()


@pytest.mark.parametrize(("args", "message"), [
    (["--mask", "no_such_mask"], "neither a file nor a library mask"),
    (["--mask", "missing/mask.png"], "neither a file nor a library mask"),
    (["--feather", "-1"], "feather must be >= 0"),
    (["--batch-size", "0"], "batch size and size must be >= 1"),
    pytest.param(["--device", "cuda"], "no CUDA GPU", marks=pytest.mark.skipif(torch.cuda.is_available(),
                                                                                 reason="a GPU is present")),
])
def test_predict_config_errors_exit_2_with_one_line(ckpt: Path, project: Path, tmp_path: Path, args: list[str],
                                                     message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["predict", "--ckpt", str(ckpt), "--out", str(tmp_path / "out"), *args,
                     str(project / "images" / "photo_00.png")])
    captured = capsys.readouterr()
    assert code == 2 and not (tmp_path / "out").exists()
    (line,) = error_lines(captured.err)
    assert message in line


@pytest.mark.parametrize("kind", ["other_project", "random_bytes"])
def test_foreign_checkpoints_exit_2_with_one_line(project: Path, tmp_path: Path, kind: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "model.ckpt"
    if kind == "other_project":
        torch.save({"state_dict": {}}, path)
    else:
        path.write_bytes(os.urandom(2048))
    code = cli.main(["predict", "--ckpt", str(path), str(project / "images" / "photo_00.png")])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    (line,) = error_lines(captured.err)
    assert str(path) in line and "checkpoint" in line


@pytest.mark.parametrize("config", ["[1, 2]", "null", '"text"'])
def test_safetensors_metadata_that_is_not_an_object_exits_2_with_one_line(
        ckpt: Path, project: Path, tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    state = {key: value.contiguous() for key, value in load_generator(ckpt)[0].state_dict().items()}
    save_file(state, str(path), metadata={"colorgan": config})
    code = cli.main(["predict", "--ckpt", str(path), "--out", str(tmp_path / "out"),
                     str(project / "images" / "photo_00.png")])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    (line,) = error_lines(captured.err)
    assert str(path) in line and "not a colorgan export" in line
    assert not (tmp_path / "out").exists()


def test_predict_out_naming_an_existing_file_is_a_usage_error(ckpt: Path, project: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import colorgan.commands

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the checkpoint was loaded before --out was checked")

    monkeypatch.setattr(colorgan.commands, "load_generator", no_loading)
    out = tmp_path / "result.png"
    out.write_bytes(b"keep me")
    before = sorted(tmp_path.iterdir())
    code = cli.main(["predict", "--ckpt", str(ckpt), "--out", str(out), str(project / "images" / "photo_00.png")])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    (line,) = [line for line in captured.err.splitlines() if line.startswith("colorgan predict: error:")]
    assert str(out) in line and "folder" in line
    assert out.read_bytes() == b"keep me" and sorted(tmp_path.iterdir()) == before


def test_predict_never_replaces_a_file_it_did_not_write_and_says_how_it_renames(
        ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import colorgan.commands

    work, other = make_image_folder(tmp_path / "work", count=1), make_image_folder(tmp_path / "other", count=1)
    (work / "photo_00.png").rename(work / "a.jpg")  # a PNG named .jpg decodes all the same
    (other / "photo_00.png").rename(other / "a.jpg")
    (work / "a.png").write_bytes(b"unrelated work")
    args = ["predict", "--ckpt", str(ckpt), "--out", str(work), "--suffix", "", "--no-progress", str(work / "a.jpg"),
            str(other / "a.jpg")]

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the checkpoint was loaded before the outputs were checked")

    with monkeypatch.context() as patch:
        patch.setattr(colorgan.commands, "load_generator", no_loading)
        assert cli.main(args) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert str(work / "a.png") in line and "--overwrite" in line
    assert (work / "a.png").read_bytes() == b"unrelated work" and sorted(p.name for p in work.iterdir()) == [
        "a.jpg", "a.png"]
    assert cli.main([*args, "--overwrite"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "a-2.png" in line]
    assert notes == [f"colorgan: {other / 'a.jpg'} -> {work / 'a-2.png'} (same name as {work / 'a.jpg'})"]
    assert sorted(p.name for p in work.iterdir()) == ["a-2.png", "a.jpg", "a.png"]
    for name in ("a.png", "a-2.png"):
        with Image.open(work / name) as output:
            assert output.format == "PNG" and output.size == (48, 40)


def test_predict_without_any_checkpoint_explains_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(checkpoint_module, "BUNDLED_MODEL", tmp_path / "none.safetensors")  # a checkout without it
    assert cli.main(["predict", "photo.png"]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "--ckpt" in line and "colorgan fit --config quickstart" in line


def test_predict_usage_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["predict"]) == 2
    assert "usage: colorgan predict" in capsys.readouterr().err
    assert cli.main(["predict", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines at the terminal's width
    assert "--feather PX" in help_text and "unless --overwrite" in help_text
    assert "--hint X,Y,COLOR[,SIZE]" in help_text and "outside the mask or image is ignored with a warning" in help_text


def test_masks_lists_and_writes_the_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["masks"]) == 0
    assert capsys.readouterr().out.split() == list(LIBRARY)
    assert cli.main(["masks", "--write", str(tmp_path), "--size", "24", "40", "stripes", "ring.png"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ring.png", "stripes.png"]
    with Image.open(tmp_path / "stripes.png") as image:
        assert image.size == (40, 24)
        assert np.array_equal(np.asarray(image) // 255, library_mask("stripes", 24, 40)[0].numpy().astype(np.uint8))
    assert cli.main(["masks", "--write", str(tmp_path / "square"), "--size", "16"]) == 0
    assert len(list((tmp_path / "square").glob("*.png"))) == len(LIBRARY)
    assert cli.main(["masks", "--write", str(tmp_path), "nope"]) == 2
    assert "nope" in error_lines(capsys.readouterr().err)[0]


def test_export_safetensors_then_predict_matches_the_checkpoint(ckpt: Path, project: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen.safetensors"
    assert cli.main(["export", "--ckpt", str(ckpt), "--format", "safetensors", str(out)]) == 0
    rgb, mask = torch.rand(1, 3, 29, 45), (torch.rand(1, 1, 29, 45) > 0.5).float()
    expected = colorize_tensor(load_generator(ckpt)[0], rgb, mask, size=32)
    assert torch.equal(colorize_tensor(load_generator(out)[0], rgb, mask, size=32), expected)
    image = project / "images" / "photo_01.png"
    for source in (ckpt, out):
        assert cli.main(["predict", "--ckpt", str(source), "--out", str(tmp_path / source.suffix), str(image)]) == 0
    first, second = (np.asarray(Image.open(tmp_path / s / "photo_01_color.png")) for s in (".ckpt", ".safetensors"))
    assert np.array_equal(first, second)


def test_export_onnx_matches_torch_at_an_odd_size(ckpt: Path, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "gen.onnx"
    assert cli.main(["export", "--ckpt", str(ckpt), str(out)]) == 0  # format from the extension
    L, mask = torch.rand(2, 1, 33, 51) * 2 - 1, (torch.rand(2, 1, 33, 51) > 0.5).float()  # noqa: N806
    (ab,) = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        None, {"L": L.numpy(), "mask": mask.numpy()})
    torch.testing.assert_close(torch.from_numpy(ab), load_generator(ckpt)[0](L, mask), atol=1e-4, rtol=0)


def test_export_errors(ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export", "--ckpt", str(ckpt), str(tmp_path / "gen.bin")]) == 2
    assert "--format" in capsys.readouterr().err
    assert cli.main(["export", "--ckpt", str(tmp_path / "nope.ckpt"), str(tmp_path / "g.onnx")]) == 2
    assert "does not exist" in error_lines(capsys.readouterr().err)[0]
    assert not list(tmp_path.iterdir())


def test_predict_and_evaluate_work_at_the_size_the_checkpoint_was_trained_at(ckpt: Path, project: Path,
                                                                              tmp_path: Path) -> None:
    assert load_generator(ckpt)[1]["image_size"] == 32  # configs/tiny.yaml's crops
    image = str(project / "images" / "photo_00.png")
    outputs = {}
    for name, size in {"default": [], "32": ["--size", "32"], "64": ["--size", "64"]}.items():
        assert cli.main(["predict", "--ckpt", str(ckpt), "--out", str(tmp_path / name), *size, image]) == 0
        outputs[name] = (tmp_path / name / "photo_00_color.png").read_bytes()
    assert outputs["default"] == outputs["32"] != outputs["64"]
    assert cli.main(["evaluate", "--ckpt", str(ckpt), "--no-perceptual", "--no-progress", "--out",
                     str(tmp_path / "scores.json"), str(project / "images")]) == 0
    assert json.loads((tmp_path / "scores.json").read_text())["meta"]["size"] == 32


def test_outputs_get_the_users_normal_mode(ckpt: Path, project: Path, tmp_path: Path, umask_022: None) -> None:
    image = str(project / "images" / "photo_00.png")
    assert cli.main(["predict", "--ckpt", str(ckpt), "--out", str(tmp_path / "out"), "--no-progress", image]) == 0
    assert cli.main(["export", "--ckpt", str(ckpt), str(tmp_path / "gen.safetensors")]) == 0
    assert cli.main(["evaluate", "--ckpt", str(ckpt), "--no-perceptual", "--no-progress", "--out",
                     str(tmp_path / "scores.json"), str(project / "images")]) == 0
    outputs = [tmp_path / "out" / "photo_00_color.png", tmp_path / "gen.safetensors", tmp_path / "scores.json",
               tmp_path / "scores.csv"]
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in outputs} == {p.name: "0o644" for p in outputs}


def test_predict_file_names_that_are_not_utf8_under_a_strict_utf8_stdout(ckpt: Path, tmp_path: Path) -> None:
    folder = tmp_path / os.fsdecode(b"photos-\xe9t\xe9")  # names from a Latin-1 system
    make_image_folder(folder, count=1, size=(24, 32))
    with Image.open(folder / "photo_00.png") as photo:
        photo.save(folder / os.fsdecode(b"caf\xe9.jpg"))
    (folder / os.fsdecode(b"cass\xe9.jpg")).write_bytes(b"not a jpeg")
    out = tmp_path / os.fsdecode(b"r\xe9sultats")
    # A pipe's stdout in a UTF-8 locale is strict: printing a surrogate-escaped name there used to crash.
    result = subprocess.run(
        [sys.executable, "-m", "colorgan.cli", "predict", "--ckpt", str(ckpt), "--out", str(out), "--no-progress",
         str(folder / os.fsdecode(b"caf\xe9.jpg")), str(folder / os.fsdecode(b"cass\xe9.jpg"))],
        env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"}, capture_output=True, timeout=300)
    stdout, stderr = result.stdout.decode(), result.stderr.decode()  # strict: what was printed is valid UTF-8
    assert result.returncode == 1 and "Traceback" not in stderr, stderr
    assert os.listdir(os.fsencode(out)) == [b"caf\xe9_color.png"]  # the input's own bytes, with the suffix
    assert stdout.splitlines() == [f"colorgan: wrote {tmp_path}/r\\xe9sultats/caf\\xe9_color.png"]
    (failure,) = [line for line in stderr.splitlines() if line.startswith("colorgan: failed:")]
    assert "photos-\\xe9t\\xe9/cass\\xe9.jpg" in failure


@pytest.fixture
def hinted_export(tmp_path: Path) -> Path:
    """A (random) U-Net with hint channels, exported as safetensors."""
    from colorgan.checkpoint import save_generator_safetensors
    from colorgan.models import UNetGenerator, network_spec

    net = UNetGenerator(base_channels=4, depth=2, max_channels=8, condition_channels=3)
    return save_generator_safetensors(net, tmp_path / "hinted.safetensors",
                                      {"colorgan": json.dumps({"generator": network_spec(net)})})


def test_predict_with_hints_warns_about_those_outside_the_mask(hinted_export: Path, project: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    hints_file = tmp_path / "hints.json"
    hints_file.write_text(json.dumps([{"x": 0.25, "y": 0.1, "color": "orange", "size": 3}]))
    photo = project / "images" / "photo_00.png"  # 48 x 40
    mask = np.zeros((40, 48), np.uint8)
    mask[:, :24] = 255
    Image.fromarray(mask).save(tmp_path / "left.png")
    code = cli.main(["predict", "--ckpt", str(hinted_export), "--out", str(tmp_path / "out"),
                     "--mask", str(tmp_path / "left.png"),
                     "--hint", "2,2,#ff0000", "--hint", "0.9,0.5,blue", "--hints", str(hints_file), "--size", "32",
                     "--no-progress", str(photo)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (tmp_path / "out" / "photo_00_color.png").is_file()
    warnings_said = [line for line in captured.err.splitlines() if "warning" in line]
    assert warnings_said == [f"colorgan: warning: {photo}: hint 0.9,0.5,blue,5 is outside the mask; ignored"]


@pytest.mark.parametrize(("args", "message"), [
    (["--hint", "1,2"], "--hint 1,2: a hint is X,Y,COLOR[,SIZE]"),
    (["--hint", "0.5,2,notacolor"], "--hint 0.5,2,notacolor: unknown color 'notacolor'"),
    (["--hints", "missing.json"], "cannot read hints file missing.json"),
])
def test_predict_bad_hints_exit_2_with_one_line(hinted_export: Path, project: Path, tmp_path: Path, args: list[str],
                                                message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["predict", "--ckpt", str(hinted_export), "--out", str(tmp_path / "out"), *args,
                     str(project / "images" / "photo_00.png")])
    (line,) = error_lines(capsys.readouterr().err)
    assert code == 2 and message in line and not (tmp_path / "out").exists()


def test_predict_hints_with_a_checkpoint_without_hint_channels(ckpt: Path, project: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["predict", "--ckpt", str(ckpt), "--out", str(tmp_path / "out"), "--hint", "1,1,red",
                     str(project / "images" / "photo_00.png")])
    (line,) = error_lines(capsys.readouterr().err)
    assert code == 2 and "trained without hints" in line


def test_predict_spreads_a_hint_beyond_its_patch(hinted_export: Path, project: Path, tmp_path: Path) -> None:
    photo = project / "images" / "photo_00.png"  # 48 x 40
    mask = np.zeros((40, 48), np.uint8)
    mask[:, :24] = 255
    Image.fromarray(mask).save(tmp_path / "left.png")
    outputs = []
    for name, hint in (("plain", []), ("hinted", ["--hint", "12,20,#2040ff,3"])):
        assert cli.main(["predict", "--ckpt", str(hinted_export), "--out", str(tmp_path / name), "--mask",
                         str(tmp_path / "left.png"), *hint, "--size", "40", "--no-progress", str(photo)]) == 0
        outputs.append(np.asarray(Image.open(tmp_path / name / "photo_00_color.png"), dtype=np.int16))
    plain, hinted = outputs
    away = np.zeros((40, 48), bool)
    away[:, :24] = True
    away[15:26, 7:18] = False  # more than 3 pixels from the hint's 3 x 3 patch
    blueness = [float((image[..., 2] - image[..., 0])[away].mean()) for image in (plain, hinted)]
    assert blueness[0] < 0 < 60 < blueness[1]  # the random network colors it red; the hint turns all of it blue
    assert np.array_equal(plain[:, 24:], hinted[:, 24:])  # gray outside the mask, with the hint or not
