"""Time :func:`colorgan.propagation.propagate_hints` for one image at several working sizes (CPU or CUDA).

    python benchmarks/propagation_time.py [--sizes 64 128 256 512] [--hints 10] [--threads 1] [--device cpu]

The photo is random smooth lightness with 10 hints of 5 px; the median of ``--repeat`` runs after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F  # noqa: N812

from colorgan.hints import sample_hints
from colorgan.propagation import propagate_hints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--hints", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print("| working size | ms per image |")
    print("|--:|--:|")
    for size in args.sizes:
        generator = torch.Generator().manual_seed(0)
        L = F.interpolate(torch.rand(1, 1, size // 8, size // 8, generator=generator), size=(size, size),  # noqa: N806
                          mode="bicubic").clamp(0, 1).mul(2).sub(1).to(device)
        ab = (torch.rand(1, 2, size, size, generator=generator) - 0.5).to(device)
        mask = torch.ones(1, 1, size, size, device=device)
        condition = sample_hints(ab, mask, count=args.hints, sizes=(5,))
        times = []
        for _ in range(args.repeat + 1):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            propagate_hints(L, torch.zeros_like(ab), condition, mask)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        print(f"| {size} | {1000 * statistics.median(times[1:]):.1f} |")


if __name__ == "__main__":
    main()
