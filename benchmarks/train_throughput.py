"""Training throughput (images/s) and peak memory of the headline model; prints a markdown table.

    python benchmarks/train_throughput.py                                  # GPU: 256 px, batch 16 vs 12
    python benchmarks/train_throughput.py --image-size 128 --batch-size 4 --plain-batch-size 4 --steps 3   # CPU

Two ways of training the same networks (``--config``'s model, default configs/flowers_masks.yaml) with the same
objective (:class:`colorgan.training.objectives.GANObjective`), each in its own subprocess (so peak memory is its
own), on synthetic uint8 photos held in memory:

- ``colorgan``: ``Trainer.fit`` of :class:`colorgan.ColorGAN` as configured (manual optimization, EMA,
  ``self.log`` every step, bf16-mixed on a bf16 GPU) with ``limit_train_batches``; batches go through
  :meth:`ColorizationDataModule.on_after_batch_transfer` (flips, masks and Lab batched on the device).
- ``plain``: what one writes by hand: a DataLoader that converts each item to Lab and draws its mask on the CPU
  (per item, like the original mask-GAN code), then an fp32 eager loop with D and G steps (no EMA, and D's
  weight gradients are computed in the G step too, since nobody toggles ``requires_grad`` by hand).

``--count-syncs`` counts, over the timed steps of ``colorgan``, what makes the host wait for the device (see
:class:`HostSyncs`) and names the lines it comes from; ``--compile`` records dynamo's graph breaks and graphs.

Each timed window runs from the start of the first step after ``--warmup`` to the end of the last one (CUDA is
synchronized only there), so data loading between steps counts. FLOPs per image are those of one D step plus
one G step as ColorGAN runs them (torch.utils.flop_counter, on the meta device: no compute), and the share of
the ceiling is achieved FLOP/s over the device's dense bf16 peak from :data:`PEAK_TFLOPS` (n/a on CPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import torch
import yaml
from machine import cpu_name
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode

from colorgan.checkpoint import build_network
from colorgan.color import rgb_to_lab_norm
from colorgan.hints import HINT_CHANNELS, generate, sample_hints, takes_hints
from colorgan.masks import MaskSampler
from colorgan.training.objectives import GANObjective

REPO = Path(__file__).resolve().parents[1]
PEAK_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.1, "L4": 121.0, "A10": 125.0}
"""Dense bf16 tensor-core peaks (TFLOP/s, SXM where there are variants), matched against the CUDA device name."""


def load_config(path: Path, loss: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model section with ``loss`` applied, data section) of a colorgan fit config."""
    config = yaml.safe_load(path.read_text())
    model = dict(config["model"])
    if loss:
        model["adversarial_loss"] = loss
    return model, config.get("data", {})


def synthetic_images(count: int, size: int) -> torch.Tensor:
    """(count, 3, size, size) uint8 noise photos: content does not change the work of a step."""
    return torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def objective_of(model_cfg: dict[str, Any]) -> GANObjective:
    """The config's objective, as ColorGAN builds it from the same keys."""
    keys = ("adversarial_loss", "adversarial_weight", "l1_weight", "l2_weight", "gp_weight")
    return GANObjective(**{k: model_cfg[k] for k in keys if k in model_cfg})


def step(generator: torch.nn.Module, discriminator: torch.nn.Module, objective: GANObjective, L: torch.Tensor,  # noqa: N803
         ab: torch.Tensor, mask: torch.Tensor, opts: tuple[Any, Any] | None, toggle: bool) -> None:
    """One D step and one G step of ``objective``; ``toggle`` freezes D's weights in the G step (as ColorGAN does).

    A generator built for hints gets hints drawn from the truth on the device, as ColorGAN draws them; the
    discriminator sees them when it was built for them too.
    """
    condition = sample_hints(ab, mask) if takes_hints(generator) else None
    judged = condition if takes_hints(discriminator) else None
    fake = generate(generator, L, mask, condition)
    d_loss, _ = objective.discriminator_loss(discriminator, L, ab, fake, mask, judged)
    d_loss.backward()
    if opts:
        opts[1].step()
        opts[1].zero_grad(set_to_none=True)
    discriminator.requires_grad_(not toggle)
    g_loss, _ = objective.generator_loss(discriminator, L, ab, fake, mask, judged)
    g_loss.backward()
    discriminator.requires_grad_(True)
    if opts:
        opts[0].step()
        opts[0].zero_grad(set_to_none=True)
        opts[1].zero_grad(set_to_none=True)  # the untoggled G step left gradients in D


