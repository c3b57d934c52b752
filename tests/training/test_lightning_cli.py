"""The training CLI end to end, in-process (and one multi-process DDP run)."""

import csv
import os
import re
import signal
import socket
import subprocess
import sys
import warnings
from argparse import Namespace
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, make_image_folder, make_messy_folder

from colorgan.cli import main
from colorgan.training.data import ColorizationDataModule
from colorgan.training.lightning_cli import _device_count, configs_dir, resolve_config_args, run
from colorgan.training.module import ColorGAN

TINY = str(CONFIGS / "tiny.yaml")


def _metrics(run: Path) -> dict[str, list[float]]:
    return _metrics_file(run / "metrics.csv")


def _metrics_file(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: [float(r[key]) for r in rows if r.get(key)] for key in rows[0]}


@pytest.mark.parametrize("loss", ["lsgan", "wgan-gp", "hinge", "vanilla"])
def test_fit_two_steps_for_each_loss(loss, image_dir, workdir):
    assert main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), "--model.adversarial_loss", loss]) == 0
    run = workdir / "runs" / "tiny" / "version_0"
    metrics = _metrics(run)
    assert len(metrics["train/d_loss"]) == 2 and all(map(lambda v: v == v, metrics["train/d_loss"]))  # no NaN
    assert metrics["val/leak"] == [0.0] and metrics["val/psnr"][0] > 5
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "samples" / "epoch=0000.png").is_file()
    config = (run / "config.yaml").read_text()
    assert f"adversarial_loss: {loss}" in config


def test_fit_with_the_image_cache_on_the_device(image_dir, workdir, monkeypatch):
    # as on a GPU host with many cores, where Lightning advises DataLoader workers that index batches do not need
    monkeypatch.setattr("pytorch_lightning.trainer.connectors.data_connector.suggested_max_num_workers", lambda n: 8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), "--data.cache_images", "device"]) == 0
    messages = [str(w.message) for w in caught]
    assert any("'val_dataloader' does not have many workers" in m for m in messages)  # the advice is on ...
    assert not any("'train_dataloader' does not have many workers" in m for m in messages)  # ... but not here
    run = workdir / "runs" / "tiny" / "version_0"
    metrics = _metrics(run)
    assert len(metrics["train/d_loss"]) == 2 and metrics["val/leak"] == [0.0]
    assert "cache_images: device" in (run / "config.yaml").read_text()


def test_resume_continues_the_last_run_in_place(image_dir, workdir, capsys):
    assert main(["fit", "--config", TINY, "--data.data_dir", str(image_dir)]) == 0
    run = workdir / "runs" / "tiny" / "version_0"
    first = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), "--trainer.max_epochs", "2",
                 "--ckpt_path", "last"]) == 0
    assert "resuming from" in capsys.readouterr().err
    assert not (workdir / "runs" / "tiny" / "version_1").exists()  # same folder, not a new run
    second = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert (first["epoch"], second["epoch"]) == (0, 1)
    # the first leg's metrics are kept beside the new ones, not deleted by the logger
    assert len(_metrics(run)["train/d_loss"]) == 2 and len(_metrics(run)["val/psnr"]) == 1
    assert (run / "metrics.0.csv").is_file() and len(_metrics_file(run / "metrics.0.csv")["train/d_loss"]) == 2
    assert second["global_step"] == 2 * first["global_step"]  # continued, not restarted
    assert second["colorgan"]["ema_updates"] == 2 * first["colorgan"]["ema_updates"]


def test_resume_without_a_run_is_a_clear_error(image_dir, workdir, capsys):
    assert main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), "--ckpt_path", "last"]) == 2
    err = capsys.readouterr().err
    assert "no last.ckpt" in err and "Traceback" not in err


