"""Assemble a held-out folder of real colour photos for ``colorgan evaluate``, none of them a bundled sample.

    python benchmarks/heldout_photos.py                      # -> data/heldout/, short side 512 px
    python benchmarks/heldout_photos.py --out data/heldout --size 512
    colorgan evaluate --ckpt C data/heldout

Recipe (Debian bookworm mirror only; needs ``apt-get`` and ``dpkg-deb``):

1. ``apt-get download`` the packages in ``PACKAGES`` into ``--cache`` (default data/heldout_debs/), skipped when a
   .deb is there; ``apt-get update`` runs only if a download fails for want of package lists. None of these
   packages is a source of ``colorgan/sample_photos`` (see its credits.csv), so the photos are unseen.
2. Stream each .deb's data tarball (``dpkg-deb --fsys-tarfile``) and keep only the allow-listed files and the
   package's ``usr/share/doc/<pkg>/copyright``. enlightenment-data keeps its photos in Eet archives (.edj) as plain
   JPEGs, each at a dozen sizes: the JPEG with the allow-listed index (in file order) is cut out by walking its
   markers from FF D8 to the closing FF D9, and must decode with Pillow.
3. ``ALLOW_LIST`` is fixed and was chosen by looking at every candidate: real photographs only. Left out:
   enlightenment-data Dunes, Flat-Fan, Flat-Stone-Pattern, Paper-Flower, Squiggle*, Sunset-Hills (drawings, renders,
   textures), Foggy-Trees and Peaks (photos, but nearly without colour); tuxpaint-data reef-back.png (a photo, but
   quantized to a 256-colour palette) and the drawn starters.
4. Each photo (cropped where the allow-list says, to drop black letterbox bars) is resized with Lanczos so that its
   short side is ``--size`` px, never upscaled (a few tuxpaint photos are smaller and keep their size: upscaling
   would only blur the ground truth), and saved as ``<out>/<package>__<name>.jpg`` (RGB, quality 95, no chroma
   subsampling, so the reference colours are not smeared).
5. ``<out>/CREDITS.md`` and ``<out>/credits.csv`` quote, per photo, the Copyright and License fields of the stanza of
   the package's debian/copyright that covers the file (the last matching ``Files:`` stanza, as in DEP-5).

A second run only checks what is there: outputs whose size matches ``<out>/.heldout.json`` are kept.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]

# The versions the allow-list was checked against; another version only warns (the edj indices could move).
PACKAGES = {"tuxpaint-data": "1:0.9.28-sdl2-1", "enlightenment-data": "0.25.4-2",
            "lomiri-wallpapers-20.04": "20.04.0-2"}


@dataclass(frozen=True)
class Photo:
    package: str
    path: str  # inside the package, without the leading "./"
    index: int | None = None  # the index-th JPEG (in file order) inside an .edj
    crop: tuple[int, int, int, int] | None = None  # (left, top, right, bottom) in source pixels
    note: str = ""  # attribution found elsewhere in the package (upstream docs), quoted beside debian/copyright

    @property
    def name(self) -> str:
        return f"{self.package}__{Path(self.path).stem}"


TUX = "usr/share/tuxpaint/templates/"
TUX_NOTE = "upstream AUTHORS.txt, Templates: Bill Kendrick <bill@newbreedsoftware.com>"
EDJ = "usr/share/enlightenment/data/backgrounds/"
ALLOW_LIST: tuple[Photo, ...] = (
    # tuxpaint-data templates: bark, rock and sea textures, trees, a sheep pasture, a lighthouse, a machine
    *(Photo("tuxpaint-data", f"{TUX}{stem}.jpg", note=TUX_NOTE) for stem in (
        "burnt_bark", "cliff", "corn_maze", "jellyfish", "lighthouse", "mossy_log", "mudstone", "ocean_splash",
        "ocean_waves", "redwoods_above", "rocks", "sheep", "spiders_web", "sun_behind_clouds", "sun_behind_leaves",
        "trees_above", "trees_at_dusk", "wool_mill_machine")),
    Photo("tuxpaint-data", f"{TUX}mossy_bark.jpg", crop=(0, 29, 640, 451), note=TUX_NOTE),  # black bars above/below
    Photo("tuxpaint-data", "usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg",
          note="upstream starters/skyline-sf-dusk.txt: Public domain, NOAA Photo Library line1989 "
               "(San Francisco Bay), photographer Rich Bourgerie, CO-OPS, NOS, NOAA"),
    # enlightenment-data wallpapers, 4K (index 4 is the 3840 px wide copy in each of these files)
    *(Photo("enlightenment-data", f"{EDJ}{stem}.edj", index=4) for stem in (
        "Bamboo", "God-Rays", "Green-Maple", "Lichen-Branches", "Mountain", "Red-Maple", "Sea-of-Lanterns",
        "Snow-Trees", "Spruce-Needles", "Sunset-Clouds", "White-Flower", "Yellow-Flower")),
    # a nuthatch on a tree trunk (lomiri-wallpapers-16.04 supplies bundled samples; this 20.04 set does not)
    Photo("lomiri-wallpapers-20.04", "usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg"),
)


def fail(message: str) -> NoReturn:
    sys.exit(f"heldout_photos: {message}")


def apt_download(package: str, cache: Path) -> Path:
    """The cached .deb of ``package``, fetched with ``apt-get download`` when missing."""
    debs = sorted(cache.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
    if debs:
        return debs[-1]
    if shutil.which("apt-get") is None:
        fail(f"apt-get not found: fetch {package} by hand into {cache} (this recipe needs a Debian/Ubuntu host)")
    for attempt in ("download", "after apt-get update"):
        run = subprocess.run(["apt-get", "download", package], cwd=cache, capture_output=True, text=True)
        debs = sorted(cache.glob(f"{package}_*.deb"))
        if run.returncode == 0 and debs:
            return debs[-1]
        # Only a missing or stale package list is worth an update; anything else (network, disk) is reported.
        if attempt == "download" and re.search(r"Unable to locate package|Can't select|No candidate", run.stderr):
            print(f"apt-get cannot find {package}; running apt-get update once", file=sys.stderr)
            if subprocess.run(["apt-get", "update"], capture_output=True).returncode != 0:
                fail("apt-get update failed (it needs root and the Debian mirror)")
            continue
        break
    fail(f"cannot fetch {package} with apt-get download:\n{run.stderr.strip()}")


def deb_version(deb: Path) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True,
                          check=True).stdout.strip()


def jpeg_end(data: bytes, start: int) -> int | None:
    """End (exclusive) of the JPEG at ``start``, walking its segments so that a thumbnail inside APP1 or an FF D9
    byte pair in some other Eet entry cannot end it early; None when the stream is broken."""
    i, n = start + 2, len(data)
    marker_after_scan = re.compile(rb"\xff[^\x00\xd0-\xd7]")  # in scan data FF is stuffed (FF 00) or a restart
    while i + 1 < n:
        if data[i] != 0xFF:
            return None
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        marker = data[i]
        i += 1
        if marker == 0xD9:
            return i
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            continue
        i += int.from_bytes(data[i:i + 2], "big")
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next real marker
            found = marker_after_scan.search(data, i)
            if found is None:
                return None
            i = found.start()
    return None


def cut_jpeg(edj: bytes, index: int) -> bytes:
    """The ``index``-th complete, decodable JPEG in an Eet archive (in file order)."""
    count, pos = 0, 0
    while (start := edj.find(b"\xff\xd8\xff", pos)) >= 0:
        end = jpeg_end(edj, start)
        if end is None:
            pos = start + 3
            continue
        if count == index:
            with Image.open(io.BytesIO(edj[start:end])) as image:
                image.load()  # raises on a truncated cut
            return edj[start:end]
        count, pos = count + 1, end
    raise ValueError(f"only {count} JPEGs, no index {index}")


def source_file(photo: Photo, cache: Path) -> Path:
    """Where the extracted photo (for an .edj: the cut JPEG) is kept in the cache."""
    target = cache / photo.package / photo.path
    return target.with_name(f"{target.name}.{photo.index}.jpg") if photo.index is not None else target


def copyright_path(package: str) -> str:
    return f"usr/share/doc/{package}/copyright"


def fetch(package: str, tested: str, photos: list[Photo], cache: Path,
          with_copyright: bool = True) -> tuple[str, str]:
    """Download ``package`` (unless cached), warn when its version is not the ``tested`` one, and extract those of
    ``photos`` not yet in ``cache`` and its copyright file; returns (version, debian/copyright text). With
    ``with_copyright`` false (a package whose /usr/share/doc/<pkg> is a link into another package's) the copyright
    file is not looked for and the text is empty."""
    deb = apt_download(package, cache)
    version = deb_version(deb)
    if version != tested:
        print(f"warning: {package} {version}, the photo list was checked on {tested}", file=sys.stderr)
    copyright_file = cache / package / copyright_path(package)
    missing = [p for p in photos if not source_file(p, cache).exists()]
    if missing or (with_copyright and not copyright_file.exists()):
        extract(deb, package, missing, cache, with_copyright)
    return version, copyright_file.read_text(encoding="utf-8") if with_copyright else ""


def extract(deb: Path, package: str, photos: list[Photo], cache: Path, with_copyright: bool = True) -> None:
    """Stream the .deb's files once and keep just the photos and the copyright file (the .deb may be 400 MB)."""
    wanted = ({copyright_path(package): None} if with_copyright else {}) | {p.path: p for p in photos}
    # stderr is dropped: stopping early breaks dpkg-deb's pipe, and a real failure shows as a tar error or a miss.
    dpkg = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    with tarfile.open(fileobj=dpkg.stdout, mode="r|") as tar:
        for member in tar:
            path = member.name.removeprefix("./")
            if path not in wanted:
                continue
            if not member.isfile():
                fail(f"{package}: {path} is not a plain file in {deb.name}")
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            photo = wanted.pop(path)
            target = cache / package / path
            if photo is not None:
                target = source_file(photo, cache)
                if photo.index is not None:
                    data = cut_jpeg(data, photo.index)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            if not wanted:
                break
    dpkg.stdout.close()  # type: ignore[union-attr]
    dpkg.wait()
    if wanted:
        fail(f"{package} ({deb.name}) lacks: {', '.join(sorted(wanted))}")


def dep5_stanza(copyright_text: str, path: str) -> dict[str, str]:
    """Files, Copyright and License (first line) of the last DEP-5 stanza whose ``Files:`` covers ``path``.

    Patterns name paths in the source tree, not the installed ones, so a pattern also matches at the end of the
    installed path (``*/pattern``) or, without wildcards, by its file name (lomiri lists ``20.04/x.jpg``, installed
    as ``usr/share/backgrounds/x.jpg``)."""
    best: dict[str, str] = {}
    for block in re.split(r"\n\s*\n", copyright_text):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        patterns = fields.get("Files", "").split()
        if any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(path, f"*/{p}")
               or (not re.search(r"[*?\[]", p) and Path(p).name == Path(path).name) for p in patterns):
            best = {"files": " ".join(patterns), "copyright": "; ".join(fields.get("Copyright", "").splitlines()),
                    "license": fields.get("License", "").splitlines()[0] if fields.get("License") else ""}
    return best


