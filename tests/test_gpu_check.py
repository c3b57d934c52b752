"""benchmarks/gpu_check.sh end to end, as its CPU dry run: the report holds every kind of check, with finite numbers.

The GPU run itself needs a GPU (benchmarks/gpu_check.sh says how to run it); this keeps the script working until
then. tiny.yaml stands in for the headline config, and the checks that only repeat a kind already run (the tiny
fit, the plain loop, fp32, batch 4x) and the sync count (whose counter is tested in-process below) are left out:
each check is a process that imports torch and Lightning, 5 to 15 s on 2 busy cores.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
CHECKS = ["environment", "fit_headline", "predict", "bf16_compile"]


def test_gpu_check_dry_run_writes_one_report_with_every_section(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_OUT": str(tmp_path / "out"),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--dry-run", "--headline-config",
                           str(REPO / "configs" / "tiny.yaml"), "--workdir", str(tmp_path / "work"),
                           "--only", ",".join(CHECKS)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gpu_check.json", "gpu_check.log", "gpu_check.md"]
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    results = report["results"]
    assert list(results) == CHECKS and all(r["status"] == "pass" for r in results.values())
    assert report["dry_run"] and results["environment"]["numbers"]["gpu"] is None

    fit = results["fit_headline"]["numbers"]
    assert fit["all_finite"] and fit["train_rows"] == 2 and fit["precision"] == "bf16-mixed"
    assert all(math.isfinite(v) for v in fit["last"].values()) and "train/d_loss" in fit["last"]
    predict = results["predict"]["numbers"]
    assert predict["strict_fp32"]["max_abs_levels"] == 0.0 and predict["default"]["gray_outside_mask"]  # CPU vs CPU
    speed = results["bf16_compile"]["numbers"]
    assert math.isfinite(speed["images_per_s"]) and speed["images_per_s"] > 0 and speed["peak_mib"] > 0
    assert speed["graph_breaks"] == 0 and speed["graphs"] >= 2  # G, and D (again with its weights frozen)

    text = (tmp_path / "out" / "gpu_check.md").read_text()
    for section in ("# colorgan GPU check (CPU dry run)", "## Goals", "## Checks",
                    "## Training throughput and peak memory", "| bf16_compile | 32-true | 2 |"):
        assert section in text
    assert [g["measured"] is not None for g in report["goals"]] == [True, False, False]  # no plain loop, no syncs


def test_host_syncs_counts_scalar_reads_by_line_but_not_adams_step_counts() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from train_throughput import HostSyncs
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    weight = torch.nn.Parameter(torch.rand(4))
    optimizer = torch.optim.Adam([weight])
    with HostSyncs(torch.device("cpu")) as syncs:
        if weight.sum() > 0:  # one read (bool)
            weight.detach().nonzero()  # two (nonzero sizes its output)
        loss = weight.square().sum()
        loss.backward()
        optimizer.step()  # reads its CPU step count: no sync on any device, not counted
        float(loss.detach())  # three
    report = syncs.report(steps=3)
    assert report["scalar_reads_per_step"] == 1.0 and report["cuda_syncs_per_step"] is None
    assert sum(report["sources"].values()) == 3 and all(Path(__file__).name in k for k in report["sources"])