@pytest.mark.parametrize("good", [0, 2], ids=["only-bad-files", "bad-training-files"])
def test_photos_that_do_not_decode_in_loader_workers_are_one_line(good, tmp_path, workdir, capfd):
    """Truncated JPEGs pass screening (headers only) and fail when a DataLoader worker decodes them: the worker's
    ColorganError reaches the main process with the worker's traceback in its message."""
    truncated = (make_messy_folder(tmp_path / "messy") / "truncated.jpg").read_bytes()
    folder = make_image_folder(tmp_path / "images", count=good)
    for i in range(8):
        (folder / f"bad_{i}.jpg").write_bytes(truncated)

    def only_bad_files_train(seed: int) -> bool:  # the good photos all validate: training has nothing to decode
        dm = ColorizationDataModule(str(folder), image_size=32, val_fraction=0.2, split_seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dm.setup("fit")
        return bool(dm.train_files) and all(f.name.startswith("bad_") for f in dm.train_files)

    seed = next(s for s in range(20) if only_bad_files_train(s)) if good else 0
    capfd.readouterr()
    assert main(["fit", "--config", TINY, "--data.data_dir", str(folder), "--data.num_workers", "2",
                 "--data.val_fraction", "0.2", "--data.split_seed", str(seed)]) == 2
    err = capfd.readouterr().err
    assert "Traceback" not in err and "worker" not in err, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("colorgan: error:")]
    assert len(errors) == 1 and re.fullmatch(r"colorgan: error: none of the \d+ images could be decoded", errors[0])


