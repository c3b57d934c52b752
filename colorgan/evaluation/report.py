"""An evaluation's result and its outputs: console table, JSON, CSV and W&B tables (see :mod:`.run`)."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorgan import _wandb
from colorgan.checkpoint import replace_atomically
from colorgan.evaluation.metrics import SCORES

COLUMNS = ("method", "family", *SCORES, "fid")
"""Columns of the CSV, the JSON rows and the W&B table."""
HEADERS = {"images": "n", "psnr": "PSNR", "ssim": "SSIM", "psnr_mask": "PSNR-in", "psnr_unhinted": "PSNR-unhinted",
           "hinted_share": "hinted", "colorfulness": "CF",
           "colorfulness_true": "CF-true", "delta_colorfulness": "dCF", "leak": "leak", "seam": "seam",
           "lpips": "LPIPS", "fid": "FID"}
HINT_COLUMNS = ("psnr_unhinted", "hinted_share")
"""Columns that only say something when hints were scored (``colorgan evaluate --hints``)."""
DIGITS = {"images": 0, "psnr": 2, "ssim": 4, "psnr_mask": 2, "psnr_unhinted": 2, "hinted_share": 3,
          "colorfulness": 1, "colorfulness_true": 1,
          "delta_colorfulness": 1, "leak": 3, "seam": 2, "lpips": 4, "fid": 2}

__all__ = ["COLUMNS", "EvaluationResult", "format_hint_curve", "format_table", "log_wandb", "output_paths",
           "write_files"]


@dataclass
class EvaluationResult:
    """Rows (one per method and group, ``all`` first), metadata, and a few thumbnails for W&B."""

    rows: list[dict[str, Any]]
    meta: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def row(self, method: str, family: str = "all") -> dict[str, Any]:
        """The row of ``method`` (``model``, ``gray``, ``mean_color``) for ``family`` (or ``all``)."""
        return next(r for r in self.rows if r["method"] == method and r["family"] == family)


def _plain(value: Any) -> Any:
    """NaN (undefined: no mask pixels, no edge, metric unavailable) as None, which JSON and CSV can hold."""
    return None if isinstance(value, float) and math.isnan(value) else value


def output_paths(out: str | Path) -> tuple[Path, Path]:
    """``(<stem>.json, <stem>.csv)`` beside ``out``, whichever of the two (or another suffix) ``out`` names."""
    out = Path(out).expanduser()
    base = out.with_suffix("") if out.suffix.lower() in (".json", ".csv") else out
    return base.with_name(base.name + ".json"), base.with_name(base.name + ".csv")


def write_files(result: EvaluationResult, out: str | Path) -> tuple[Path, Path]:
    """Write the JSON (``meta`` + ``rows``) and the CSV (one line per row); returns their paths."""
    json_path, csv_path = output_paths(out)
    rows = [{key: _plain(row.get(key)) for key in COLUMNS} for row in result.rows]
    with replace_atomically(json_path) as tmp:
        tmp.write_text(json.dumps({"meta": result.meta, "rows": rows}, indent=1) + "\n")
    with replace_atomically(csv_path) as tmp, open(tmp, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return json_path, csv_path


def _cell(key: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{DIGITS.get(key, 3)}f}"
    return str(value)


def format_table(result: EvaluationResult, markdown: bool = False) -> str:
    """The rows as an aligned text table (or markdown), grouped by family so methods sit next to each other.

    Columns without any value (LPIPS, FID when unavailable) are left out; the report says why separately. So are
    the hint columns of an evaluation without hints (they repeat PSNR-in and read 0 there).
    """
    hinted = len(result.meta.get("hint_methods") or {}) > 1
    keys = [k for k in COLUMNS if any(_plain(r.get(k)) is not None for r in result.rows)
            and (hinted or k not in HINT_COLUMNS)]
    order = {family: i for i, family in enumerate(["all", *result.meta.get("families", [])])}
    rows = sorted(result.rows, key=lambda r: order.get(r["family"], len(order)))
    table = [[HEADERS.get(k, k) for k in keys]] + [[_cell(k, r.get(k)) for k in keys] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in table]
        lines.insert(1, "|" + "|".join("---" if i < 2 else "--:" for i in range(len(keys))) + "|")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in table) for i in range(len(keys))]
    aligned = [[c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
               for row in table]  # method and family left, numbers right
    return "\n".join("  ".join(row) for row in aligned)


def format_hint_curve(result: EvaluationResult) -> str | None:
    """PSNR inside the mask and on its unhinted pixels, the hinted share and |dCF| over all pairs against the number
    of hints, one line per count; None without hints."""
    counts = result.meta.get("hint_methods") or {}
    if len(counts) < 2:
        return None
    lines = [f"{'hints':>5}  {'PSNR-in':>7}  {'PSNR-unhinted':>13}  {'hinted':>6}  {'|dCF|':>6}  {'leak':>5}"]
    for method, count in sorted(counts.items(), key=lambda item: item[1]):
        row = result.row(method)
        lines.append(f"{count:>5}  {row['psnr_mask']:>7.2f}  {row['psnr_unhinted']:>13.2f}  "
                     f"{row['hinted_share']:>6.3f}  {row['delta_colorfulness']:>6.1f}  {row['leak']:>5.3f}")
    return "\n".join(lines)


def log_wandb(result: EvaluationResult, start: bool | None = None, key: str = "evaluate") -> bool:
    """Log the rows and thumbnails as W&B tables ``<key>/scores`` and ``<key>/samples``.

    Args:
        result: what :func:`colorgan.evaluation.run.evaluate` returned.
        start: True starts a run when none is active (offline without an API key) and finishes it afterwards;
            None logs only into an already active run (e.g. a WandbLogger's); False does nothing.
        key: the prefix of the logged tables and summary values.

    Returns:
        Whether anything was logged.
    """
    if start is False:
        return False
    run, started = _wandb.active_run(), False
    if run is None:
        if not start:
            return False
        run, started = _wandb.start_run("evaluate", {"evaluate": result.meta}), True
    import wandb  # imported by now: a run is active

    try:
        scores = wandb.Table(columns=list(COLUMNS), data=[[_plain(r.get(k)) for k in COLUMNS] for r in result.rows])
        payload: dict[str, Any] = {f"{key}/scores": scores}
        if result.samples:
            columns = list(result.samples[0])
            data = [[wandb.Image(v.numpy()) if hasattr(v, "numpy") else v for v in s.values()]
                    for s in result.samples]
            payload[f"{key}/samples"] = wandb.Table(columns=columns, data=data)
        run.log(payload)
        for row in result.rows:
            if row["family"] == "all":
                run.summary.update({f"{key}/{row['method']}/{k}": _plain(row.get(k)) for k in COLUMNS[2:]})
    finally:
        if started:
            run.finish()
    return True
