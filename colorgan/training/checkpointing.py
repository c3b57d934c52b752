"""``LastCheckpoint``: Lightning's ``ModelCheckpoint`` whose ``last.ckpt`` is always the newest state of the run.

Plain ``ModelCheckpoint(save_last=True)`` writes ``last.ckpt`` only together with a periodic checkpoint, so with
``every_n_epochs: 25`` and 60 epochs it stays at epoch 49; and a resume whose checkpoint flags differ (another
``state_key``, so the callback's state is not restored) finds ``last.ckpt`` taken and writes ``last-v1.ckpt`` beside
it. The README's test and export commands name ``last.ckpt``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from weakref import proxy

from lightning_fabric.utilities.cloud_io import _is_local_file_protocol
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.strategies import DDPStrategy, SingleDeviceStrategy
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities.rank_zero import rank_zero_info, rank_zero_warn

from colorgan.checkpoint import move_into_place

__all__ = ["LastCheckpoint"]

CLOCK_EVERY = 32
"""With several processes, the time for ``last_every_minutes`` is looked at every this many batches."""
PARTIAL = ".partial"
"""Suffix of a checkpoint being written (under a hidden name beside its final one)."""


class LastCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` (same arguments) that, with ``save_last``:

    - saves ``last.ckpt`` when training ends at a step that no checkpoint holds yet (at the end of the final epoch,
      or, where the fit stops otherwise, when training ends);
    - saves ``last.ckpt`` every ``last_every_minutes`` of training (5 by default), between batches;
    - saves ``last.ckpt`` on Ctrl-C (``KeyboardInterrupt``) when the interrupt came between two training batches or
      before the first optimizer step of a batch (the weights then match the saved loop state; after one of a batch's
      two optimizer steps they would not, and ``last.ckpt`` keeps the previous save);
    - overwrites ``last.ckpt`` instead of writing ``last-v1.ckpt`` beside it (the version counter still applies to
      the other checkpoint names);
    - writes each checkpoint file to a hidden name in its folder first, syncs it and renames it into place, so a
      kill never leaves a truncated checkpoint under its name (a temp file elsewhere, e.g. on a tmpfs ``TMPDIR``,
      could not be renamed atomically); the hidden files a kill leaves behind are removed when training starts.
    """

    _batch_end_step = 0  # global_step when the latest training batch ended
    _batches = 0  # training batches since the fit started

    def __init__(self, *args: Any, last_every_minutes: float | None = 5.0, **kwargs: Any) -> None:
        """``last_every_minutes``: also save ``last.ckpt`` at the end of the first training batch that ends this
        many minutes after the previous save (None: never), so a kill loses at most that much training however
        long an epoch is. Lightning's own ``train_time_interval`` is ignored under manual optimization, which
        ColorGAN uses. The other arguments are ``ModelCheckpoint``'s."""
        super().__init__(*args, **kwargs)
        if last_every_minutes is not None and last_every_minutes <= 0:
            raise ValueError(f"last_every_minutes must be positive or None, got {last_every_minutes}")
        self.last_every_minutes = last_every_minutes
        self._last_save_time = time.monotonic()

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        super().on_train_start(trainer, pl_module)
        self._batch_end_step = trainer.global_step
        self._last_save_time = time.monotonic()
        self._batches = 0  # training batches since the fit started
        if trainer.is_global_zero and self.dirpath and _is_local_file_protocol(self.dirpath):
            for partial in Path(self.dirpath).glob(f".*{self.FILE_EXTENSION}{PARTIAL}"):  # left by a killed save
                partial.unlink(missing_ok=True)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._batch_end_step = trainer.global_step
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        self._batches += 1
        # With several processes rank 0's clock decides, so that all ranks save together; that broadcast is a host
        # sync, so it is asked only every CLOCK_EVERY batches (the same batches on every rank).
        if (self.last_every_minutes is None or not self._last_is_stale(trainer)
                or (trainer.world_size > 1 and self._batches % CLOCK_EVERY)):
            return
        due = time.monotonic() - self._last_save_time >= 60 * self.last_every_minutes
        if trainer.strategy.broadcast(due):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        # the final epoch: saved as the periodic checkpoints are (and resumed the same way)
        last_epoch = trainer.max_epochs not in (None, -1) and trainer.current_epoch + 1 >= trainer.max_epochs
        last_step = trainer.max_steps not in (None, -1) and trainer.global_step >= trainer.max_steps
        if self._last_is_stale(trainer) and (last_epoch or last_step or trainer.should_stop):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self._last_is_stale(trainer):  # the fit stopped otherwise (max_time, ...)
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        else:
            super().on_train_end(trainer, pl_module)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        super().on_exception(trainer, pl_module, exception)  # save_on_exception: Lightning's own save
        if not isinstance(exception, KeyboardInterrupt) or not self._last_is_stale(trainer):
            return
        if trainer.global_step != self._batch_end_step:
            rank_zero_warn(f"Interrupted inside a training step (step {trainer.global_step}): not saving last.ckpt, "
                           f"which stays at step {self._last_global_step_saved}.")
            return
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        rank_zero_info(f"Interrupted: saved {self.last_model_path} at step {trainer.global_step}.")

    def _last_is_stale(self, trainer: Any) -> bool:
        return (bool(self.save_last) and not trainer.fast_dev_run and not trainer.sanity_checking
                and trainer.state.fn == TrainerFn.FITTING and trainer.global_step > self._last_global_step_saved)

    def _save_last_checkpoint(self, trainer: Any, monitor_candidates: dict[str, Any]) -> None:
        # Lightning versions the last file only when another run's last.ckpt is there (its own is last_model_path).
        counter, self._enable_version_counter = self._enable_version_counter, False
        try:
            super()._save_last_checkpoint(trainer, monitor_candidates)
        finally:
            self._enable_version_counter = counter

    def _save_checkpoint(self, trainer: Any, filepath: str) -> None:
        if not (_is_local_file_protocol(filepath) and type(trainer.strategy) in (SingleDeviceStrategy, DDPStrategy)):
            super()._save_checkpoint(trainer, filepath)  # sharded checkpoints are folders; remote stores: as is
            return
        head, name = os.path.split(filepath)
        partial = os.path.join(head, f".{name}{PARTIAL}")
        trainer.save_checkpoint(partial, self.save_weights_only)
        if trainer.is_global_zero:
            move_into_place(partial, filepath)
        trainer.strategy.barrier("LastCheckpoint._save_checkpoint")
        self._last_save_time = time.monotonic()
        # the rest as in ModelCheckpoint._save_checkpoint, once the file has its name
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))