def test_print_config_and_typo_in_loss(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--config", TINY, "--print_config"])
    assert "class_path: colorgan.models.unet.UNetGenerator" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", TINY, "--model.adversarial_loss", "wgan"])
    assert exit_info.value.code != 0


def _headline(data_dir: Path) -> list[str]:
    """configs/flowers_masks.yaml shrunk to seconds: same data path, masks, losses and loggers."""
    return ["fit", "--config", str(CONFIGS / "flowers_masks.yaml"), "--data.data_dir", str(data_dir),
            "--data.image_size", "32", "--data.num_workers", "0", "--data.batch_size", "2",
            "--model.generator.init_args.decoder_channels", "[4, 8]",
            "--model.discriminator.init_args.base_channels", "4", "--model.discriminator.init_args.num_layers", "2",
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
            "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false",
            "--trainer.check_val_every_n_epoch", "1", "--trainer.log_every_n_steps", "1"]


def test_headline_config_offline_fails_with_the_data_message(workdir, capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", offline)
    assert main(_headline(workdir / "data")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("colorgan: error: Oxford Flowers 102 not found and cannot be downloaded")
    assert "flowers-102/jpg" in err[-1] and not any("Traceback" in line for line in err)


def test_headline_config_trains_on_flowers_files_in_place_with_wandb_offline(workdir):
    make_image_folder(workdir / "data" / "flowers-102" / "jpg", count=8, size=(40, 40))
    assert main(_headline(workdir / "data")) == 0
    run = workdir / "runs" / "flowers_masks" / "version_0"
    assert (run / "checkpoints" / "last.ckpt").is_file() and _metrics(run)["val/leak"] == [0.0]
    # W&B ran offline (no API key in tests): a local run folder that `wandb sync` can upload later
    (offline_run,) = (workdir / "runs" / "wandb").glob("offline-run-*")
    assert list(offline_run.glob("run-*.wandb"))
    images = list(offline_run.glob("files/media/images/val/samples_*.png"))
    assert images, "sample grid logged to W&B"
    saved = (offline_run / "files" / "colorgan-config.yaml").read_text()  # the resolved config, saved with the run
    assert "dataset: flowers102" in saved and "class_path: colorgan.models.encoder_unet.UNetEncoderGenerator" in saved


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(image_dir, workdir):
    more = make_image_folder(image_dir, count=16, size=(40, 40), seed=3)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "colorgan.cli", "fit", "--config", TINY, "--data.data_dir", str(more),
               "--trainer.devices", "2", "--model.adversarial_loss", "wgan-gp"]  # the DDP strategy is colorgan's pick
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MEMBER: 2/2" in result.stderr + result.stdout
    checkpoint = torch.load(workdir / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 4  # 2 batches per process, D + G step each, in lockstep


@pytest.mark.parametrize(("devices", "accelerator", "expected"), [
    (1, "auto", 1), ("2", "cpu", 2), ("0,1,3", "gpu", 3), ([0, 1], "gpu", 2), ("auto", "cpu", 1), (-1, "cpu", 1),
])
def test_device_count_for_the_ddp_choice(devices, accelerator, expected):
    trainer = Namespace(devices=devices, accelerator=accelerator)
    assert _device_count(trainer) == expected


# --- --config NAME: the bundled configs ----------------------------------------------------------------------------


def test_bundled_config_names_resolve_to_the_configs_folder(workdir):
    assert configs_dir() == CONFIGS  # a source checkout; a wheel has them in colorgan/configs
    quickstart = str(CONFIGS / "quickstart.yaml")
    assert resolve_config_args(["fit", "--config", "quickstart"]) == ["fit", "--config", quickstart]
    assert resolve_config_args(["fit", "-c", "quickstart.yaml"]) == ["fit", "-c", quickstart]
    assert resolve_config_args(["fit", "--config=flowers_masks", "--trainer.max_epochs", "1"]) == [
        "fit", f"--config={CONFIGS / 'flowers_masks.yaml'}", "--trainer.max_epochs", "1"]


def test_config_paths_and_inline_yaml_pass_unchanged(workdir):
    (workdir / "quickstart.yaml").write_text("trainer: {max_epochs: 3}\n")  # an existing file wins over the name
    for args in (["fit", "--config", "quickstart.yaml"], ["fit", "--config", TINY], [f"--config={TINY}"],
                 ["fit", "-c", "trainer: {max_epochs: 1}"], ["fit", "--data.data_dir", "quickstart"]):
        assert resolve_config_args(args) == args


def test_config_equals_name_runs_the_bundled_config(workdir, capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--config=quickstart", "--print_config"])
    assert "name: quickstart" in capsys.readouterr().out


def test_config_name_from_the_shell_without_the_args_warning(workdir, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["colorgan", "fit", "--config", "tiny", "--print_config"])
    with warnings.catch_warnings(record=True) as caught, pytest.raises(SystemExit):
        warnings.simplefilter("always")
        run()
    assert "name: tiny" in capsys.readouterr().out
    assert not any("args parameter" in str(w.message) for w in caught)


def test_unknown_config_name_is_one_line_listing_the_bundled_ones(workdir, capsys):
    assert main(["fit", "--config", "quikstart"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    names = ", ".join(["quickstart", "flowers_masks"] + sorted(
        p.stem for p in CONFIGS.glob("*.yaml") if p.stem not in ("quickstart", "flowers_masks")))
    assert line == f"colorgan: error: no config named quikstart; bundled configs: {names}"


def test_missing_config_file_points_at_the_bundled_name(workdir, capsys):
    assert main(["fit", "--config", "configs/flowers_masks.yaml"]) == 2  # the README's path, outside a clone
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "configs/flowers_masks.yaml does not exist; --config flowers_masks picks the bundled one" in line


def _last(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)


def test_fit_saves_last_at_the_final_step_between_periodic_checkpoints(image_dir, workdir):
    # checkpoints every 2 epochs, 3 epochs: Lightning alone leaves last.ckpt at epoch 1
    assert main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), "--trainer.max_epochs", "3",
                 "--trainer.check_val_every_n_epoch", "2", "--checkpoint.every_n_epochs", "2"]) == 0
    run = workdir / "runs" / "tiny" / "version_0"
    last = _last(run)
    assert (last["epoch"], last["global_step"]) == (2, 3 * 2 * 2)  # 2 batches of 2 optimizer steps each epoch
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch=1-step=8.ckpt", "last.ckpt"]
    # the final checkpoint resumes as finished: one more epoch trains one epoch
    assert main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), "--trainer.max_epochs", "4",
                 "--ckpt_path", "last"]) == 0
    assert (_last(run)["epoch"], _last(run)["global_step"]) == (3, 4 * 2 * 2)


