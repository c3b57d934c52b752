"""Near-duplicate scores between photo folders, for ``benchmarks/corpus_photos.py --check``.

Two scores per pair of photos:

- ``thumb``: the correlation of 16x16 grey thumbnails (of the centre crop at most 3:2), as extra_photos_recipe.py
  checks. Cheap, but landscapes with the same sky/ground layout reach 0.9 without being the same photo.
- ``robust``: one photo, scaled to 50-100 % of the other's height in steps of 5 %, is placed where it best matches
  inside the other (normalised correlation on 32 px high grey thumbnails, every position, both ways round); at the
  3 best placements the high-pass detail (grey minus its Gaussian blur) of both is correlated on 48 px high
  thumbnails, allowing a shift of up to 2 px. A re-cropped or resized copy of the same photo keeps its detail and
  scores high (0.70-0.88 for 60-100 % crops of the held-out photos saved as JPEG); different photos, however alike
  in layout, mostly score below 0.65, except nearly featureless ones (haze, flat horizons), which can reach 0.9:
  look at any pair above 0.6.

    python benchmarks/corpus_check.py data/corpus data/heldout     # prints both maxima and the pairs above 0.75
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

COARSE, FINE, SIGMA, SHIFT = 32, 48, 1.5, 2
SCALES = tuple(round(0.5 + 0.05 * k, 2) for k in range(11))  # 0.5 ... 1.0


@dataclass
class Thumbs:
    name: str
    thumb: np.ndarray  # 256, centred, unit norm
    coarse: np.ndarray  # COARSE px high grey
    fine: Image.Image  # FINE px high grey
    fine_detail: np.ndarray  # its high-pass detail


def unit(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float64).ravel()
    v = v - v.mean()
    n = np.linalg.norm(v)
    return v / n if n else v


def load(path: Path) -> Thumbs:
    with Image.open(path) as image:
        grey = image.convert("L")
    grey.thumbnail((1024, 1024))
    w, h = grey.size
    cw, ch = min(w, (3 * h) // 2), min(h, (3 * w) // 2)
    crop = grey.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch))
    thumb = unit(np.asarray(crop.resize((16, 16), Image.Resampling.BILINEAR)))
    coarse = np.asarray(grey.resize((max(1, round(w * COARSE / h)), COARSE), Image.Resampling.BILINEAR), np.float64)
    fine = grey.resize((max(1, round(w * FINE / h)), FINE), Image.Resampling.BILINEAR)
    return Thumbs(path.name, thumb, coarse, fine, highpass(fine))


def highpass(image: Image.Image) -> np.ndarray:
    return np.asarray(image, np.float64) - np.asarray(image.filter(ImageFilter.GaussianBlur(SIGMA)), np.float64)


def aligned(template: np.ndarray, detail: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Best correlation of the detail ``template`` with ``detail`` at ``box`` shifted by up to SHIFT px."""
    left, top = max(0, box[0] - SHIFT), max(0, box[1] - SHIFT)
    area = detail[top:box[3] + SHIFT, left:box[2] + SHIFT]
    th, tw = template.shape
    if area.shape[0] < th or area.shape[1] < tw:
        return -1.0
    windows = np.lib.stride_tricks.sliding_window_view(area, (th, tw)).reshape(-1, th * tw)
    windows = windows - windows.mean(1, keepdims=True)
    norms = np.linalg.norm(windows, axis=1)
    return float((windows @ unit(template) / np.where(norms > 0, norms, 1)).max())


def templates(a: Thumbs) -> dict[float, np.ndarray]:
    """``a``'s coarse thumbnail at each scale, centred and unit norm."""
    out = {}
    for scale in SCALES:
        th = round(COARSE * scale)
        tw = round(a.coarse.shape[1] * th / COARSE)
        if tw >= 4:
            image = Image.fromarray(a.coarse.astype(np.uint8)).resize((tw, th), Image.Resampling.BILINEAR)
            out[scale] = unit(np.asarray(image)).reshape(th, tw)
    return out


