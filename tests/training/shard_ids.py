"""Callbacks that the streaming tests add with ``--trainer.callbacks+=shard_ids.NAME`` (``tests/training`` on the
path): which photos each training batch held, and a Ctrl-C in the middle of an epoch."""

from __future__ import annotations

import os
from typing import Any

import pytorch_lightning as pl


class RecordIds(pl.Callback):
    """Appends ``epoch rank id`` lines to ``path``, one per photo of every training batch that is trained on."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        lines = "".join(f"{trainer.current_epoch} {trainer.global_rank} {i}\n" for i in batch["id"].tolist())
        with open(self.path, "a") as f:  # one write per batch: ranks append whole lines
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())


class InterruptAt(pl.Callback):
    """Before training batch ``batch`` of epoch ``epoch``: a Ctrl-C (KeyboardInterrupt, which saves last.ckpt), or
    with ``kill`` the end of the process as ``kill -9`` would end it (SystemExit(137): nothing more is saved)."""

    def __init__(self, epoch: int, batch: int, kill: bool = False) -> None:
        self.epoch, self.batch, self.kill = epoch, batch, kill

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            raise SystemExit(137) if self.kill else KeyboardInterrupt
