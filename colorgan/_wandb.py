"""Weights & Biases helpers shared by the CLI, training and evaluation. wandb is imported only when a run starts."""

from __future__ import annotations

import netrc
import os
import sys
from typing import Any

__all__ = ["active_run", "finish_run", "offline_without_key", "start_run"]


def offline_without_key() -> bool:
    """True when W&B should log offline: no ``WANDB_MODE`` chosen, no ``WANDB_API_KEY`` and no ``wandb login``.

    Offline runs land under the run folder and ``wandb sync`` uploads them later, instead of a login prompt.
    """
    if "WANDB_MODE" in os.environ or os.environ.get("WANDB_API_KEY"):
        return False
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is None
    except (FileNotFoundError, netrc.NetrcParseError):
        return True


def active_run() -> Any | None:
    """The W&B run of this process, if wandb is imported and a run is active (never imports wandb itself)."""
    wandb = sys.modules.get("wandb")
    return getattr(wandb, "run", None) if wandb is not None else None


def start_run(job_type: str, config: dict[str, Any]) -> Any:
    """A new W&B run in project ``$WANDB_PROJECT`` (default ``colorgan``), offline when there is no key.

    The mode is passed to ``wandb.init``, not written to ``os.environ``: a library call changes no process state.
    """
    import wandb

    mode = "offline" if offline_without_key() else None
    return wandb.init(project=os.environ.get("WANDB_PROJECT", "colorgan"), job_type=job_type, config=config,
                      mode=mode)


def finish_run() -> None:
    """Close this process's W&B run (WandbLogger leaves it open), so the next in-process run starts its own."""
    run = active_run()
    if run is not None:
        sys.modules["wandb"].finish()
