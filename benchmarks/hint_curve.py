"""Scores against the number of color hints, as a Markdown table and a PNG plot, from ``colorgan evaluate --hints``.

    colorgan evaluate --ckpt HINTED.ckpt --hints 1,2,5,10,20,50 --out hints.json data/heldout
    colorgan evaluate --ckpt HINTED.ckpt --hints 1,2,5,10,20,50 --no-spread --out alone.json data/heldout
    python benchmarks/hint_curve.py hints.json --alone alone.json --out docs/images/hint_curve.png \
        [--no-hints PLAIN.json ...]

The plot has two panels over the hint count (0 to 50, square-root axis so that the first hints are visible):
PSNR inside the mask (higher is better; solid: all mask pixels, thin: the pixels no hint covers) and |dCF| (lower is
better), all (image, mask) pairs pooled, with the gray and mean-color baselines as dashed lines; with ``--alone``,
the network's own use of the hints (no spreading) in grey; with ``--no-hints``, the same recipe trained without
hints (one or more seeds) as a square each at 0. Drawn with Pillow only.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from PIL import Image, ImageDraw

PANEL_W, PANEL_H, MARGIN = 420, 300, 56
COLORS = {"model": (31, 119, 180), "alone": (150, 150, 150), "gray": (110, 110, 110), "mean_color": (214, 120, 30),
          "plain": (200, 40, 40)}

Point = tuple[int, float, float, float, float]
"""(hints, PSNR-in, PSNR on unhinted mask pixels, hinted share of the mask, |dCF|)."""


def curve(path: Path) -> tuple[list[Point], dict[str, tuple[float, float]]]:
    """(a :data:`Point` per count, {baseline: (PSNR-in, |dCF|)}) of an evaluation JSON's ``all`` rows."""
    data = json.loads(path.read_text())
    rows = {r["method"]: r for r in data["rows"] if r["family"] == "all"}
    counts = data["meta"].get("hint_methods") or {"model": 0}
    points = sorted((n, rows[m]["psnr_mask"], rows[m].get("psnr_unhinted", rows[m]["psnr_mask"]),
                     rows[m].get("hinted_share", 0.0), rows[m]["delta_colorfulness"]) for m, n in counts.items())
    baselines = {m: (rows[m]["psnr_mask"], rows[m]["delta_colorfulness"]) for m in ("gray", "mean_color") if m in rows}
    return points, baselines


def table(points: list[Point], baselines: dict[str, tuple[float, float]], plain: list[tuple[float, float]],
          alone: list[Point]) -> str:
    def line(name: str, values: list[str]) -> str:
        return f"| {name} | " + " | ".join(values) + " |"

    lines = [line("hints", [str(p[0]) for p in points]), "|---|" + "--:|" * len(points),
             line("hinted share of the mask", [f"{100 * p[3]:.1f}%" for p in points]),
             line("PSNR-in", [f"{p[1]:.2f}" for p in points]),
             line("PSNR, unhinted mask pixels", [f"{p[2]:.2f}" for p in points]),
             line("\\|dCF\\|", [f"{p[4]:.1f}" for p in points])]
    if alone:
        lines += [line("network alone: PSNR-in", [f"{p[1]:.2f}" for p in alone]),
                  line("network alone: PSNR, unhinted", [f"{p[2]:.2f}" for p in alone]),
                  line("network alone: \\|dCF\\|", [f"{p[4]:.1f}" for p in alone])]
    notes = [f"{name}: PSNR-in {p:.2f}, |dCF| {d:.1f}" for name, (p, d) in baselines.items()]
    for psnr, dcf in plain:
        notes.append(f"same recipe without hints: PSNR-in {psnr:.2f}, |dCF| {dcf:.1f}")
    return "\n".join(lines) + "\n\n" + "; ".join(notes) + "."


def plot(points: list[Point], baselines: dict[str, tuple[float, float]], plain: list[tuple[float, float]],
         alone: list[Point], out: Path) -> None:
    image = Image.new("RGB", (2 * PANEL_W, PANEL_H), "white")
    draw = ImageDraw.Draw(image)
    top_count = max(p[0] for p in points)
    for panel, (title, index) in enumerate((("PSNR inside the mask (dB, higher is better)", 1),
                                            ("|dCF| (lower is better)", 4))):
        base = 0 if index == 1 else 1  # the baselines' and plain runs' (PSNR-in, |dCF|) column
        x0, y0 = panel * PANEL_W + MARGIN, 30
        w, h = PANEL_W - MARGIN - 16, PANEL_H - y0 - 40
        values = [p[index] for p in points + alone] + [b[base] for b in baselines.values()]
        values += [p[base] for p in plain] + ([p[2] for p in points] if index == 1 else [])
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
            y = xy(0, pair[base])[1]
            for x in range(x0, x0 + w, 10):
                draw.line([x, y, min(x + 5, x0 + w), y], fill=COLORS[name], width=2)
            draw.text((x0 + w - 80, y - 14), name.replace("_", "-"), fill=COLORS[name])
        if index == 1:  # thin: the unhinted mask pixels only
            draw.line([xy(point[0], point[2]) for point in points], fill=COLORS["model"], width=1)
        for series, color in ((alone, COLORS["alone"]), (points, COLORS["model"])):
            line = [xy(point[0], point[index]) for point in series]
            if line:
                draw.line(line, fill=color, width=3)
            for x, y in line:
                draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=color)
        for p in plain:
            x, y = xy(0, p[base])
            draw.rectangle([x - 5, y - 5, x + 5, y + 5], outline=COLORS["plain"], width=2)
        if panel == 0:
            draw.text((x0 + 8, y0 + 8), "n hints, spread (blue; thin: unhinted pixels)", fill=COLORS["model"])
            if alone:
                draw.text((x0 + 8, y0 + 22), "n hints, network alone (grey)", fill=COLORS["alone"])
            if plain:
                draw.text((x0 + 8, y0 + 36), "trained without hints (red squares, one per seed)", fill=COLORS["plain"])
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("evaluation", type=Path, help="JSON written by colorgan evaluate --hints ... --out")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--alone", type=Path, help="the same evaluation with --no-spread")
    parser.add_argument("--no-hints", type=Path, nargs="+", default=[],
                        help="evaluation JSONs of the same recipe trained without hints (e.g. one per seed)")
    args = parser.parse_args()
    points, baselines = curve(args.evaluation)
    plain = [(first[1], first[4]) for first in (curve(path)[0][0] for path in args.no_hints)]
    alone = curve(args.alone)[0] if args.alone else []
    plot(points, baselines, plain, alone, args.out)
    print(table(points, baselines, plain, alone))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
