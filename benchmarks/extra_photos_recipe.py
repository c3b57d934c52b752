"""Rebuild the 9 photos added to colorgan/sample_photos in colorgan 0.3 (into data/extra_train/), none held out.

The first 48 bundled photos are the sources named in colorgan/sample_photos/credits.csv; these 9 add low-colour
scenes (fog, cloud, backlit objects, muted animals) that those colourful wallpapers lack.

    python benchmarks/extra_photos_recipe.py                  # -> data/extra_train/, short side 192 px
    python benchmarks/extra_photos_recipe.py --out data/extra_train --cache /tmp/extra_debs

Recipe (Debian bookworm mirror only; needs ``apt-get`` and ``dpkg-deb``), reusing the helpers of
benchmarks/heldout_photos.py:

1. ``apt-get download`` each package of ``KEEP`` into ``--cache`` (skipped when the .deb is there). scikit-image is
   not in the project venv, so its sample photo comes from the Debian package python3-skimage (the same file
   ``skimage.data.stereo_motorcycle()`` loads).
2. Stream each .deb once, keeping only the listed files and ``usr/share/doc/<pkg>/copyright``.
3. ``KEEP`` is fixed and was chosen by looking at every raster image of the allowed packages (lomiri-wallpapers,
   lomiri-wallpapers-16.04, lxqt-themes, mate-backgrounds, plasma-workspace-wallpapers, palapeli-data,
   tuxpaint-stamps-default, python3-skimage): real colour photographs only, not a source of the first 48, and no
   near-duplicate of data/heldout/ or of lomiri-wallpapers-20.04 (16x16 grey-thumbnail correlation, all kept
   photos <= 0.89 against held-out, <= 0.85 against bundled, checked by eye above 0.75). Left out: renders,
   drawings, logos and gradients (most of lxqt-themes, mate abstract/desktop, plasma Altai ... Volna, Autumn),
   lomiri analogpattern/umang (colour-washed texture, abstract), palapeli backgrounds (generated textures),
   plasma ColdRipple and Grey (photos, but stored as exact greyscale: no colour to learn), skimage hubble/ihc/retina
   (astronomy, microscopy, fundus), tuxpaint stamps (cut-outs on transparency; the only opaque one is a drawing).
4. Each photo is centre-cropped to an aspect ratio of at most 3:2, resized with Lanczos so its short side is
   ``--size`` px and saved as ``<out>/<name>.jpg`` (RGB, JPEG quality 90, no metadata), like the bundled photos.
5. ``<out>/credits.csv`` has the columns of colorgan/sample_photos/credits.csv; the licence is the License field of
   the DEP-5 stanza of the package's debian/copyright that covers the file (last match), with upstream notes
   quoted as in the bundled rows. ``<out>/stats.csv`` gives each photo's mean CIE Lab chroma sqrt(a^2 + b^2)
   (D65, computed on the saved JPEG) and whether it is below 8 (low colour).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heldout_photos import Photo, dep5_stanza, fail, fetch, source_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"lomiri-wallpapers-16.04": "20.04.0-2", "lxqt-themes": "1.2.0-1", "mate-backgrounds": "1.26.0-1",
            "python3-skimage": "0.19.3-8"}
LOW_CHROMA = 8.0


@dataclass(frozen=True)
class Keep:
    name: str  # output stem
    package: str
    path: str  # inside the package, without the leading "./"
    original: str
    author: str
    source: str = ""  # overrides "Debian package <pkg>: /<path>"
    upstream: str = ""  # licence note from upstream files, appended to the debian/copyright licence


LOMIRI = "usr/share/backgrounds/"
LXQT = "usr/share/lxqt/wallpapers/"
LXQT_LICENSE = "upstream wallpapers/License: CC-BY-SA-3.0"
SKIMAGE = "usr/lib/python3/dist-packages/skimage/data/"
KEEP: tuple[Keep, ...] = (
    Keep("bird_figurine_under_lamps", "lomiri-wallpapers-16.04", f"{LOMIRI}free_by_Peter_Nerlich.jpg", "free",
         "Peter Nerlich"),
    Keep("spaniels_at_wooden_window", "lomiri-wallpapers-16.04", f"{LOMIRI}friends_by_Aitzol_Berasategi.jpg",
         "friends", "Aitzol Berasategi"),
    Keep("backlit_wall_clock", "lomiri-wallpapers-16.04", f"{LOMIRI}greentock_by_Peter_Nerlich.jpg", "greentock",
         "Peter Nerlich"),
    Keep("sunbeam_over_misty_hills", "lxqt-themes", f"{LXQT}beam.png", "beam",
         "stefonarch (standreas@riseup.net), LXQt Project", upstream=LXQT_LICENSE),
    Keep("swallowtail_on_scabious", "lxqt-themes", f"{LXQT}butterfly.png", "butterfly",
         "stefonarch (standreas@riseup.net), LXQt Project", upstream=LXQT_LICENSE),
    Keep("altocumulus_clouds", "lxqt-themes", f"{LXQT}cloud.png", "cloud",
         "LXQt Project (not listed in upstream credits)", upstream=LXQT_LICENSE),
    Keep("mountain_ridges_cloudy_sky", "lxqt-themes", f"{LXQT}Valendas.png", "Valendas",
         "LXQt Project (not listed in upstream credits)", upstream=LXQT_LICENSE),
    Keep("pale_wood_planks", "mate-backgrounds", "usr/share/backgrounds/mate/nature/Wood.jpg", "Wood",
         "Jean-François Fortin Tam"),
    Keep("red_motorcycle_in_garage", "python3-skimage", f"{SKIMAGE}motorcycle_left.png",
         "Motorcycle, left view (Middlebury 2014 stereo dataset, downsampled 4x)",
         "N. Nesic, P. Westling, X. Wang, Y. Kitajima, G. Krathwohl, D. Scharstein (Middlebury College)",
         source="Python package scikit-image: skimage.data.stereo_motorcycle()[0] "
                f"(Debian package python3-skimage: /{SKIMAGE}motorcycle_left.png)",
         upstream="no licence stated in the skimage docstring for the Middlebury images"),
)


def photo(keep: Keep) -> Photo:
    return Photo(keep.package, keep.path)


def save_cropped(source: Path, out: Path, size: int) -> None:
    """Centre-crop to at most 3:2 (either orientation), Lanczos to short side ``size``, JPEG q90 without metadata."""
    with Image.open(source) as image:
        image = image.convert("RGB")
    w, h = image.size
    cw, ch = min(w, (3 * h) // 2), min(h, (3 * w) // 2)
    left, top = (w - cw) // 2, (h - ch) // 2
    image = image.crop((left, top, left + cw, top + ch))
    scale = size / min(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    partial = out.with_name(f".{out.name}.part")
    image.save(partial, "JPEG", quality=90)  # no exif/icc passed: no metadata
    partial.replace(out)


def mean_chroma(path: Path) -> tuple[float, float]:
    """Mean L* and mean chroma sqrt(a*^2 + b*^2) in CIE Lab (sRGB, D65)."""
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = lin @ np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                          [0.0193339, 0.1191920, 0.9503041]]).T
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lum = 116 * f[..., 1] - 16
    a, b = 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])
    return float(lum.mean()), float(np.sqrt(a * a + b * b).mean())


def licence(stanza: dict[str, str], keep: Keep) -> str:
    text = stanza.get("license") or "?"
    if stanza.get("files") == "*":
        text += " (Debian copyright, Files: *)"
    return f"{text}; {keep.upstream}" if keep.upstream else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "extra_train")
    parser.add_argument("--size", type=int, default=192, help="short side in px (default 192)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/extra_debs"))
    args = parser.parse_args()
    start = time.perf_counter()
    if shutil.which("dpkg-deb") is None:
        fail("dpkg-deb not found: this recipe needs a Debian/Ubuntu host")
    args.out.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)

    credits: list[dict[str, str]] = []
    stats: list[dict[str, str]] = []
    for package, tested in PACKAGES.items():
        keeps = [k for k in KEEP if k.package == package]
        version, text = fetch(package, tested, [photo(k) for k in keeps], args.cache)
        for keep in keeps:
            out = args.out / f"{keep.name}.jpg"
            save_cropped(source_file(photo(keep), args.cache), out, args.size)
            stanza = dep5_stanza(text, keep.path)
            credits.append({"file": out.name, "original": keep.original, "author": keep.author,
                            "source": keep.source or f"Debian package {package}: /{keep.path}",
                            "license": licence(stanza, keep)})
            lum, chroma = mean_chroma(out)
            with Image.open(out) as image:
                size = f"{image.width}x{image.height}"
            stats.append({"file": out.name, "package": f"{package} {version}", "size": size,
                          "mean_L": f"{lum:.1f}", "mean_chroma": f"{chroma:.2f}",
                          "low_chroma": str(chroma < LOW_CHROMA).lower()})

    keep_names = {row["file"] for row in credits}
    for stale in args.out.glob("*.jpg"):
        if stale.name not in keep_names:
            stale.unlink()
    for name, rows in (("credits.csv", sorted(credits, key=lambda r: r["file"])),
                       ("stats.csv", sorted(stats, key=lambda r: float(r["mean_chroma"])))):
        with open(args.out / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    low = sum(r["low_chroma"] == "true" for r in stats)
    print(f"{len(credits)} photos ({low} with mean chroma < {LOW_CHROMA:g}) in {args.out} "
          f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
