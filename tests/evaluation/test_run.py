"""The evaluation protocol, the baselines, LPIPS/FID availability and `colorgan evaluate` end to end."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import socket
import sys
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from conftest import CONFIGS, make_image_folder
from PIL import Image

from colorgan import cli
from colorgan.evaluation import perceptual, report
from colorgan.evaluation.protocol import PROTOCOL_FAMILIES, ProtocolDataset, protocol_mask
from colorgan.evaluation.run import evaluate
from colorgan.images import ImageFolderDataset
from colorgan.masks import MaskSampler
from colorgan.models import PatchDiscriminator, UNetGenerator
from colorgan.training.data import ColorizationDataModule
from colorgan.training.module import ColorGAN


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict[str, float]], list[Path]]:
    """(image folder, tiny checkpoint, trainer.test results, validation files) after a 1-batch fit."""
    root = tmp_path_factory.mktemp("evaluation")
    images = make_image_folder(root / "images", count=8, size=(40, 48))
    model = ColorGAN(UNetGenerator(base_channels=4, depth=3, max_channels=16),
                     PatchDiscriminator(base_channels=4, num_layers=2, max_channels=16))
    data = ColorizationDataModule(str(images), image_size=32, batch_size=2, num_workers=0, val_fraction=0.25)
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, data)
    ckpt = root / "tiny.ckpt"
    trainer.save_checkpoint(ckpt)
    results = trainer.test(model, data, verbose=False)
    return images, ckpt, results, data.val_files


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty torch hub (TORCH_HOME) and no network: any connection attempt fails the test."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_protocol_masks_are_fixed_per_file_name_and_family():
    for family in PROTOCOL_FAMILIES:
        mask = protocol_mask("a.jpg", family, 24, 32)
        assert mask.shape == (1, 24, 32) and set(mask.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(mask, protocol_mask("a.jpg", family, 24, 32))  # the same in every run
    assert protocol_mask("a.jpg", "full", 8, 8).min() == 1 and protocol_mask("a.jpg", "empty", 8, 8).max() == 0
    differs = [not torch.equal(protocol_mask("a.jpg", f, 32, 32), protocol_mask("b.jpg", f, 32, 32))
               for f in ("stripes", "rectangles", "blobs", "brush")]
    assert all(differs)
    assert not torch.equal(protocol_mask("a.jpg", "blobs", 32, 32), protocol_mask("a.jpg", "blobs", 32, 32, seed=1))


def test_protocol_masks_of_names_that_are_not_utf8_are_seeded_by_their_bytes():
    latin1 = os.fsdecode(b"caf\xe9.jpg")  # from a Latin-1 system: Python holds the byte as a lone surrogate
    # UTF-8 names keep the masks published numbers were computed with (crc32 of the UTF-8 text); the rest are
    # seeded the same way by their raw bytes
    for name, raw in [("a.jpg", b"a.jpg"), ("caf\u00e9.jpg", "caf\u00e9.jpg".encode()), (latin1, b"caf\xe9.jpg")]:
        for family in ("stripes", "blobs"):
            seed = zlib.crc32(b"0/" + family.encode() + b"/" + raw)
            expected = MaskSampler({family: 1.0})(1, 32, 32, "cpu", torch.Generator().manual_seed(seed))[0]
            assert torch.equal(protocol_mask(name, family, 32, 32), expected)


def test_protocol_dataset_pairs_every_image_with_every_family(image_dir):
    files = sorted(image_dir.iterdir())[:3]
    pairs = ProtocolDataset(ImageFolderDataset(files, 16, train=False), [f.name for f in files])
    assert len(pairs) == 3 * len(PROTOCOL_FAMILIES)
    item = pairs[len(PROTOCOL_FAMILIES) + 2]  # second image, third family
    assert int(item["item"]) == 1 and PROTOCOL_FAMILIES[int(item["family"])] == PROTOCOL_FAMILIES[2]
    assert torch.equal(item["mask"][0].float(), protocol_mask(files[1].name, PROTOCOL_FAMILIES[2], 16, 16)[0])
    reordered = ProtocolDataset(ImageFolderDataset(files[::-1], 16, train=False), [f.name for f in files[::-1]])
    assert torch.equal(reordered[2]["mask"], pairs[2 * len(PROTOCOL_FAMILIES) + 2]["mask"])  # keyed by name


def test_baselines_gray_and_mean_color_on_a_constant_photo(tmp_path, offline):
    folder = tmp_path / "constant"
    folder.mkdir()
    Image.fromarray(np.full((20, 20, 3), (200, 100, 50), np.uint8)).save(folder / "orange.png")
    result = evaluate(folder, size=16, families=["full", "stripes", "empty"], thumbnails=0)
    assert {r["method"] for r in result.rows} == {"gray", "mean_color"}
    for row in result.rows:
        assert row["leak"] == 0.0
        if row["method"] == "gray":
            assert row["colorfulness"] == 0.0
    mean_full = result.row("mean_color", "full")
    # the set's mean color is the photo's own: back in RGB it is (200, 100, 50), whose M = 0.3 * sqrt(100^2 + 100^2)
    assert mean_full["colorfulness"] == pytest.approx(0.3 * math.hypot(100, 100), abs=0.05)
    assert mean_full["psnr"] > 60 and result.row("gray", "full")["psnr"] < 25
    assert result.row("gray", "empty")["psnr"] == 100.0  # identical images: the documented cap
    assert math.isnan(result.row("gray", "full")["seam"]) and result.row("gray", "stripes")["seam"] < 0
    assert result.meta["mean_ab_lab"][0] > 10 and result.meta["mean_ab_lab"][1] > 10  # orange: a*, b* > 0


def test_missing_lpips_weights_give_one_line_without_network(offline, monkeypatch):
    reason = perceptual.lpips_unavailable()
    assert reason is not None and "\n" not in reason
    assert str(offline / "alexnet-owt-7be5be79.pth") in reason
    with pytest.raises(FileNotFoundError, match="AlexNet weights not found"):
        perceptual.load_lpips()
    fid = perceptual.fid_unavailable()
    assert fid is not None and "\n" not in fid and "weights-inception-2015-12-05-6726825d.pth" in fid
    monkeypatch.setattr(perceptual.importlib.util, "find_spec", lambda name: object())  # "torch-fidelity installed"
    assert perceptual.fid_unavailable().startswith(f"FID unavailable: Inception weights not found at {offline}")


def test_lpips_loads_alexnet_from_the_local_file_only(offline):
    import torchvision

    offline.mkdir(parents=True)
    features = torchvision.models.alexnet().features.state_dict()  # random stand-in with the real layout
    torch.save({f"features.{k}": v for k, v in features.items()}, offline / perceptual.ALEXNET_FILE)
    assert perceptual.lpips_unavailable() is None
    lpips = perceptual.load_lpips()
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    assert lpips(x, x, normalize=True).abs().max() < 1e-6 and (lpips(x, y, normalize=True) > 0).all()
    assert torch.equal(lpips.net.slice1[0].weight, features["0.weight"])


def test_evaluate_command_writes_json_and_csv_with_per_family_rows(trained, tmp_path, offline, capsys):
    images, ckpt, _, _ = trained
    out = tmp_path / "results.json"
    code = cli.main(["evaluate", "--ckpt", str(ckpt), "--size", "32", "--out", str(out), "--no-progress",
                     str(images)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(out.read_text())
    groups = ["all", *PROTOCOL_FAMILIES]
    assert [(r["method"], r["family"]) for r in data["rows"]] == [(m, g) for m in ("model", "gray", "mean_color")
                                                                   for g in groups]
    assert all(r["leak"] == 0.0 for r in data["rows"]) and data["meta"]["pairs"] == 8 * len(PROTOCOL_FAMILIES)
    assert data["rows"][0]["lpips"] is None and "LPIPS unavailable" in data["meta"]["unavailable"]["lpips"]
    with open(tmp_path / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(data["rows"]) and {"psnr", "ssim", "psnr_mask", "seam", "leak"} <= set(rows[0])
    assert "mean_color" in captured.out and "checkerboard" in captured.out
    assert sum("unavailable" in line for line in captured.err.splitlines()) == 2  # LPIPS and FID, a line each


def test_evaluate_folder_and_files_named_in_latin1(trained, tmp_path, offline, capsys):
    images, ckpt, _, _ = trained
    folder = tmp_path / os.fsdecode(b"photos-\xe9t\xe9")
    shutil.copytree(images, folder)
    (folder / "photo_00.png").rename(folder / os.fsdecode(b"caf\xe9.png"))
    out = tmp_path / os.fsdecode(b"r\xe9sultats.json")
    # capsys's streams are strict UTF-8, like a pipe's: printing a surrogate would raise
    code = cli.main(["evaluate", "--ckpt", str(ckpt), "--size", "32", "--out", str(out), "--no-perceptual",
                     "--no-progress", str(folder)])
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.err
    assert "r\\xe9sultats.json" in captured.out.splitlines()[-1]
    meta = json.loads(out.read_text())["meta"]
    assert meta["images"] == 8 and meta["image_dir"].endswith("photos-\\xe9t\\xe9")


def test_evaluate_on_the_validation_files_matches_colorgan_test(trained, tmp_path, offline):
    _, ckpt, results, val_files = trained
    folder = tmp_path / "val"
    folder.mkdir()
    for file in val_files:
        shutil.copy(file, folder / file.name)
    result = evaluate(folder, ckpt, size=32, thumbnails=0, perceptual=False)
    for family in ("stripes", "library", "full"):
        row = result.row("model", family)
        for score in ("psnr", "ssim", "colorfulness", "leak"):
            assert row[score] == pytest.approx(results[0][f"test/{family}/{score}"], abs=1e-4), (family, score)
    assert result.row("model")["psnr"] == pytest.approx(results[0]["test/psnr"], abs=1e-4)
    # both baselines too: the mean color comes from the checkpoint's training photos in both
    assert result.meta["mean_ab_source"] == "training photos"
    for method in ("gray", "mean_color"):
        for score in ("psnr", "ssim", "colorfulness", "seam"):
            expected = results[0][f"baseline/{method}/all/{score}"]
            assert result.row(method)[score] == pytest.approx(expected, abs=1e-4), (method, score)


def test_colorgan_test_reports_the_model_beside_both_baselines(trained, workdir, capsys):
    images, ckpt, _, _ = trained
    argv = ["test", "--config", str(CONFIGS / "tiny.yaml"), "--data.data_dir", str(images), "--ckpt_path", str(ckpt)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    table = [line.split() for line in out.splitlines() if line.split()[:1] in (["model"], ["gray"], ["mean_color"])]
    assert [row[:2] for row in table[:3]] == [["model", "all"], ["gray", "all"], ["mean_color", "all"]]
    (report,) = (workdir / "runs" / "tiny").glob("version_*/test_report.json")
    data = json.loads(report.read_text())
    assert {r["method"] for r in data["rows"]} == {"model", "gray", "mean_color"}
    gray = next(r for r in data["rows"] if r["method"] == "gray" and r["family"] == "all")
    assert gray["colorfulness"] == 0.0 and gray["leak"] == 0.0 and gray["images"] == 2 * len(PROTOCOL_FAMILIES)
    assert data["meta"]["mean_ab_source"] == "training photos"
    assert report.with_suffix(".csv").is_file()


def test_colorgan_test_without_a_training_mean_reports_gray_only(trained, workdir, tmp_path, capsys):
    images, ckpt, _, _ = trained
    checkpoint = torch.load(ckpt, weights_only=True)
    for key in ("train_ab_sum", "train_mean_ab"):  # as checkpoints of colorgan 0.1 were written
        del checkpoint["colorgan"][key]
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    argv = ["test", "--config", str(CONFIGS / "tiny.yaml"), "--data.data_dir", str(images), "--ckpt_path", str(old)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "no mean-color baseline" in out
    assert any(line.startswith("gray") for line in out.splitlines())
    assert not any(line.startswith("mean_color") for line in out.splitlines())


def test_evaluate_logs_tables_with_thumbnails_into_an_active_wandb_run(trained, tmp_path, monkeypatch, offline):
    logged: dict[str, object] = {}
    fake = types.SimpleNamespace(
        Table=lambda columns, data: {"columns": columns, "data": data}, Image=lambda array: ("image", array.shape),
        run=types.SimpleNamespace(log=logged.update, summary={}))
    monkeypatch.setitem(sys.modules, "wandb", fake)
    images, ckpt, _, _ = trained
    evaluate(images, ckpt, size=32, families=["stripes", "full"], thumbnails=3)
    scores, samples = logged["evaluate/scores"], logged["evaluate/samples"]
    assert scores["columns"][:3] == ["method", "family", "images"] and len(scores["data"]) == 3 * 3
    assert samples["columns"] == ["file", "family", "mask", "gray input", "model", "gray", "mean_color", "truth"]
    assert len(samples["data"]) == 3 and samples["data"][0][2] == ("image", (32, 32, 3))
    assert fake.run.summary["evaluate/model/leak"] == 0.0


def test_evaluate_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["evaluate", "--ckpt", str(tmp_path / "none.ckpt"), str(tmp_path)]) == 2
    assert cli.main(["evaluate", "--baselines-only", str(tmp_path / "missing")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("colorgan: error:")]
    assert len(errors) == 2 and "does not exist" in errors[0] and "missing does not exist" in errors[1]


def _truncated_jpeg(path: Path) -> Path:
    """A JPEG cut in half: its header is intact (screening passes it), its pixels do not decode."""
    buffer = io.BytesIO()
    noise = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, "JPEG")  # noisy: long scan data, so half of it is a truncated image
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


def test_evaluate_skips_a_decompression_bomb_and_scores_the_rest(tmp_path, offline, monkeypatch, capsys):
    folder = make_image_folder(tmp_path / "images", count=3, size=(40, 48))  # 1920 pixels each
    bomb = folder / "huge.png"
    Image.new("RGB", (96, 80), (200, 100, 50)).save(bomb)  # 7680 pixels: over twice the limit below
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # stands in for a 14000x14000 photo at Pillow's limit
    out = tmp_path / "results.json"
    with pytest.warns(UserWarning, match=f"skipping {bomb}: .*decompression bomb"):
        code = cli.main(["evaluate", "--baselines-only", "--no-perceptual", "--no-progress", "--size", "32",
                         "--out", str(out), str(folder)])
    assert code == 0, capsys.readouterr().err
    data = json.loads(out.read_text())
    assert data["meta"]["images"] == 3 and data["meta"]["pairs"] == 3 * len(PROTOCOL_FAMILIES)
    assert all(row["images"] == 3 for row in data["rows"] if row["family"] != "all")


def test_evaluate_counts_each_good_image_once_beside_a_truncated_file(tmp_path, offline):
    families = ["full", "stripes", "blobs"]
    good = make_image_folder(tmp_path / "good", count=3, size=(40, 48))
    messy = make_image_folder(tmp_path / "messy", count=3, size=(40, 48))  # the same three photos
    broken = _truncated_jpeg(messy / "photo_00b.jpg")  # sorts between the good ones
    expected = evaluate(good, size=32, families=families, thumbnails=0, perceptual=False)
    with pytest.warns(UserWarning, match=f"skipping {broken}"):
        result = evaluate(messy, size=32, families=families, thumbnails=0, perceptual=False)
    assert result.meta["images"] == 3 and result.meta["pairs"] == 3 * len(families)
    assert result.meta["mean_ab"] == pytest.approx(expected.meta["mean_ab"])  # fit on the good photos only
    for method in ("gray", "mean_color"):
        assert result.row(method)["images"] == 3 * len(families)
        for family in families:
            row = result.row(method, family)
            assert row["images"] == 3, (method, family)
            for score in ("psnr", "ssim", "colorfulness"):
                assert row[score] == pytest.approx(expected.row(method, family)[score]), (method, family, score)


class GlobalHintColor(torch.nn.Module):
    """A stand-in hinted generator: the mean ab of all hinted pixels, everywhere in the mask (gray without hints)."""

    condition_channels = 3

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))
        self.seen: list[torch.Tensor] = []

    def forward(self, L, mask, condition):  # noqa: N803
        self.seen.append(condition[:, 2].clone())
        total = condition[:, :2].sum(dim=(2, 3), keepdim=True)
        return total / condition[:, 2:].sum(dim=(2, 3), keepdim=True).clamp_min(1.0) * mask


def test_evaluate_with_hints_scores_a_reproducible_curve(tmp_path, offline, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for i, color in enumerate([(200, 40, 40), (40, 160, 60), (50, 80, 210)]):  # one color each: hints tell it all
        Image.new("RGB", (40, 40), color).save(images / f"flat_{i}.png")
    # spread=False: the model sees the hints (spread, it runs without them and they correct its output)
    kwargs = dict(size=32, baselines=False, perceptual=False, hints=[5, 1], families=["blobs", "full"], spread=False)
    first, second = GlobalHintColor(), GlobalHintColor()
    result = evaluate(images, generator=first, **kwargs)
    assert result.meta["hint_methods"] == {"model": 0, "model+1 hint": 1, "model+5 hints": 5}
    psnr = [result.row(m)["psnr_mask"] for m in ("model", "model+1 hint", "model+5 hints")]
    assert psnr[0] + 10 < psnr[1] <= psnr[2]  # gray without hints; the color itself with any
    assert all(r["leak"] == 0 for r in result.rows)
    evaluate(images, generator=second, batch_size=2, **kwargs)
    for method in range(3):  # each batch calls the model at 0, 1 and 5 hints in turn
        assert torch.equal(torch.cat(first.seen[method::3]), torch.cat(second.seen[method::3]))  # fixed seeds,
    with_one, with_five = first.seen[1], first.seen[2]  # whatever the batching; and nested
    assert with_one.sum() > 0 and (with_one <= with_five).all()
    shares = [result.row(m)["hinted_share"] for m in ("model", "model+1 hint", "model+5 hints")]
    assert shares[0] == 0 < shares[1] <= shares[2] < 1
    assert result.row("model")["psnr_unhinted"] == result.row("model")["psnr_mask"]
    curve = report.format_hint_curve(result).splitlines()
    assert curve[0].split() == ["hints", "PSNR-in", "PSNR-unhinted", "hinted", "|dCF|", "leak"]
    assert [c.split()[0] for c in curve[1:]] == ["0", "1", "5"]
    assert "PSNR-unhinted" in report.format_table(result)
    assert "PSNR-unhinted" not in report.format_table(evaluate(images, generator=first, size=32, perceptual=False))
    assert evaluate(images, generator=GlobalHintColor(), **{**kwargs, "spread": True}).row("model+5 hints")[
        "psnr_mask"] > psnr[0] + 10  # spread from the network's hint-free output, one color per photo


class HintedPatchesOnly(torch.nn.Module):
    """A stand-in hinted generator that colors the hinted pixels with their hint and nothing else (what a network
    trained with hints on few photos comes close to)."""

    condition_channels = 3

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, L, mask, condition):  # noqa: N803
        return condition[:, :2] * mask


def test_evaluate_spreads_hints_over_their_regions(tmp_path, offline):
    images = tmp_path / "images"
    images.mkdir()
    for i, (left, right) in enumerate([((130, 20, 20), (140, 190, 250)), ((30, 90, 30), (250, 230, 120))]):
        photo = Image.new("RGB", (48, 48), left)  # two flat halves, one dark, one light, of different colors
        photo.paste(Image.new("RGB", (24, 48), right), (24, 0))
        photo.save(images / f"halves_{i}.png")
    kwargs = dict(size=48, baselines=False, perceptual=False, hints=[10], families=["full"])
    alone = evaluate(images, generator=HintedPatchesOnly(), spread=False, **kwargs).row("model+10 hints")
    spread = evaluate(images, generator=HintedPatchesOnly(), **kwargs)
    assert spread.meta["hint_spread"] is True
    spread_row = spread.row("model+10 hints")
    assert spread_row["hinted_share"] == alone["hinted_share"] > 0
    # the patches alone leave most of the mask gray; spread, each half takes its hints' color, edge to edge
    assert spread_row["psnr_unhinted"] > alone["psnr_unhinted"] + 8 > 20
    assert spread_row["leak"] == 0


def test_evaluate_hints_need_a_hinted_model(trained, tmp_path, offline, capsys):
    images, ckpt, *_ = trained
    assert cli.main(["evaluate", str(images), "--ckpt", str(ckpt), "--hints", "1,5", "--no-perceptual",
                     "--out", str(tmp_path / "e.json")]) == 2
    assert "trained without hints" in capsys.readouterr().err
    assert cli.main(["evaluate", str(images), "--ckpt", str(ckpt), "--hints", "1,x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "colorgan: error: --hints takes whole numbers separated by commas, like 1,2,5, got 1,x"
