"""The README's screenshot of ``colorgan app`` (docs/images/app.png), taken in a real browser on a running page.

    GRADIO_ANALYTICS_ENABLED=False colorgan app --ckpt runs/quickstart/version_0/checkpoints/last.ckpt --port 7861 &
    python benchmarks/app_screenshot.py --url http://127.0.0.1:7861 --out docs/images/app.png --hint 0.55 0.5

It drives the page as a user does, with the selectors of tests/test_app.py: uploads ``--photo`` through the Photo
box, paints the STROKES below with the mouse (fractions of the photo as the editor shows it), clicks the result once to
place a hint in ``--hint-color`` (with ``--hint X,Y``, fractions of the result), clicks Colorize again and saves a
full-page screenshot, scaled to at most ``--width`` pixels wide, as an RGB PNG (no palette: the gray stays gray).
Needs Playwright (``pip install playwright==1.65.2``) and Chromium at ``--chromium``; Playwright's own browser
downloads are never used.
"""

from __future__ import annotations

import argparse
import io
import re
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image

PHOTO = Path(__file__).resolve().parents[1] / "colorgan" / "sample_photos" / "red_marigold.jpg"
# Three strokes over the left half of the marigold's petals, in fractions of the photo (x, y).
STROKES = (
    ((0.50, 0.40), (0.56, 0.34), (0.62, 0.36)),
    ((0.47, 0.52), (0.55, 0.50), (0.63, 0.54)),
    ((0.52, 0.66), (0.58, 0.72), (0.62, 0.84)),
)


def photo_box(page, canvas) -> tuple[float, float, float, float]:
    """(x, y, width, height) in page pixels of the photo drawn in the editor's canvas (the canvas letterboxes it)."""
    box = canvas.bounding_box()
    shot = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), dtype=np.int16)
    background = shot[2, 2]
    rows, cols = np.nonzero(np.abs(shot - background).max(axis=2) > 12)
    scale = shot.shape[1] / box["width"]  # device pixels per CSS pixel
    left, top = cols.min() / scale, rows.min() / scale
    return box["x"] + left, box["y"] + top, (cols.max() - cols.min() + 1) / scale, (rows.max() - rows.min() + 1) / scale


def paint(page, area: tuple[float, float, float, float], strokes) -> None:
    """Mouse strokes through the points of ``strokes`` (fractions of ``area``), the brush being the default tool."""
    x0, y0, width, height = area
    for stroke in strokes:
        points = [(x0 + fx * width, y0 + fy * height) for fx, fy in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for (ax, ay), (bx, by) in pairwise(points):
            for step in range(1, 9):
                page.mouse.move(ax + (bx - ax) * step / 8, ay + (by - ay) * step / 8)
        page.mouse.up()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:7861")
    parser.add_argument("--out", type=Path, default=Path("docs/images/app.png"))
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--hint", type=float, nargs=2, metavar=("X", "Y"), default=None,
                        help="also place one hint by clicking the result here (fractions of it) and colorize again")
    parser.add_argument("--hint-color", default="#ffcc00")
    parser.add_argument("--width", type=int, default=1400, help="viewport width and the most the PNG is wide")
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height}, device_scale_factor=1)
        page.set_default_timeout(120_000)
        page.goto(args.url)
        page.locator("#editor canvas").first.wait_for()
        page.locator("#photo input[type=file]").set_input_files(str(args.photo))
        expect(page.locator("#editor button[title=Undo]")).to_be_enabled(timeout=120_000)
        page.wait_for_timeout(1500)  # the photo is drawn a moment after the undo step
        canvas = page.locator("#editor canvas").first
        paint(page, photo_box(page, canvas), STROKES)
        page.click("#colorize")
        result = page.locator("#result img")
        result.wait_for(timeout=120_000)
        if args.hint is not None:
            # The picker is a button that opens a dialog with a hex field; a click outside closes it.
            page.locator("#hint_color button.dialog-button").click()
            field = page.locator("#hint_color input[type=text]")
            field.fill(args.hint_color)
            field.press("Enter")
            page.locator("#hints textarea").click()
            box = result.bounding_box()
            old = result.get_attribute("src")
            result.click(position={"x": args.hint[0] * box["width"], "y": args.hint[1] * box["height"]})
            # The hint's line has the picked color: the picker took it.
            expect(page.locator("#hints textarea")).to_have_value(
                re.compile(rf"^\d+,\d+,{re.escape(args.hint_color)}$", re.IGNORECASE), timeout=30_000)
            page.click("#colorize")
            expect(result).not_to_have_attribute("src", old or "", timeout=120_000)
        page.wait_for_timeout(2000)  # the progress overlay fades, the image loads
        page.mouse.move(1, 1, steps=20)  # the brush's cursor circle off the canvas
        shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
        browser.close()

    if shot.width > args.width:
        shot = shot.resize((args.width, round(shot.height * args.width / shot.width)), Image.Resampling.LANCZOS)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shot.save(args.out, format="PNG", optimize=True)
    print(f"{args.out}: {shot.width}x{shot.height}, {args.out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