def inside(group: list[Thumbs], b: Thumbs, cache: dict[int, dict[float, np.ndarray]], top: int = 3) -> np.ndarray:
    """For each photo of ``group``: the best detail correlation of it (scaled) placed inside ``b``, trying the
    ``top`` placements that match best on the coarse thumbnails."""
    f = FINE / COARSE
    candidates: list[list[tuple[float, tuple[int, int, int, int]]]] = [[] for _ in group]
    by_size: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}
    for k, a in enumerate(group):
        for template in cache.setdefault(id(a), templates(a)).values():
            if template.shape[1] <= b.coarse.shape[1]:
                by_size.setdefault(template.shape, []).append((k, template.ravel()))
    for (th, tw), items in by_size.items():
        windows = np.lib.stride_tricks.sliding_window_view(b.coarse, (th, tw)).reshape(-1, th * tw)
        windows = windows - windows.mean(1, keepdims=True)
        norms = np.linalg.norm(windows, axis=1)
        ncc = np.stack([t for _, t in items]) @ windows.T / np.where(norms > 0, norms, 1)
        for (k, _), row in zip(items, ncc, strict=True):
            y, x = divmod(int(row.argmax()), b.coarse.shape[1] - tw + 1)
            candidates[k].append((float(row.max()), (round(x * f), round(y * f), round((x + tw) * f),
                                                     round((y + th) * f))))
    best = np.full(len(group), -1.0)
    for k, a in enumerate(group):
        for _, box in sorted(candidates[k], reverse=True)[:top]:
            size = (box[2] - box[0], box[3] - box[1])
            best[k] = max(best[k], aligned(highpass(a.fine.resize(size, Image.Resampling.BILINEAR)),
                                           b.fine_detail, box))
    return best


def scores(left: list[Thumbs], right: list[Thumbs], same: bool = False,
           prefilter: float = -1.0) -> list[tuple[float, float, str, str]]:
    """(thumb, robust, left name, right name) for every pair (each unordered pair once when ``same``); the robust
    score only where the thumbnail correlation is above ``prefilter`` (else -1)."""
    cache: dict[int, dict[float, np.ndarray]] = {}
    thumbs = np.stack([a.thumb for a in left]) @ np.stack([b.thumb for b in right]).T
    score = np.full(thumbs.shape, -1.0)
    for j, b in enumerate(right):  # left inside right
        rows = [i for i in range(len(left)) if thumbs[i, j] > prefilter and not (same and i >= j)]
        if rows:
            score[rows, j] = inside([left[i] for i in rows], b, cache)
    for i, a in enumerate(left):  # right inside left
        cols = [j for j in range(len(right)) if thumbs[i, j] > prefilter and not (same and i >= j)]
        if cols:
            score[i, cols] = np.maximum(score[i, cols], inside([right[j] for j in cols], a, cache))
    return [(float(thumbs[i, j]), float(score[i, j]), left[i].name, right[j].name)
            for i in range(len(left)) for j in range(len(right)) if not (same and i >= j)]


def report(corpus: list[Path], heldout: list[Path], show: float = 0.6) -> None:
    print(f"near-duplicate check: {len(corpus)} photos against {len(heldout)} held-out photos and each other",
          file=sys.stderr)
    mine, theirs = [load(p) for p in corpus], [load(p) for p in heldout]
    within = scores(mine, mine, same=True, prefilter=0.5)  # the same photo twice has alike thumbnails too
    for title, rows in (("held-out", scores(mine, theirs)), ("within corpus", within)):
        if not rows:
            continue
        top_thumb, top_robust = max(rows), max(rows, key=lambda r: r[1])
        print(f"{title}: max 16x16 thumbnail correlation {top_thumb[0]:.3f} ({top_thumb[2]} ~ {top_thumb[3]}), "
              f"max crop-robust score {top_robust[1]:.3f} ({top_robust[2]} ~ {top_robust[3]}); "
              f"{sum(r[0] > show for r in rows)} pairs above {show} by thumbnail, "
              f"{sum(r[1] > show for r in rows)} by crop-robust score")
        for thumb, score, a, b in sorted(rows, key=lambda r: -r[1]):
            if score <= show:
                break
            print(f"  crop-robust {score:.3f} (thumbnail {thumb:.3f}): {a} ~ {b}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    report(sorted(Path(sys.argv[1]).glob("*.jpg")), sorted(Path(sys.argv[2]).glob("*.jpg")))
