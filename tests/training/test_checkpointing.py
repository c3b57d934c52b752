"""Checkpoints under faults: torn files on resume, explicit damaged paths, hidden files left by a kill."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS

from colorgan.checkpoint import checkpoint_damage
from colorgan.cli import main
from colorgan.training.checkpointing import LastCheckpoint
from colorgan.training.module import ColorGAN

TINY = str(CONFIGS / "tiny.yaml")


def _fit(image_dir: Path, *args: str) -> int:
    return main(["fit", "--config", TINY, "--data.data_dir", str(image_dir), *args])


def _step(path: Path) -> int:
    return torch.load(path, weights_only=True)["global_step"]


@pytest.fixture
def run_of_three_epochs(image_dir, workdir) -> Path:
    """A finished 3-epoch fit: ``epoch=1-step=8.ckpt`` and ``last.ckpt`` (step 12) in the returned folder."""
    assert _fit(image_dir, "--trainer.max_epochs", "3", "--checkpoint.every_n_epochs", "2",
                "--trainer.check_val_every_n_epoch", "2") == 0
    checkpoints = workdir / "runs" / "tiny" / "version_0" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch=1-step=8.ckpt", "last.ckpt"]
    return checkpoints


def _tear(path: Path) -> None:
    """What a kill during a plain write leaves: the first half of the file."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_resume_from_a_torn_last_uses_the_newest_intact_checkpoint(run_of_three_epochs, image_dir, capsys):
    _tear(run_of_three_epochs / "last.ckpt")
    assert _fit(image_dir, "--trainer.max_epochs", "4", "--ckpt_path", "last") == 0
    err = capsys.readouterr().err
    assert "last.ckpt is damaged" in err and "resuming from epoch=1-step=8.ckpt" in err and "Traceback" not in err
    assert _step(run_of_three_epochs / "last.ckpt") == 8 + 2 * 2 * 2  # two epochs on from step 8, then intact


def test_resume_when_every_checkpoint_is_torn_is_one_line(run_of_three_epochs, image_dir, capsys):
    for path in run_of_three_epochs.iterdir():
        _tear(path)
    assert _fit(image_dir, "--trainer.max_epochs", "4", "--ckpt_path", "last") == 2
    err = capsys.readouterr().err
    assert "no other checkpoint in its folder is intact" in err and "Traceback" not in err


def test_a_damaged_ckpt_path_names_the_newest_intact_one(run_of_three_epochs, image_dir, capsys):
    _tear(run_of_three_epochs / "last.ckpt")
    assert _fit(image_dir, "--ckpt_path", str(run_of_three_epochs / "last.ckpt")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is damaged" in err and err.endswith("epoch=1-step=8.ckpt")


def test_a_missing_ckpt_path_is_one_line(image_dir, workdir, capsys):
    assert _fit(image_dir, "--ckpt_path", "runs/nothing.ckpt") == 2
    assert "runs/nothing.ckpt: no such file" in capsys.readouterr().err


def test_a_save_cut_off_leaves_last_intact_and_its_hidden_file_is_removed_on_the_next_start(
        run_of_three_epochs, image_dir, monkeypatch):
    def crash_halfway(self, trainer, filepath):  # the process dies while the file is being written
        partial = Path(filepath).with_name(f".{Path(filepath).name}.partial")
        partial.write_bytes(b"PK\x03\x04 half a checkpoint")
        raise SystemExit(137)

    with monkeypatch.context() as patch:
        patch.setattr(LastCheckpoint, "_save_checkpoint", crash_halfway)
        with pytest.raises(SystemExit):
            _fit(image_dir, "--trainer.max_epochs", "4", "--ckpt_path", "last")
    assert [p.name for p in run_of_three_epochs.glob(".*")] == [".epoch=3-step=16.ckpt.partial"]
    last = run_of_three_epochs / "last.ckpt"
    assert checkpoint_damage(last) is None and _step(last) == 12

    assert _fit(image_dir, "--trainer.max_epochs", "5", "--ckpt_path", "last") == 0
    assert not list(run_of_three_epochs.glob(".*")) and _step(run_of_three_epochs / "last.ckpt") == 20


def test_kill_9_during_training_leaves_only_intact_checkpoints(image_dir, workdir):
    """A real SIGKILL at some moment of a fit that saves every epoch: whatever was on disk is complete."""
    command = [sys.executable, "-m", "colorgan.cli", "fit", "--config", TINY, "--data.data_dir", str(image_dir),
               "--trainer.max_epochs", "1000", "--checkpoint.every_n_epochs", "1", "--checkpoint.save_top_k", "-1",
               "--trainer.limit_val_batches", "0"]
    checkpoints = workdir / "runs" / "tiny" / "version_0" / "checkpoints"
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        deadline = time.monotonic() + 120
        while len(list(checkpoints.glob("epoch=*.ckpt"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    saved = [p for p in checkpoints.iterdir() if not p.name.startswith(".")]
    assert len(saved) >= 3 and all(checkpoint_damage(p) is None for p in saved)


@pytest.mark.parametrize("minutes", ["1e-6", "null"])
def test_last_is_saved_every_few_minutes_between_periodic_checkpoints(minutes, image_dir, workdir, monkeypatch):
    def killed(module, batch, batch_idx):
        if module.global_step == 6:  # in the second epoch, long before the periodic checkpoint of epoch 5
            raise SystemExit(137)

    monkeypatch.setattr(ColorGAN, "on_train_batch_start", killed, raising=False)
    with pytest.raises(SystemExit):
        _fit(image_dir, "--trainer.max_epochs", "10", "--checkpoint.every_n_epochs", "5",
             "--checkpoint.last_every_minutes", minutes)
    last = workdir / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt"
    if minutes == "null":  # Lightning's cadence alone: the kill loses everything
        assert not last.exists()
    else:
        assert _step(last) == 6
