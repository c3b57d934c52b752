"""``colorgan`` command line: dispatches to LightningCLI (fit/validate/test) or the small argparse tools.

Everything here parses arguments and calls importable functions; no training or image logic lives here. Lightning
is imported only for fit/validate/test, so ``colorgan predict`` starts in the time torch takes to import.
"""

from __future__ import annotations

import netrc
import os
import sys
from collections.abc import Sequence

from colorgan.errors import ColorganError

TOOLS = ("predict", "masks", "export", "evaluate")
"""Subcommands that are not LightningCLI's (LightningCLI's predict cannot take image paths)."""

__all__ = ["main"]


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
        from colorgan import lightning_cli

        lightning_cli.run(None if from_shell else argv)
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