def flops_per_image(model_cfg: dict[str, Any], size: int) -> dict[str, float]:
    """FLOPs per image of G forward, D forward and a whole training step (D step + G step), counted on meta."""
    with torch.device("meta"):
        generator, discriminator = build_network(model_cfg["generator"]), build_network(model_cfg["discriminator"])
        L, ab, mask = torch.zeros(1, 1, size, size), torch.zeros(1, 2, size, size), torch.ones(1, 1, size, size)  # noqa: N806
        counts = {}
        condition = torch.zeros(1, HINT_CHANNELS, size, size) if takes_hints(generator) else None
        for name, run in {"generator forward": lambda: generate(generator, L, mask, condition),
                          "discriminator forward": lambda: discriminator(L, ab, mask),
                          "training step": lambda: step(generator, discriminator, objective_of(model_cfg), L, ab,
                                                        mask, None, True)
                          }.items():
            with FlopCounterMode(display=False) as counter:
                run()
            counts[name] = float(counter.get_total_flops())
    return counts


SCALAR_READS = {"_local_scalar_dense", "nonzero", "masked_select", "unique", "_unique2", "repeat_interleave"}
"""aten ops whose result the host must wait for: ``.item()``, ``bool()``, ``float()`` and ``if tensor:`` all end in
``_local_scalar_dense``; the others size their output from the data."""


def _caller(stack: list[traceback.FrameSummary]) -> str:
    """The line that asked: the innermost frame in colorgan, else in Lightning, else the innermost outside torch."""
    def inner(test: Any) -> traceback.FrameSummary | None:
        return next((f for f in reversed(stack) if test(f.filename)), None)

    frame = (inner(lambda f: "/colorgan/" in f and "/benchmarks/" not in f)
             or inner(lambda f: "pytorch_lightning" in f or "lightning_fabric" in f)
             or inner(lambda f: "/torch/" not in f and f != __file__) or stack[-1])
    short = frame.filename.split("site-packages/")[-1]
    short = short[short.rfind("colorgan/"):] if "/colorgan/" in short else short
    return f"{short}:{frame.lineno} {frame.name}"


class HostSyncs(TorchDispatchMode):
    """Counts, while active, the host syncs an eager step makes, by the line they come from.

    Seen at dispatch, so the same way on every device: scalar reads (:data:`SCALAR_READS`) of tensors on the
    ``device``, and copies from it to the CPU. On CUDA it also turns on ``torch.cuda.set_sync_debug_mode("warn")``
    and counts its warnings, which see the syncs made below the dispatcher too (a ``cudaStreamSynchronize`` of a
    pinned-memory copy, say). On the CPU every tensor is on the device, so the count is a proxy: it leaves out
    Adam's reads of its step counts (on the host on a GPU too) but holds those of other tensors that stay on the
    host on a GPU (the mask sampler's choices), which cost a GPU nothing; the sources say which is which.
    """

    def __init__(self, device: torch.device) -> None:
        super().__init__()
        self.device = device
        self.ops: Counter[str] = Counter()
        self.cuda: Counter[str] = Counter()

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        on_device = any(isinstance(a, torch.Tensor) and a.device.type == self.device.type for a in args)
        to_host = (self.device.type != "cpu" and name in ("_to_copy", "copy_") and isinstance(out, torch.Tensor)
                   and out.device.type == "cpu" and on_device)
        if (name in SCALAR_READS and on_device) or to_host:
            stack = traceback.extract_stack()[:-1]
            # Adam reads its step counts, which stay on the host on a GPU too (capturable=False): not a sync anywhere
            if self.device.type == "cpu" and any("/torch/optim/" in f.filename for f in stack):
                return out
            self.ops[f"{name} at {_caller(stack)}"] += 1
        return out

    def __enter__(self) -> HostSyncs:
        if self.device.type == "cuda":
            self._warnings = warnings.catch_warnings()
            self._warnings.__enter__()
            warnings.simplefilter("always")
            shown = warnings.showwarning

            def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None):
                if "synchroniz" in str(message):
                    self.cuda[_caller(traceback.extract_stack()[:-1])] += 1
                else:
                    shown(message, category, filename, lineno, file, line)
            warnings.showwarning = show
            torch.cuda.set_sync_debug_mode("warn")
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        if self.device.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")
            self._warnings.__exit__(*exc)

    def report(self, steps: int) -> dict[str, Any]:
        """Per-step counts and the lines they come from (most first)."""
        return {"steps": steps, "scalar_reads_per_step": sum(self.ops.values()) / steps,
                "cuda_syncs_per_step": sum(self.cuda.values()) / steps if self.device.type == "cuda" else None,
                "sources": dict(self.ops.most_common(12)), "cuda_sources": dict(self.cuda.most_common(12))}


