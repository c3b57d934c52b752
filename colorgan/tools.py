"""``colorgan predict | masks | export``: small argparse commands over :mod:`colorgan.inference` and friends.

Called by :func:`colorgan.cli.main` with ``argv[0]`` the subcommand. A :class:`ColorganError` raised here is
printed by ``cli.main`` as one line with exit code 2; partial failures of ``predict`` return 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from colorgan.checkpoint import export_generator, find_latest_checkpoint, load_generator
from colorgan.errors import ColorganError
from colorgan.inference import colorize_files, resolve_device
from colorgan.masks import LIBRARY, write_library

__all__ = ["main"]


def _predict_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorgan predict", description="Colorize photos where a mask is white; the rest stays exactly gray. "
        "Writes OUT/<name><suffix>.png and never replaces an input.")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files, folders (recursive) or globs")
    parser.add_argument("--ckpt", help="checkpoint (.ckpt) or export (.safetensors); default: newest under runs/")
    parser.add_argument("--mask", help="mask image (white = color) or library name (see `colorgan masks`); "
                        "default: color everything")
    parser.add_argument("--invert", action="store_true", help="color where the mask is black instead")
    parser.add_argument("--feather", type=float, default=0.0, metavar="PX",
                        help="soften the mask edge over PX pixels on each side (default 0: hard edge)")
    parser.add_argument("--threshold", type=float, metavar="T",
                        help="binarize the mask at T (>= T is color); default: gray values blend")
    parser.add_argument("--out", default="colorized", metavar="DIR", help="output folder (default: colorized)")
    parser.add_argument("--suffix", default="_color",
                        help="appended to each output name (default: _color; write --suffix=-x for a leading -)")
    parser.add_argument("--size", type=int, default=256, metavar="N",
                        help="short side the network works at (default 256); the output keeps the input size")
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"],
                        help="default: auto (the GPU when there is one)")
    parser.add_argument("--batch-size", type=int, default=1, metavar="B",
                        help="images of one size colorized together (default 1)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for torch (default: one per core; 1 is faster on a machine busy with "
                        "other work)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def predict(argv: Sequence[str]) -> int:
    """``colorgan predict``: 0 when every input was written, 1 when some failed (one stderr line each)."""
    args = _predict_parser().parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            raise ColorganError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    ckpt = args.ckpt
    if ckpt is None:
        ckpt = find_latest_checkpoint()
        print(f"colorgan: using the newest checkpoint {ckpt} (pass --ckpt to choose)", file=sys.stderr)
    generator, _ = load_generator(ckpt, resolve_device(args.device))

    def report(source: str, reason: str) -> None:
        tqdm.write(f"colorgan: failed: {source}: {reason}", file=sys.stderr)  # tqdm.write keeps the bar intact

    summary = colorize_files(args.inputs, mask=args.mask, out_dir=args.out, suffix=args.suffix, invert=args.invert,
                             feather=args.feather, size=args.size, batch_size=args.batch_size, generator=generator,
                             threshold=args.threshold, progress=not args.no_progress, on_failure=report)
    written = len(summary.written)
    if written == 1:
        print(f"colorgan: wrote {summary.written[0][1]}")
    else:
        print(f"colorgan: wrote {written} image{'s' * (written != 1)} to {args.out}")
    if summary.failed:
        print(f"colorgan: {len(summary.failed)} input{'s' * (len(summary.failed) != 1)} failed (listed above)",
              file=sys.stderr)
        return 1
    return 0


def masks(argv: Sequence[str]) -> int:
    """``colorgan masks [--write DIR [--size N | H W] [NAME ...]]``: list or render the mask library."""
    parser = argparse.ArgumentParser(prog="colorgan masks", description="List the mask library, or write it as PNGs "
                                     "(255 = color, 0 = gray). Library names work directly as --mask.")
    parser.add_argument("names", nargs="*", metavar="NAME", help="masks to write (default: all)")
    parser.add_argument("--write", metavar="DIR", help="write PNGs into DIR")
    parser.add_argument("--size", nargs="+", default=["256"], metavar="N", help="N (square) or H W; default 256")
    args = parser.parse_args(argv)
    # argparse cannot take "one or two" values, so --size swallows the names after it: hand those back.
    count = next((i for i, token in enumerate(args.size) if not token.isdigit()), len(args.size))
    sizes, names = [int(token) for token in args.size[:count]], args.size[count:] + args.names
    if not 1 <= len(sizes) <= 2 or min(sizes) < 1:
        parser.error("--size takes one or two positive integers: N or H W")
    if args.write is None:
        if names:
            parser.error("NAME arguments need --write DIR")
        print("\n".join(LIBRARY))
        return 0
    height, width = sizes if len(sizes) == 2 else sizes * 2
    unknown = [name for name in names if Path(name).stem not in LIBRARY]
    if unknown:
        raise ColorganError(f"no library mask named {', '.join(unknown)}; choose from: {', '.join(LIBRARY)}")
    for path in write_library(args.write, height, width, names or None):
        print(path)
    return 0


def export(argv: Sequence[str]) -> int:
    """``colorgan export --ckpt C [--format onnx|safetensors] OUT``: the EMA generator with its config."""
    parser = argparse.ArgumentParser(prog="colorgan export", description="Export a checkpoint's EMA generator with "
                                     "its config as metadata. ONNX: inputs L, mask (B, 1, H, W) -> output ab "
                                     "(B, 2, H, W), normalized Lab, any batch and size.")
    parser.add_argument("out", metavar="OUT", help="output file")
    parser.add_argument("--ckpt", required=True, help="the checkpoint (.ckpt) to export")
    parser.add_argument("--format", choices=["onnx", "safetensors"],
                        help="default: from OUT's extension (.onnx or .safetensors)")
    args = parser.parse_args(argv)
    fmt = args.format or {".onnx": "onnx", ".safetensors": "safetensors"}.get(Path(args.out).suffix.lower())
    if fmt is None:
        parser.error("pass --format onnx|safetensors, or name OUT *.onnx or *.safetensors")
    print(f"colorgan: wrote {export_generator(args.ckpt, args.out, fmt)}")
    return 0


def _evaluate(argv: Sequence[str]) -> int:
    from colorgan.evaluation import main as evaluate_main  # imported on use: it pulls in torchmetrics and lpips

    return evaluate_main(argv)


COMMANDS = {"predict": predict, "masks": masks, "export": export, "evaluate": _evaluate}


def main(argv: Sequence[str]) -> int:
    """Run ``argv[0]`` (one of :data:`COMMANDS`) with the remaining arguments; returns the exit code."""
    if not argv or argv[0] not in COMMANDS:
        raise ColorganError(f"unknown tool {argv[0] if argv else ''!r}; choose one of: {', '.join(COMMANDS)}")
    try:
        return COMMANDS[argv[0]](list(argv[1:]))
    except SystemExit as exit_:  # argparse's usage errors and --help: an exit code, not an exception, for cli.main
        return 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 2
