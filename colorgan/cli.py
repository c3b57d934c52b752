"""``colorgan`` command line: LightningCLI for fit/validate/test, small argparse tools for the rest.

Everything here parses arguments and calls importable functions; no training or image logic lives here.
"""

from __future__ import annotations

import netrc
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import LightningCLI

from colorgan.callbacks import LogColorizations, LoggerSaveConfigCallback
from colorgan.data import ColorizationDataModule
from colorgan.errors import ColorganError
from colorgan.module import ColorGAN

TOOLS = ("predict", "masks", "export", "evaluate")
"""Subcommands that are not LightningCLI's (LightningCLI's predict cannot take image paths)."""

__all__ = ["ColorGANCLI", "main"]


class ColorGANCLI(LightningCLI):
    """LightningCLI with colorgan's defaults: sample grids and checkpoints always on, bf16 on capable GPUs,
    ``--ckpt_path last`` continuing the newest run of the config in its own folder."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {name: keys for name, keys in LightningCLI.subcommands().items() if name != "predict"}

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_lightning_class_args(LogColorizations, "samples")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True})

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand]
        trainer = config.trainer
        if trainer.precision is None:
            trainer.precision = "bf16-mixed" if _bf16_gpu(trainer.accelerator) else "32-true"
        if config.get("ckpt_path") == "last":
            _resume_last(config)


def _bf16_gpu(accelerator: Any) -> bool:
    return (isinstance(accelerator, str) and accelerator in ("auto", "gpu", "cuda")
            and torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _csv_logger(config: Any) -> Any | None:
    loggers = config.trainer.logger
    for logger in loggers if isinstance(loggers, list) else [loggers]:
        if getattr(logger, "class_path", "").endswith("CSVLogger"):
            return logger
    return None


def _resume_last(config: Any) -> None:
    """Point ``ckpt_path: last`` at the newest ``last.ckpt`` of this config's runs and reuse that run's folder.

    A fresh CSVLogger version would otherwise start an empty folder where Lightning finds no ``last.ckpt``.
    """
    logger = _csv_logger(config)
    if logger is None:
        return  # Lightning's own lookup applies
    args = logger.init_args
    root = Path(args.save_dir) / (args.get("name") or "lightning_logs")
    candidates = sorted(root.glob("version_*/checkpoints/last*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise ColorganError(f"--ckpt_path last: no last.ckpt under {root}/version_*/checkpoints; run fit first")
    newest = candidates[-1]
    version = re.fullmatch(r"version_(\d+)", newest.parent.parent.name)
    args.version = int(version.group(1)) if version else newest.parent.parent.name
    # CSVLogger deletes an existing metrics.csv when it reopens a folder: keep the earlier legs' metrics aside.
    metrics = newest.parent.parent / "metrics.csv"
    if metrics.is_file():
        index = 0
        while (kept := metrics.with_name(f"metrics.{index}.csv")).exists():
            index += 1
        metrics.rename(kept)
    config.ckpt_path = str(newest)
    # ... which also makes Lightning's "folder exists and is not empty" warnings expected here, not alarming
    warnings.filterwarnings("ignore", message=r".*exists and is not empty.*")
    print(f"colorgan: resuming from {newest}", file=sys.stderr)


def _wandb_offline_without_key() -> None:
    """Without a W&B API key, log offline (``wandb sync`` uploads later) instead of prompting for a login."""
    if "WANDB_MODE" in os.environ or os.environ.get("WANDB_API_KEY"):
        return
    try:
        logged_in = netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        logged_in = False
    if not logged_in:
        os.environ["WANDB_MODE"] = "offline"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``colorgan`` command; ``argv`` defaults to ``sys.argv[1:]``."""
    from_shell = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in TOOLS:
            from colorgan import tools

            return tools.main(argv)
        _wandb_offline_without_key()
        ColorGANCLI(ColorGAN, ColorizationDataModule, args=None if from_shell else argv, auto_configure_optimizers=False,
                    save_config_callback=LoggerSaveConfigCallback, save_config_kwargs={"overwrite": True},
                    parser_kwargs={"description": "Train and evaluate mask-conditioned colorization GANs. "
                                   "Also: colorgan predict | masks | export | evaluate (see colorgan predict --help)."})
    except Exception as error:
        # jsonargparse wraps errors raised while instantiating the config's classes (a refused option, missing
        # pretrained weights) in its own ValueError; the user should see colorgan's one line, not that traceback.
        cause = _colorgan_error(error)
        if cause is None:
            raise
        print(f"colorgan: error: {cause}", file=sys.stderr)
        return 2
    finally:
        _finish_wandb_run()
    return 0


def _colorgan_error(error: BaseException) -> ColorganError | None:
    """The ColorganError in ``error``'s chain of causes, if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ColorganError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _finish_wandb_run() -> None:
    """Close the W&B run of this command (WandbLogger leaves it open), so the next in-process run starts its own."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


if __name__ == "__main__":
    sys.exit(main())