class _PerItemLab(Dataset):
    """Hand-written style: each item converted to Lab and given a mask on the CPU, one at a time."""

    def __init__(self, images: torch.Tensor, sampler: MaskSampler) -> None:
        self.images, self.sampler = images, sampler

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rgb = self.images[index].float() / 255.0
        if torch.rand(()) < 0.5:
            rgb = rgb.flip(-1)
        L, ab = rgb_to_lab_norm(rgb[None])  # noqa: N806
        return L[0], ab[0], self.sampler(1, *rgb.shape[-2:])[0]


def run_plain(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    model_cfg, data_cfg = load_config(args.config, args.loss)
    generator = build_network(model_cfg["generator"]).to(device).train()
    discriminator = build_network(model_cfg["discriminator"]).to(device).train()
    betas = tuple(model_cfg.get("betas", (0.5, 0.999)))
    opts = (torch.optim.Adam(generator.parameters(), lr=model_cfg.get("lr_generator", 2e-4), betas=betas),
            torch.optim.Adam(discriminator.parameters(), lr=model_cfg.get("lr_discriminator", 2e-4), betas=betas))
    batches = args.warmup + args.steps
    data = _PerItemLab(synthetic_images(batches * args.plain_batch_size, args.image_size),
                       MaskSampler(data_cfg.get("mask_probabilities")))
    loader = DataLoader(data, batch_size=args.plain_batch_size, shuffle=True, drop_last=True,
                        num_workers=args.workers, pin_memory=device.type == "cuda")
    start = None
    for i, (L, ab, mask) in enumerate(loader):  # noqa: N806
        if i == args.warmup:
            _sync(device)
            start = time.perf_counter()
        L, ab, mask = (t.to(device, non_blocking=True) for t in (L, ab, mask))  # noqa: N806
        step(generator, discriminator, objective_of(model_cfg), L, ab, mask, opts, toggle=False)
    _sync(device)
    return {"seconds": time.perf_counter() - start, "batch": args.plain_batch_size, "precision": "32-true"}


def run_colorgan(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    import pytorch_lightning as pl

    from colorgan.training.data import ColorizationDataModule
    from colorgan.training.module import ColorGAN

    model_cfg, data_cfg = load_config(args.config, args.loss)
    nets = {k: build_network(model_cfg[k]) for k in ("generator", "discriminator")}
    model = ColorGAN(**nets, **{k: v for k, v in model_cfg.items() if k not in nets})
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if args.compile:
        options = {"backend": args.compile_backend, "fullgraph": args.fullgraph}
        model.generator = torch.compile(model.generator, **options)
        model.discriminator = torch.compile(model.discriminator, **options)
    images = synthetic_images((args.warmup + args.steps) * args.batch_size, args.image_size)

    class Synthetic(ColorizationDataModule):  # the real on_after_batch_transfer; images from memory
        def prepare_data(self) -> None: ...
        def setup(self, stage: str | None = None) -> None: ...
        def train_dataloader(self) -> DataLoader:
            return DataLoader([{"image": x} for x in images], batch_size=args.batch_size, shuffle=True, drop_last=True,
                              num_workers=0, pin_memory=device.type == "cuda")

    class Timer(pl.Callback):
        start = end = 0.0

        def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx == args.warmup:
                _sync(device)
                self.start = time.perf_counter()

        def on_train_end(self, trainer: Any, module: Any) -> None:
            _sync(device)
            self.end = time.perf_counter()

    class CountSyncs(pl.Callback):  # after Timer: its sync at the window's start is not counted
        def __init__(self) -> None:
            self.syncs = HostSyncs(device)

        def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx == args.warmup:
                self.syncs.__enter__()

        def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx == args.warmup + args.steps - 1:
                self.syncs.__exit__(None, None, None)

    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    precision = "bf16-mixed" if bf16 and not args.fp32 else "32-true"
    timer, counter = Timer(), CountSyncs()
    trainer = pl.Trainer(accelerator=device.type, devices=1, precision=precision, max_epochs=1,
                         limit_train_batches=args.warmup + args.steps, limit_val_batches=0, num_sanity_val_steps=0,
                         logger=False, enable_checkpointing=False, enable_progress_bar=args.progress_bar,
                         enable_model_summary=False, callbacks=[timer, counter] if args.count_syncs else [timer])
    data = Synthetic(image_size=args.image_size, batch_size=args.batch_size,
                     mask_probabilities=data_cfg.get("mask_probabilities"))
    trainer.fit(model, data)
    result = {"seconds": timer.end - timer.start, "batch": args.batch_size, "precision": precision}
    if args.count_syncs:
        result["syncs"] = counter.syncs.report(args.steps)
    if args.compile:
        from torch._dynamo.utils import counters

        result["graph_breaks"] = sum(counters["graph_break"].values())
        result["graph_break_reasons"] = list(counters["graph_break"])[:5]
        result["graphs"] = counters["stats"]["unique_graphs"]
    return result


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run one method in this process; adds images/s and peak memory."""
    device = torch.device(args.device)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    result = (run_colorgan if args.only == "colorgan" else run_plain)(args, device)
    result["images_per_s"] = result["batch"] * args.steps / result["seconds"]
    if device.type == "cuda":
        result["peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        result["memory"] = "max_memory_allocated"
    else:
        result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        result["memory"] = f"peak RSS (process, {rss_before:.0f} MiB after imports)"
    return result


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "flowers_masks.yaml")
    parser.add_argument("--loss", choices=["lsgan", "wgan-gp", "hinge", "vanilla"], help="default: the config's")
    parser.add_argument("--batch-size", type=int, default=16, help="colorgan's batch (default 16, the config's)")
    parser.add_argument("--plain-batch-size", type=int, default=12, help="the plain loop's batch (default 12)")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per method (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=4 if torch.cuda.is_available() else 0,
                        help="plain loop's DataLoader workers")
    parser.add_argument("--fp32", action="store_true", help="colorgan in 32-true even on a bf16 GPU")
    parser.add_argument("--channels-last", action="store_true", help="colorgan's networks in channels_last")
    parser.add_argument("--compile", action="store_true", help="torch.compile colorgan's G and D")
    parser.add_argument("--compile-backend", default="inductor",
                        help="torch.compile's backend (default inductor; aot_eager traces without code generation)")
    parser.add_argument("--fullgraph", action="store_true", help="compile with fullgraph=True: a graph break fails")
    parser.add_argument("--count-syncs", action="store_true",
                        help="count colorgan's host syncs over the timed steps (slower: not a timing run)")
    parser.add_argument("--progress-bar", action="store_true", help="keep Lightning's progress bar (as the CLI does)")
    parser.add_argument("--only", choices=["colorgan", "plain"],
                        help="run one method in this process and print its result as one JSON line")
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure(args)))
        return
    device = torch.device(args.device)
    results = {}
    for method in ("colorgan", "plain"):
        command = [sys.executable, __file__, *sys.argv[1:], "--only", method]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{method} run failed:\n{done.stderr[-3000:]}")
        results[method] = json.loads(done.stdout.strip().splitlines()[-1])
    model_cfg, _ = load_config(args.config, args.loss)
    flops = flops_per_image(model_cfg, args.image_size)
    name = _device_name(device)
    peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), None) if device.type == "cuda" else None
    print(f"{_device_name(device)}; torch {torch.__version__}; {date.today()}; load average "
          f"{os.getloadavg()[0]:.1f}; {args.image_size} px, loss {model_cfg.get('adversarial_loss')}, "
          f"{args.steps} timed steps after {args.warmup}")
    print("FLOPs per image: " + ", ".join(f"{k} {v / 1e9:.2f} G" for k, v in flops.items()) + "\n")
    print("| method | precision | batch | images/s | ms/step | peak memory (MiB) | TFLOP/s | share of ceiling |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for method, r in results.items():
        achieved = r["images_per_s"] * flops["training step"] / 1e12
        share = f"{achieved / peak:.1%}" if peak else "n/a (CPU)"
        print(f"| {method} | {r['precision']} | {r['batch']} | {r['images_per_s']:.2f} | "
              f"{1000 * r['seconds'] / args.steps:.0f} | {r['peak_mib']:.0f} | {achieved:.3f} | {share} |")
    ratio = results["colorgan"]["images_per_s"] / results["plain"]["images_per_s"]
    print(f"\ncolorgan / plain: {ratio:.2f}x images/s. Memory: {results['colorgan']['memory']}.")


if __name__ == "__main__":
    main()
