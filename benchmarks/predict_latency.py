"""Latency and memory of ``colorgan predict`` on the CPU; prints a markdown table.

    python benchmarks/predict_latency.py                 # quickstart architecture, random weights
    python benchmarks/predict_latency.py --ckpt runs/quickstart/version_0/checkpoints/last.ckpt

Rows:
- ``colorize_tensor``: the colorization alone (tensor in, tensor out) for square photos of each size;
- ``file``: what ``colorgan predict`` does per image (``colorize_files``): decode a JPEG, colorize, write the PNG;
- ``batch``: ``colorize_files`` over 100 photos, with the resident memory after 10 and after 100 images
  (flat memory means they are about equal).

Latency is the median of ``--runs`` runs after one warm-up, as wall-clock and as process CPU time (steadier on
a shared machine). Random weights time about the same as trained ones; they may leave sRGB more often, which costs
the gamut step a little more.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from machine import cpu_name
from PIL import Image

from colorgan.checkpoint import load_generator, save_generator_safetensors
from colorgan.inference import colorize_files, colorize_tensor, prepare_mask
from colorgan.models import UNetGenerator

QUICKSTART = dict(base_channels=16, depth=4, max_channels=128, norm="batch")
"""configs/quickstart.yaml's generator."""


def rss_mb() -> float:
    """Current resident memory of this process in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def photo(height: int, width: int, seed: int) -> Image.Image:
    """A smooth random color photo (JPEG-like content without the dataset)."""
    coarse = torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(seed))
    field = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)[0]
    field = field + 0.03 * torch.randn(field.shape, generator=torch.Generator().manual_seed(seed))  # some texture
    return Image.fromarray(field.clamp(0, 1).mul(255).byte().permute(1, 2, 0).numpy())


def timed(fn, runs: int) -> tuple[float, float]:  # noqa: ANN001
    """Median wall-clock and median process CPU seconds of ``fn()`` over ``runs`` runs after one warm-up.

    CPU time (all threads) does not count time spent waiting for other processes, so on a shared machine it
    is the steadier number; with one thread it approximates the wall time on an idle machine.
    """
    fn()  # warm-up: first-call allocations and kernel selection
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", help="checkpoint or export to time (default: quickstart architecture, random)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--size", type=int, default=256, help="working short side (predict's --size)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--batch", type=int, default=100, help="images in the batch row")
    parser.add_argument("--batch-image", type=int, nargs=2, default=[384, 512], metavar=("H", "W"))
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.ckpt:
        generator, info = load_generator(args.ckpt)
        model = f"{info['generator']['class_path']} {info['generator']['init_args']} from {args.ckpt}"
    else:  # random weights, loaded the way `colorgan predict` loads a checkpoint
        torch.manual_seed(0)
        spec = {"class_path": "colorgan.models.unet.UNetGenerator", "init_args": QUICKSTART}
        with tempfile.TemporaryDirectory() as tmp:
            path = save_generator_safetensors(UNetGenerator(**QUICKSTART), Path(tmp) / "random.safetensors",
                                              {"colorgan": json.dumps({"generator": spec})})
            generator, _ = load_generator(path)
        model = f"UNetGenerator {QUICKSTART} (quickstart architecture, random weights)"

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for side in args.sizes:
            image = photo(side, side, seed=side)
            rgb = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)[None].float() / 255
            mask = prepare_mask("stripes", side, side)
            tensor_times = timed(lambda: colorize_tensor(generator, rgb, mask, args.size), args.runs)  # noqa: B023
            source = tmp / f"photo_{side}.jpg"
            image.save(source, quality=92)

            def one_file() -> None:
                summary = colorize_files([source], mask="stripes", generator=generator, size=args.size,  # noqa: B023
                                         out_dir=tmp / "out", progress=False, overwrite=True)
                assert summary.ok

            file_times = timed(one_file, args.runs)
            rows.append((f"{side}x{side}", *tensor_times, *file_times, peak_rss_mb()))

        height, width = args.batch_image
        batch_dir = tmp / "batch"
        batch_dir.mkdir()
        for i in range(args.batch):
            photo(height, width, seed=1000 + i).save(batch_dir / f"img_{i:03d}.jpg", quality=92)
        files = sorted(batch_dir.iterdir())
        common = dict(mask="stripes", generator=generator, size=args.size, progress=False)
        start, start_cpu = time.perf_counter(), time.process_time()
        first = colorize_files(files[:10], out_dir=tmp / "out", **common)
        rss_10 = rss_mb()
        rest = colorize_files(files[10:], out_dir=tmp / "out", **common)
        rss_100 = rss_mb()
        elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        assert first.ok and rest.ok and len(first.written) + len(rest.written) == args.batch

    print(f"Machine: {cpu_name()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads; "
          f"torch {torch.__version__}; {date.today().isoformat()}; load average at the end {os.getloadavg()[0]:.1f} "
          f"(other processes sharing the CPUs inflate the times)")
    print(f"Model: {model}; working size {args.size} (short side); mask: stripes\n")
    print("| photo | colorize_tensor: wall s (CPU s) | predict one file: wall s (CPU s) | peak RSS (MiB) |")
    print("|---|---|---|---|")
    for name, tensor_s, tensor_cpu, file_s, file_cpu, peak in rows:
        print(f"| {name} | {tensor_s:.3f} ({tensor_cpu:.3f}) | {file_s:.3f} ({file_cpu:.3f}) | {peak:.0f} |")
    print(f"\n| batch of {args.batch} JPEGs {height}x{width} | total: wall s (CPU s) | per image: wall s | "
          f"RSS after 10 (MiB) | RSS after {args.batch} (MiB) | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    print(f"| colorize_files | {elapsed:.1f} ({elapsed_cpu:.1f}) | {elapsed / args.batch:.3f} | {rss_10:.0f} | "
          f"{rss_100:.0f} | {peak_rss_mb():.0f} |")


if __name__ == "__main__":
    main()
