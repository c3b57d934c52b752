"""``colorgan fit | validate | test``: LightningCLI with colorgan's defaults.

Imported by :func:`colorgan.cli.main` only for these subcommands, so the other commands start without Lightning.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.cli import LightningCLI

from colorgan.checkpoint import checkpoint_damage
from colorgan.errors import ColorganError
from colorgan.resources import resource_dir
from colorgan.training.callbacks import LogColorizations, LoggerSaveConfigCallback, TestReport
from colorgan.training.checkpointing import LastCheckpoint
from colorgan.training.data import ColorizationDataModule
from colorgan.training.module import ColorGAN

__all__ = ["ColorGANCLI", "bundled_configs", "config_path", "configs_dir", "resolve_config_args", "run"]

HEADLINE_CONFIGS = ("quickstart", "flowers_masks")
"""Listed first where colorgan names its bundled configs."""
LIGHTNING_CKPT_KEYWORDS = ("best", "hpc", "registry")
"""``ckpt_path`` values that Lightning resolves itself (also as ``registry:...``; ``last`` is colorgan's)."""
_CONFIG_NAME = re.compile(r"[\w.-]+")
_CONFIG_FILE = re.compile(r"[^\s:{}\[\],]+\.ya?ml")


class ColorGANCLI(LightningCLI):
    """LightningCLI with colorgan's defaults: sample grids and checkpoints always on (``last.ckpt`` always at the
    newest step, :class:`~colorgan.training.checkpointing.LastCheckpoint`), bf16 on capable GPUs, DDP
    that tolerates the two optimizers on several devices, ``--ckpt_path last`` continuing the newest run of the
    config in its own folder."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {name: keys for name, keys in LightningCLI.subcommands().items() if name != "predict"}

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_lightning_class_args(LogColorizations, "samples")
        parser.add_lightning_class_args(TestReport, "test_report")
        parser.add_lightning_class_args(LastCheckpoint, "checkpoint")  # last.ckpt: always the newest
        parser.set_defaults({"checkpoint.save_last": True})

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand]
        trainer = config.trainer
        if trainer.precision is None:
            trainer.precision = "bf16-mixed" if _bf16_gpu(trainer.accelerator) else "32-true"
        if trainer.strategy == "auto" and (trainer.num_nodes > 1 or _device_count(trainer) > 1):
            # Lightning's automatic choice is plain DDP, which stops at the first step: the discriminator's step
            # leaves the generator's parameters without gradients and the other way round. On one device, no DDP
            # wrapper at all (the unused-parameter search would cost time every step).
            trainer.strategy = "ddp_find_unused_parameters_true"
        if config.data.get("cache_images") == "device":
            # The loader only batches indices (the crops are cut on the device): no workers to add.
            warnings.filterwarnings("ignore", message=r".*'train_dataloader' does not have many workers.*")
        if config.data.get("dataset") == "streaming":
            # LitData gives each DataLoader worker its own share of the chunks: the length is right, not a risk.
            warnings.filterwarnings("ignore", message=r".*Your `IterableDataset` has `__len__` defined.*")
        if config.get("ckpt_path") == "last":
            _resume_last(config)

    def _parse_ckpt_path(self) -> None:
        # Lightning reads a --ckpt_path file's hyperparameters here, before any hook: a missing or damaged file is
        # one line, not torch's traceback. Remote stores and Lightning's keywords stay Lightning's.
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if (isinstance(ckpt_path, str) and ckpt_path != "last" and "://" not in ckpt_path
                and ckpt_path.split(":", 1)[0] not in LIGHTNING_CKPT_KEYWORDS):
            _check_checkpoint(Path(ckpt_path))
        super()._parse_ckpt_path()


def _bf16_gpu(accelerator: Any) -> bool:
    return (isinstance(accelerator, str) and accelerator in ("auto", "gpu", "cuda")
            and torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _device_count(trainer: Any) -> int:
    """How many devices per node ``trainer.devices`` asks for (``auto`` and -1: all GPUs, or one CPU process)."""
    devices = trainer.devices
    if isinstance(devices, str):
        devices = devices.strip()
        if "," in devices:
            return len([d for d in devices.split(",") if d.strip()])
        devices = -1 if devices == "auto" else int(devices)
    if isinstance(devices, list | tuple):
        return len(devices)
    if devices == -1:
        gpu = trainer.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
        return torch.cuda.device_count() if gpu else 1
    return int(devices)


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
    if (why := checkpoint_damage(newest)) is not None:  # e.g. a kill during a save by colorgan < 0.3
        intact = _newest_intact(newest.parent)
        if intact is None:
            raise ColorganError(f"--ckpt_path last: {newest} is damaged ({why}) and no other checkpoint in its "
                                f"folder is intact; start a new fit")
        print(f"colorgan: {newest} is damaged ({why}); resuming from {intact.name}, the newest intact checkpoint "
              f"beside it", file=sys.stderr)
        newest = intact
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


def _newest_intact(folder: Path) -> Path | None:
    """The most recently written checkpoint in ``folder`` that is intact (see :func:`checkpoint_damage`)."""
    # last.ckpt and a periodic checkpoint of the same step share an mtime: last.ckpt first
    files = sorted((p for p in folder.glob("*.ckpt") if p.is_file()),
                   key=lambda p: (p.stat().st_mtime_ns, p.name.startswith("last")), reverse=True)
    return next((p for p in files if checkpoint_damage(p) is None), None)


def _check_checkpoint(path: Path) -> None:
    """One line instead of Lightning's traceback for a ``--ckpt_path`` that is missing or damaged."""
    if not path.is_file():
        raise ColorganError(f"--ckpt_path {path}: no such file")
    if (why := checkpoint_damage(path)) is not None:
        intact = _newest_intact(path.parent)
        hint = f"the newest intact checkpoint beside it is {intact}" if intact else "no checkpoint beside it is intact"
        raise ColorganError(f"--ckpt_path {path} is damaged ({why}); {hint}")


def configs_dir() -> Path:
    """The folder of bundled configs: ``colorgan/configs`` inside an installed wheel, or ``configs/`` of a source
    checkout."""
    return resource_dir("configs", "configs")


def bundled_configs() -> list[str]:
    """The names that ``--config NAME`` accepts: quickstart and flowers_masks first, the others alphabetically."""
    names = sorted(path.stem for path in configs_dir().glob("*.yaml"))
    return [name for name in HEADLINE_CONFIGS if name in names] + [n for n in names if n not in HEADLINE_CONFIGS]


def config_path(value: str) -> str:
    """``--config``'s value as LightningCLI should see it: a bare name (``quickstart``, ``quickstart.yaml``) that is
    not an existing file becomes the bundled config's path; paths and inline YAML pass unchanged.

    Raises:
        ColorganError: a bare name that no bundled config has, or a ``.yaml`` path that does not exist.
    """
    if Path(value).expanduser().is_file():
        return value
    if _CONFIG_NAME.fullmatch(value):
        name = value.removesuffix(".yaml")
        bundled = configs_dir() / f"{name}.yaml"
        if bundled.is_file():
            return str(bundled)
        raise ColorganError(f"no config named {value}; bundled configs: {', '.join(bundled_configs())}")
    if _CONFIG_FILE.fullmatch(value):  # a path that does not exist (jsonargparse would read it as a YAML string)
        names = bundled_configs()
        stem = Path(value).stem
        hint = f"--config {stem} picks the bundled one; " if stem in names else ""
        raise ColorganError(f"config file {value} does not exist; {hint}bundled configs: {', '.join(names)}")
    return value


def resolve_config_args(args: Sequence[str]) -> list[str]:
    """``args`` with each ``--config X`` / ``--config=X`` / ``-c X`` value passed through :func:`config_path`."""
    resolved: list[str] = []
    tokens = iter(args)
    for token in tokens:
        if token == "--":
            resolved += [token, *tokens]
        elif token in ("--config", "-c"):
            value = next(tokens, None)
            resolved += [token] if value is None else [token, config_path(value)]
        elif token.startswith("--config="):
            resolved.append("--config=" + config_path(token.removeprefix("--config=")))
        else:
            resolved.append(token)
    return resolved


def run(args: Sequence[str] | None = None) -> None:
    """Run ``colorgan fit|validate|test`` on ``args`` (default: ``sys.argv[1:]``, which also enables shell completion
    and jsonargparse's exit-on-error behaviour). ``--config NAME`` picks a bundled config (:func:`config_path`)."""
    given = sys.argv[1:] if args is None else list(args)
    resolved = resolve_config_args(given)
    with warnings.catch_warnings():  # the filters the CLI adds end with the command
        if args is None and resolved != given:
            # sys.argv with the bundled configs' paths in: the same command line, not a second one beside it
            warnings.filterwarnings("ignore", message=r".*LightningCLI's args parameter is intended.*")
        try:
            ColorGANCLI(ColorGAN, ColorizationDataModule,
                        args=None if args is None and resolved == given else resolved, auto_configure_optimizers=False,
                        save_config_callback=LoggerSaveConfigCallback, save_config_kwargs={"overwrite": True},
                        parser_kwargs={"description": "Train and evaluate mask-conditioned colorization GANs. "
                                       f"--config takes a file or a bundled config: {' | '.join(bundled_configs())}. "
                                       "Also: colorgan predict | masks | export | evaluate | prepare (see "
                                       "colorgan predict --help)."})
        except ColorganError as error:
            original = _raised_in_worker(error)
            if original is None:
                raise
            raise original from None


def _raised_in_worker(error: ColorganError) -> ColorganError | None:
    """The error a DataLoader worker raised, as it raised it; None if ``error`` did not come from a worker.

    torch rebuilds a worker's exception in the main process with the worker's whole traceback as its message
    (``Caught ... in DataLoader worker process 0.`` / ``Original Traceback ...``), the last line being the original
    one; the user should see that line, not the traceback.
    """
    message = str(error).rstrip("\n")
    if "\nOriginal Traceback" not in message:
        return None
    last = message.rsplit("\n", 1)[-1]
    return type(error)(last.removeprefix(f"{type(error).__module__}.{type(error).__qualname__}: "))
