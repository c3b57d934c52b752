"""Logging that lives outside the LightningModule: sample grids and the resolved config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import SaveConfigCallback
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only
from torchvision.utils import make_grid, save_image

from colorgan.color import lab_norm_to_rgb
from colorgan.evaluation import report
from colorgan.evaluation.report import EvaluationResult

__all__ = ["LogColorizations", "LoggerSaveConfigCallback", "TestReport", "colorization_grid"]


def colorization_grid(L: torch.Tensor, mask: torch.Tensor, pred_ab: torch.Tensor,  # noqa: N803
                      true_ab: torch.Tensor) -> torch.Tensor:
    """One row per image: input gray | mask | prediction | truth (colored inside the mask). Returns (3, H', W')."""
    gray = lab_norm_to_rgb(L, torch.zeros_like(pred_ab))
    columns = [gray, mask.float().expand(-1, 3, -1, -1), lab_norm_to_rgb(L, pred_ab),
               lab_norm_to_rgb(L, true_ab * mask)]
    tiles = torch.stack(columns, dim=1).flatten(0, 1)  # (B * 4, 3, H, W), row-major
    return make_grid(tiles, nrow=len(columns), padding=2, pad_value=1.0)


class LogColorizations(pl.Callback):
    """After each validation epoch, colorize the first validation images with the EMA generator.

    The grid goes to ``<log_dir>/samples/epoch=NNNN.png`` and, with a :class:`WandbLogger`, to the run as
    ``val/samples``. Only the global-zero process does this.

    Args:
        num_images: how many validation images to show.
        every_n_epochs: log every n-th validation epoch.
    """

    def __init__(self, num_images: int = 8, every_n_epochs: int = 1) -> None:
        self.num_images, self.every_n_epochs = num_images, every_n_epochs
        self._batch: dict[str, torch.Tensor] | None = None
        self._folder: Path | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # trainer.log_dir is a collective call under DDP: ask on every rank here, never from rank zero alone
        self._folder = Path(trainer.log_dir or trainer.default_root_dir) / "samples"

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                                batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        if batch_idx == 0 and dataloader_idx == 0 and trainer.is_global_zero and not trainer.sanity_checking:
            n = self.num_images
            self._batch = {"L": batch["L"][:n], "mask": batch["mask"][:n], "ab": batch["ab"][:n],
                           "pred_ab": outputs["ab"][:n]}

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        batch, self._batch = self._batch, None
        if batch is None or trainer.current_epoch % self.every_n_epochs:
            return
        self._log(trainer, colorization_grid(batch["L"], batch["mask"], batch["pred_ab"], batch["ab"]).cpu())

    @rank_zero_only
    def _log(self, trainer: pl.Trainer, grid: torch.Tensor) -> None:
        assert self._folder is not None, "setup() runs before validation"
        self._folder.mkdir(parents=True, exist_ok=True)
        save_image(grid, self._folder / f"epoch={trainer.current_epoch:04d}.png")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key="val/samples", images=[grid], step=trainer.global_step,
                                 caption=["gray | mask | prediction | truth"])


class TestReport(pl.Callback):
    """After ``colorgan test``: the model's per-family scores beside the gray and mean-color baselines
    (:meth:`ColorGAN.on_test_epoch_end`) as a console table, as ``<log_dir>/test_report.json`` and ``.csv``,
    and as the W&B table ``test/scores`` when a W&B run is active. The same report as ``colorgan evaluate``.
    """

    def __init__(self) -> None:
        self._folder: Path | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._folder = Path(trainer.log_dir or trainer.default_root_dir)  # collective under DDP: on every rank

    @rank_zero_only
    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:

        rows = getattr(pl_module, "test_report", None)
        if not rows or self._folder is None:
            return
        mean_ab = getattr(pl_module, "train_mean_ab", None)
        families = [row["family"] for row in rows if row["method"] == "model" and row["family"] != "all"]
        meta = {"checkpoint": trainer.ckpt_path, "families": families,
                "images": next((int(r["images"]) for r in rows if r["method"] == "model" and r["family"] == "all"),
                               None),
                "mean_ab": None if mean_ab is None else mean_ab.tolist(),
                "mean_ab_source": None if mean_ab is None else "training photos"}
        result = EvaluationResult(rows, meta)
        json_path, _ = report.write_files(result, self._folder / "test_report")
        print(report.format_table(result))
        if mean_ab is None:
            print("colorgan: no mean-color baseline: this checkpoint does not record its training photos' mean color")
        print(f"colorgan: test report written to {json_path} and .csv")
        report.log_wandb(result, start=None, key="test")


class LoggerSaveConfigCallback(SaveConfigCallback):
    """Writes the resolved config next to the run (as LightningCLI does) and also into the W&B run: as its config
    (to filter and compare runs) and as ``colorgan-config.yaml`` (to rerun one with ``colorgan fit --config``)."""

    def save_config(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        import yaml

        text = self.parser.dump(self.config, skip_none=False)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                run = logger.experiment
                run.config.update({"config": yaml.safe_load(text)}, allow_val_change=True)  # searchable in the UI
                folder = Path(run.dir)
                if folder.is_dir():  # the file itself, uploaded with the run; WANDB_MODE=disabled runs have none
                    (folder / "colorgan-config.yaml").write_text(text)
