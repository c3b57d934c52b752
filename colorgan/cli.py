"""``colorgan`` command line: dispatches to LightningCLI (fit/validate/test) or to :data:`colorgan.commands.COMMANDS`.

Everything here parses arguments and calls importable functions; no training or image logic lives here. Lightning
is imported only for fit/validate/test, so ``colorgan predict`` starts in the time torch takes to import. This is
the one place that changes process state (environment, warning filters) for the user's convenience.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from colorgan import _wandb
from colorgan.errors import ColorganError, printable

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``colorgan`` command; ``argv`` defaults to ``sys.argv[1:]``."""
    from_shell = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("WANDB_MODE") == "":  # set but empty, as `WANDB_MODE= colorgan ...`: wandb refuses it, so unset
        del os.environ["WANDB_MODE"]
    try:
        from colorgan.commands import COMMANDS, run

        if argv and argv[0] in COMMANDS:
            return run(argv)
        if _wandb.offline_without_key():
            # WandbLogger is built by the config, so the choice travels through the environment: log offline
            # (`wandb sync` uploads later) instead of prompting for a login.
            os.environ["WANDB_MODE"] = "offline"
        from colorgan.training import lightning_cli

        lightning_cli.run(None if from_shell else argv)
    except Exception as error:
        # jsonargparse wraps errors raised while instantiating the config's classes (a refused option, missing
        # pretrained weights) in its own ValueError; the user should see colorgan's one line, not that traceback.
        cause = _colorgan_error(error)
        if cause is None:
            raise
        print(printable(f"colorgan: error: {cause}"), file=sys.stderr)
        return 2
    finally:
        _wandb.finish_run()
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


if __name__ == "__main__":
    sys.exit(main())