def test_resume_with_other_checkpoint_flags_overwrites_last(image_dir, workdir):
    assert main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), "--trainer.max_epochs", "2",
                 "--checkpoint.every_n_epochs", "5"]) == 0
    run = workdir / "runs" / "tiny" / "version_0"
    assert main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), "--trainer.max_epochs", "3",
                 "--ckpt_path", "last"]) == 0
    assert not list((run / "checkpoints").glob("last-v*.ckpt"))
    assert (_last(run)["epoch"], _last(run)["global_step"]) == (2, 3 * 2 * 2)


def test_ctrl_c_saves_last_at_the_interrupted_step(image_dir, workdir, monkeypatch):
    def interrupt(module, batch, batch_idx):
        if module.global_step == 6:  # between batches: the second batch of the second epoch
            raise KeyboardInterrupt

    monkeypatch.setattr(ColorGAN, "on_train_batch_start", interrupt, raising=False)
    with pytest.raises(SystemExit) as exit_info:  # Lightning's graceful shutdown ends with exit status 1
        main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), "--trainer.max_epochs", "3",
              "--checkpoint.every_n_epochs", "5"])
    assert exit_info.value.code == 1
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning ignores Ctrl-C from then on
    checkpoints = workdir / "runs" / "tiny" / "version_0" / "checkpoints"
    last = torch.load(checkpoints / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (1, 6)
    assert [p.name for p in checkpoints.iterdir()] == ["last.ckpt"]  # no partial file left behind


def test_ctrl_c_between_the_two_optimizer_steps_keeps_the_previous_last(image_dir, workdir, monkeypatch):
    def interrupt(module, optimizer):
        if module.global_step == 9:  # the discriminator stepped, the generator not yet: no consistent state
            raise KeyboardInterrupt

    monkeypatch.setattr(ColorGAN, "on_before_optimizer_step", interrupt, raising=False)
    with pytest.raises(SystemExit), pytest.warns(UserWarning, match="inside a training step"):
        main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), "--trainer.max_epochs", "3",
              "--checkpoint.every_n_epochs", "2", "--trainer.check_val_every_n_epoch", "2"])
    signal.signal(signal.SIGINT, signal.default_int_handler)
    checkpoints = workdir / "runs" / "tiny" / "version_0" / "checkpoints"
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["global_step"] == 8


def test_fit_with_hints_and_a_generator_without_hint_channels(image_dir, workdir, capsys):
    assert main(["fit", "--config", TINY, "--config", "hints", "--data.data_dir", str(image_dir)]) == 0
    run = workdir / "runs" / "tiny" / "version_0"
    metrics = _metrics(run)
    assert len(metrics["train/g_l1"]) == 2 and metrics["val/leak"] == [0.0]
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert checkpoint["colorgan"]["generator"]["init_args"]["condition_channels"] == 3
    assert checkpoint["hyper_parameters"]["hints"] is True
    capsys.readouterr()
    assert main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), "--model.hints", "true"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("colorgan: error: model.hints is true, but the generator takes 0 condition channels")
    assert "\n" not in err


@pytest.mark.parametrize("mode", ["disabled", "", "offline"])
def test_fit_logs_to_wandb_in_every_mode(mode, image_dir, workdir):
    """A W&B logger in the config, as the shipped configs have: offline keeps the config with the run, and
    WANDB_MODE=disabled (or set empty) trains without one. In a fresh process, as a user runs it: wandb keeps
    its settings per process, so an earlier in-process run would hide what a first one does."""
    overlay = workdir / "wandb.yaml"
    overlay.write_text("trainer:\n  logger:\n    - class_path: pytorch_lightning.loggers.WandbLogger\n"
                       "      init_args: {save_dir: runs, project: colorgan, name: tiny}\n")
    env = {**os.environ, "WANDB_MODE": mode}
    if mode != "offline":  # wandb then names a run folder in its default place, which it never creates
        env.pop("WANDB_DIR", None)
    result = subprocess.run([sys.executable, "-m", "colorgan.cli", "fit", "--config", TINY, "--config", str(overlay),
                             "--data.data_dir", str(image_dir)], cwd=workdir, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    if mode == "offline":
        saved = list(workdir.glob("**/files/colorgan-config.yaml"))
        assert len(saved) == 1 and "UNetGenerator" in saved[0].read_text()
