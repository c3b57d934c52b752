"""Scores against the number of color hints, as a Markdown table and a PNG plot, from ``colorgan evaluate --hints``.

    colorgan evaluate --ckpt HINTED.ckpt --hints 1,2,5,10,20,50 --out hints.json data/heldout
    python benchmarks/hint_curve.py hints.json --out docs/images/hint_curve.png [--no-hints PLAIN.json ...]

The plot has two panels over the hint count (0 to 50, square-root axis so that the first hints are visible):
PSNR inside the mask (higher is better) and |dCF| (lower is better), all (image, mask) pairs pooled, with the gray
and mean-color baselines as dashed lines and, with ``--no-hints``, the same recipe trained without hints (one or more
seeds) as a square each
at 0. Drawn with Pillow only.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from PIL import Image, ImageDraw

PANEL_W, PANEL_H, MARGIN = 420, 300, 56
COLORS = {"model": (31, 119, 180), "gray": (110, 110, 110), "mean_color": (214, 120, 30), "plain": (200, 40, 40)}


def curve(path: Path) -> tuple[list[tuple[int, float, float]], dict[str, tuple[float, float]]]:
    """((hints, PSNR-in, |dCF|) per count, {baseline: (PSNR-in, |dCF|)}) of an evaluation JSON's ``all`` rows."""
    data = json.loads(path.read_text())
    rows = {r["method"]: r for r in data["rows"] if r["family"] == "all"}
    counts = data["meta"].get("hint_methods") or {"model": 0}
    points = sorted((n, rows[m]["psnr_mask"], rows[m]["delta_colorfulness"]) for m, n in counts.items())
    baselines = {m: (rows[m]["psnr_mask"], rows[m]["delta_colorfulness"]) for m in ("gray", "mean_color") if m in rows}
    return points, baselines


def table(points: list[tuple[int, float, float]], baselines: dict[str, tuple[float, float]],
          plain: list[tuple[float, float]]) -> str:
    lines = ["| hints | " + " | ".join(str(n) for n, _, _ in points) + " |",
             "|---|" + "--:|" * len(points),
             "| PSNR-in | " + " | ".join(f"{p:.2f}" for _, p, _ in points) + " |",
             "| \\|dCF\\| | " + " | ".join(f"{d:.1f}" for _, _, d in points) + " |"]
    notes = [f"{name}: PSNR-in {p:.2f}, |dCF| {d:.1f}" for name, (p, d) in baselines.items()]
    for psnr, dcf in plain:
        notes.append(f"same recipe without hints: PSNR-in {psnr:.2f}, |dCF| {dcf:.1f}")
    return "\n".join(lines) + "\n\n" + "; ".join(notes) + "."


def plot(points: list[tuple[int, float, float]], baselines: dict[str, tuple[float, float]],
         plain: list[tuple[float, float]], out: Path) -> None:
    image = Image.new("RGB", (2 * PANEL_W, PANEL_H), "white")
    draw = ImageDraw.Draw(image)
    top_count = max(n for n, _, _ in points)
    for panel, (title, index) in enumerate((("PSNR inside the mask (dB, higher is better)", 1),
                                            ("|dCF| (lower is better)", 2))):
        x0, y0 = panel * PANEL_W + MARGIN, 30
        w, h = PANEL_W - MARGIN - 16, PANEL_H - y0 - 40
        values = [p[index] for p in points] + [b[index - 1] for b in baselines.values()]
        values += [p[index - 1] for p in plain]
        lo, hi = min(values), max(values)
        lo, hi = lo - 0.05 * (hi - lo or 1), hi + 0.05 * (hi - lo or 1)

        def xy(count: float, value: float, x0: int = x0, y0: int = y0, w: int = w, h: int = h, lo: float = lo,
               hi: float = hi) -> tuple[float, float]:
            return (x0 + w * math.sqrt(count / top_count), y0 + h * (1 - (value - lo) / (hi - lo)))

        draw.rectangle([x0, y0, x0 + w, y0 + h], outline=(0, 0, 0))
        draw.text((x0, 8), title, fill=(0, 0, 0))
        for n, *_ in points:
            x = xy(n, lo)[0]
            draw.line([x, y0 + h, x, y0 + h + 4], fill=(0, 0, 0))
            draw.text((x - 4, y0 + h + 6), str(n), fill=(0, 0, 0))
        draw.text((x0 + w // 2 - 40, y0 + h + 22), "hints per pair", fill=(0, 0, 0))
        for k in range(5):
            value = lo + (hi - lo) * k / 4
            y = xy(0, value)[1]
            draw.line([x0 - 4, y, x0, y], fill=(0, 0, 0))
            draw.text((x0 - 44, y - 6), f"{value:.1f}", fill=(0, 0, 0))
        for name, pair in baselines.items():
            y = xy(0, pair[index - 1])[1]
            for x in range(x0, x0 + w, 10):
                draw.line([x, y, min(x + 5, x0 + w), y], fill=COLORS[name], width=2)
            draw.text((x0 + w - 80, y - 14), name.replace("_", "-"), fill=COLORS[name])
        line = [xy(point[0], point[index]) for point in points]
        draw.line(line, fill=COLORS["model"], width=3)
        for x, y in line:
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=COLORS["model"])
        for p in plain:
            x, y = xy(0, p[index - 1])
            draw.rectangle([x - 5, y - 5, x + 5, y + 5], outline=COLORS["plain"], width=2)
        if panel == 0:
            draw.text((x0 + 8, y0 + 8), "model with n hints (blue)", fill=COLORS["model"])
            if plain:
                draw.text((x0 + 8, y0 + 22), "trained without hints (red squares, one per seed)", fill=COLORS["plain"])
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("evaluation", type=Path, help="JSON written by colorgan evaluate --hints ... --out")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--no-hints", type=Path, nargs="+", default=[],
                        help="evaluation JSONs of the same recipe trained without hints (e.g. one per seed)")
    args = parser.parse_args()
    points, baselines = curve(args.evaluation)
    plain = [curve(path)[0][0][1:] for path in args.no_hints]
    plot(points, baselines, plain, args.out)
    print(table(points, baselines, plain))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