def save_resized(source: Path, photo: Photo, out: Path, size: int) -> tuple[int, int]:
    with Image.open(source) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
    if photo.crop:
        image = image.crop(photo.crop)
    scale = size / min(image.size)
    if scale < 1:  # never upscale
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    partial = out.with_name(f".{out.name}.part")  # an interrupted run leaves no half-written photo behind
    image.save(partial, "JPEG", quality=95, subsampling=0)
    partial.replace(out)
    return image.size


def write_credits(out: Path, rows: list[dict[str, str]], stanzas: dict[tuple[str, str, str], dict[str, str]]) -> None:
    with open(out / "credits.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "# Held-out photos — credits", "",
        f"{len(rows)} photos for `colorgan evaluate`, made by `benchmarks/heldout_photos.py` from Debian bookworm "
        "packages that supply none of the bundled sample photos. Each is a downscaled copy (Lanczos, short side "
        "at most the requested size, JPEG quality 95) of a file in the package; the originals keep their licences. "
        "Copyright and licence are those of the stanza of the package's `/usr/share/doc/<package>/copyright` that "
        "covers the file (quoted in full below); where the package's own docs name the photographer, that is "
        "given as a note. A catch-all `Files: *` stanza is the package's general statement and may not name the "
        "photographer.", "",
        "| file | package (version) | path in package | Files stanza | licence | note |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['file']} | {r['package']} ({r['version']}) | {r['path']}"
              + (f" (JPEG #{r['jpeg_index']} inside)" if r["jpeg_index"] else "") + f" | `{r['copyright_files']}` | "
              f"{r['license']} | {r['note']} |" for r in rows]
    lines += ["", "## Copyright stanzas quoted", ""]
    for (package, version, _), stanza in sorted(stanzas.items()):
        lines += [f"- **{package} {version}**, `Files: {stanza['files']}`  ",
                  f"  Copyright: {stanza['copyright']}  ", f"  License: {stanza['license']}"]
    (out / "CREDITS.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "heldout")
    parser.add_argument("--size", type=int, default=512, help="short side in px (default 512; never upscaled)")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "heldout_debs")
    args = parser.parse_args()
    start = time.perf_counter()
    if shutil.which("dpkg-deb") is None:
        fail("dpkg-deb not found: this recipe needs a Debian/Ubuntu host")
    args.out.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    stamp = args.out / ".heldout.json"  # hidden, so colorgan's image search skips it
    fresh = json.loads(stamp.read_text()).get("size") == args.size if stamp.exists() else False
    if not fresh:  # outputs of another size are all redone; no stamp until they are
        stamp.unlink(missing_ok=True)

    rows: list[dict[str, str]] = []
    stanzas: dict[tuple[str, str, str], dict[str, str]] = {}
    for package, tested in PACKAGES.items():
        photos = [p for p in ALLOW_LIST if p.package == package]
        todo = [p for p in photos if not (fresh and (args.out / f"{p.name}.jpg").exists())]
        version, text = fetch(package, tested, todo, args.cache)
        for photo in todo:
            save_resized(source_file(photo, args.cache), photo, args.out / f"{photo.name}.jpg", args.size)
        for photo in photos:
            stanza = dep5_stanza(text, photo.path) or {
                "files": "?", "copyright": f"see debian/copyright of {package} {version}", "license": "?"}
            stanzas[(package, version, stanza["files"])] = stanza
            rows.append({"file": f"{photo.name}.jpg", "package": package, "version": version, "path": "/" + photo.path,
                         "jpeg_index": "" if photo.index is None else str(photo.index),
                         "copyright_files": stanza["files"], "copyright": stanza["copyright"],
                         "license": stanza["license"], "note": photo.note})

    # Leave exactly the allow-list in the folder, e.g. after an entry was dropped from it.
    keep = {row["file"] for row in rows}
    for stale in args.out.glob("*__*.jpg"):
        if stale.name not in keep:
            stale.unlink()
    write_credits(args.out, rows, stanzas)
    stamp.write_text(json.dumps({"size": args.size}) + "\n")
    print(f"{len(rows)} held-out photos from {len(PACKAGES)} Debian packages in {args.out} "
          f"(short side <= {args.size} px, {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
