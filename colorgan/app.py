"""``colorgan app``: a local web page to paint where a photo gets color, built on Gradio (the ``app`` extra).

The page is a thin front end over :func:`colorgan.inference.colorize`, the function ``colorgan predict`` calls:
the user uploads a photo and, on a copy of it in an image editor, paints over what should be in color; the painted
layers' alpha is the mask (:func:`mask_from_editor`), and everything outside it comes out exactly gray. The uploaded
file itself is colorized (:class:`Upload`), read and written as predict reads and writes it (upright per EXIF,
16-bit files scaled as predict scales them, full size), not the 8-bit canvas the browser sends back; the result is
``<stem>_colorized.png``. Gradio is imported only when the page is built, so this module (and ``colorgan --help``)
works without the extra.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from colorgan.checkpoint import BUNDLED_MODEL, DEFAULT_SIZE, load_generator
from colorgan.errors import ColorganError, printable
from colorgan.hints import UserHint, parse_hint
from colorgan.images import IMAGE_SUFFIXES, READ_ERRORS, open_rgb
from colorgan.inference import PNG_LEVEL, colorize, prepare_mask, resolve_device
from colorgan.masks import LIBRARY, library_mask

__all__ = ["BRUSH", "DISPLAY_SIDE", "INSTALL_HINT", "PLACEHOLDER", "Upload", "add_hint", "build_app",
           "checkpoint_choices", "colorize_editor", "launch", "library_layer", "mask_from_editor", "open_upload",
           "parse_hint_lines", "save_result"]

INSTALL_HINT = "the app needs Gradio: pip install 'colorgan[app]'"
"""The one line ``colorgan app`` prints when the extra is missing."""
BRUSH = (255, 51, 102, 128)
"""The paint's RGBA: half transparent, so the photo shows through (any alpha > 0 is painted)."""
PLACEHOLDER = "Upload a photo above, or paste one"
"""What the empty editor says: it takes no upload of its own (the page keeps the uploaded file, see Upload)."""
DISPLAY_SIDE = 2048
"""Longest side of the copy of an uploaded photo that the editor shows; the file itself is colorized at full size."""


def _import_gradio() -> Any:
    """The gradio module, or a ColorganError saying what to install."""
    # Gradio reads this at import: without it, it reports usage to a server. The page is local and private.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    try:
        import gradio
    except ImportError:
        raise ColorganError(INSTALL_HINT) from None
    return gradio


def _array(image: Image.Image | np.ndarray) -> np.ndarray:
    return np.asarray(image)


def mask_from_editor(value: dict[str, Any]) -> torch.Tensor:
    """The (H, W) mask painted in a Gradio image editor: 1 wherever any layer has alpha > 0, else 0.

    Args:
        value: the editor's ``{"background", "layers", "composite"}`` with PIL images or uint8 arrays; the layers
            are RGBA. ``composite`` is not used: the brush color blended over the photo says nothing reliable
            about where the user painted, the alpha does.

    Returns:
        A float32 (H, W) tensor of 0 and 1 at the background's size (layers of another size are resized, nearest).

    Raises:
        ColorganError: no background (no photo uploaded) or a layer without an alpha channel.
    """
    background = value.get("background") if value else None
    if background is None:
        raise ColorganError("upload a photo first")
    height, width = _array(background).shape[:2]
    mask = np.zeros((height, width), dtype=bool)
    for layer in value.get("layers") or ():
        if layer is None:
            continue
        pixels = _array(layer)
        if pixels.ndim != 3 or pixels.shape[2] != 4:
            raise ColorganError(f"an editor layer must be RGBA, got shape {pixels.shape}")
        alpha = pixels[..., 3]
        if alpha.shape != (height, width):
            alpha = np.asarray(Image.fromarray(alpha).resize((width, height), Image.Resampling.NEAREST))
        mask |= alpha > 0
    return torch.from_numpy(mask.astype(np.float32))


def library_layer(name: str, height: int, width: int) -> Image.Image:
    """The library mask ``name`` as an editor layer: :data:`BRUSH` paint where it colors, transparent elsewhere."""
    painted = library_mask(name, height, width)[0].numpy() > 0.5
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    pixels[painted] = BRUSH
    return Image.fromarray(pixels, mode="RGBA")


def parse_hint_lines(text: str | None) -> list[UserHint]:
    """The hints of the page's hint box: one ``X,Y,COLOR[,SIZE]`` per line (as ``--hint``), blank lines skipped."""
    hints = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if line.strip():
            try:
                hints.append(parse_hint(line.strip()))
            except ValueError as error:
                raise ColorganError(f"hint line {number} ({line.strip()}): {error}") from None
    return hints


def add_hint(text: str | None, x: int, y: int, color: str) -> str:
    """``text`` with the hint ``x,y,color`` (a click at pixel (x, y) of the photo) added as its last line."""
    line = f"{x},{y},{color}"
    return f"{text.rstrip()}\n{line}" if text and text.strip() else line


def _thumbnail(image: Image.Image | np.ndarray) -> np.ndarray:
    """A 16x16 RGB float summary of an image, to tell whether the editor still shows an uploaded photo."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(_array(image))
    return np.asarray(picture.convert("RGB").resize((16, 16), Image.Resampling.BOX), dtype=np.float32)


@dataclass(frozen=True, eq=False)  # eq by identity: the thumbnail array has no plain ==
class Upload:
    """An uploaded photo file, kept on the server while the editor shows a copy of it (:func:`open_upload`)."""

    path: str
    """The file, as Gradio stored the upload (its own name kept)."""
    size: tuple[int, int]
    """(width, height) of the photo upright, the size it is colorized at."""
    shown: tuple[int, int]
    """(width, height) of the copy in the editor: smaller than ``size`` for photos over :data:`DISPLAY_SIDE`."""
    thumbnail: np.ndarray
    """The copy's :func:`_thumbnail`."""

    def shows(self, background: Image.Image | np.ndarray | None) -> bool:
        """Whether the editor's ``background`` is still this photo's copy, not a photo pasted over it since."""
        if background is None:
            return False
        height, width = _array(background).shape[:2]
        # The browser draws the copy on a canvas and sends it back as PNG: the same pixels, or within a level or
        # two where it manages color. A different photo of the same size is tens of levels away somewhere.
        return (width, height) == self.shown and float(np.abs(_thumbnail(background) - self.thumbnail).max()) <= 2.0


def open_upload(path: str | Path) -> tuple[Image.Image, Upload]:
    """The editor's copy of the photo file ``path`` (8-bit RGB, upright, at most :data:`DISPLAY_SIDE` on its long
    side) and the :class:`Upload` that :func:`colorize_editor` colorizes instead of the copy.

    Raises:
        ColorganError: the file is not a readable image.
    """
    try:
        picture = open_rgb(path)  # as predict reads it: EXIF orientation applied, 16 bits scaled to 8
    except READ_ERRORS as error:
        raise ColorganError(f"cannot read image {Path(path).name} ({error})") from None
    size = picture.size
    picture.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.LANCZOS)  # in place; aspect kept
    return picture, Upload(str(path), size, picture.size, _thumbnail(picture))


def colorize_editor(value: dict[str, Any], generator: torch.nn.Module, size: int | None = DEFAULT_SIZE,
                    invert: bool = False, feather: float = 0.0, hints: str | None = None,
                    upload: Upload | None = None) -> Image.Image:
    """Colorize the editor's photo where it is painted (or, with ``invert``, where it is not), ``feather`` pixels
    soft at the edges, with the color ``hints`` (lines of :func:`parse_hint_lines`, for a model trained with
    them); exactly gray elsewhere, at the photo's full size.

    The photo is the ``upload``'s file while the editor shows its copy: :func:`colorize` reads it as predict does,
    and the paint is resized (nearest) to it. Otherwise (nothing uploaded, or a photo pasted over the copy) it is
    the editor's background, 8 bits as the browser sent it.
    """
    user_hints = parse_hint_lines(hints)
    mask = mask_from_editor(value)
    if not mask.any() and not invert:
        raise ColorganError("nothing is painted: paint over what should be in color, then colorize")
    background = value["background"]
    if upload is not None and upload.shows(background):
        photo: Image.Image | str = upload.path
        width, height = upload.size
        if mask.shape != (height, width):
            painted = Image.fromarray(mask.numpy().astype(np.uint8)).resize((width, height), Image.Resampling.NEAREST)
            mask = torch.from_numpy(np.asarray(painted, dtype=np.float32))
    else:
        photo = background if isinstance(background, Image.Image) else Image.fromarray(_array(background))
    # the same invert and feather as `colorgan predict --invert --feather`, in pixels of the colorized photo
    mask = prepare_mask(mask, *mask.shape, invert=invert, feather=feather)
    return colorize(photo, mask=mask, generator=generator, size=size, hints=user_hints)


def save_result(image: Image.Image, name: str, folder: str | Path) -> Path:
    """Write ``image`` as PNG (as predict writes its outputs) to ``folder/<stem of name>_colorized.png`` in a new
    subfolder of ``folder``, so results of photos with the same name do not replace each other."""
    target = Path(tempfile.mkdtemp(dir=folder)) / f"{Path(name).stem}_colorized.png"
    image.save(target, format="PNG", compress_level=PNG_LEVEL)
    return target


def checkpoint_choices(root: str | Path = "runs") -> list[str]:
    """Checkpoints and exports under ``root`` (recursive), newest first, for the page's picker."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return []
    found = [p for pattern in ("*.ckpt", "*.safetensors") for p in root.rglob(pattern) if p.is_file()]
    return [str(p) for p in sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)]


class _Generators:
    """Loaded generators by checkpoint path, so each click does not reload one (reloaded when the file changes)."""

    def __init__(self, device: str | torch.device) -> None:
        self.device = resolve_device(device)
        self.loaded: dict[str, tuple[int, torch.nn.Module, int]] = {}

    def __call__(self, ckpt: str) -> tuple[torch.nn.Module, int]:
        path = Path(ckpt).expanduser()
        stamp = path.stat().st_mtime_ns if path.is_file() else -1
        if ckpt not in self.loaded or self.loaded[ckpt][0] != stamp:
            generator, info = load_generator(path, self.device)
            self.loaded = {ckpt: (stamp, generator, info.get("image_size") or DEFAULT_SIZE)}  # one in memory
        _, generator, size = self.loaded[ckpt]
        return generator, size


def build_app(ckpt: str | Path | None = None, runs: str | Path = "runs", device: str = "auto") -> Any:
    """The page as a ``gradio.Blocks`` (not launched). ``ckpt`` is preselected, else the newest under ``runs``,
    else the bundled default model (always in the list).

    Its API endpoints are what the page calls: ``/open_photo(file) -> (editor, result)`` (the file kept for the
    session, its copy in the editor), ``/colorize(editor, checkpoint, invert, feather, hints) -> image`` (a
    ``<stem>_colorized.png`` path) and ``/library_mask(editor, name) -> editor`` (the paint replaced by a library
    mask). Results are written in a temporary folder of the page's own, removed when the process ends.
    """
    gr = _import_gradio()
    choices = checkpoint_choices(runs)
    if BUNDLED_MODEL.is_file():  # always offered; preselected when runs/ has nothing of the user's own
        choices.append(str(BUNDLED_MODEL))
    selected = str(ckpt) if ckpt is not None else (choices[0] if choices else None)
    if ckpt is None and selected == str(BUNDLED_MODEL):
        print(printable(f"colorgan: using the bundled default model {BUNDLED_MODEL.name} (no checkpoint under "
                        f"{Path(runs)}/; pick or type another in the page)"), file=sys.stderr)
    if selected is not None and selected not in choices:
        choices.insert(0, selected)
    generators = _Generators(device)
    tracker = gr.Progress()  # Gradio finds the progress bar by a default argument of this type
    results = tempfile.TemporaryDirectory(prefix="colorgan-app-")  # removed when the page is garbage or at exit
    written: list[Path] = []

    def load(path: str | None) -> tuple[Any, Upload | None, None]:
        """A new photo file: its copy in the editor (the old paint and result go), the file kept for colorize."""
        if not path:
            return None, None, None
        try:
            copy, upload = open_upload(path)
        except ColorganError as error:
            raise gr.Error(str(error)) from None
        return {"background": copy, "layers": [], "composite": None}, upload, None

    def run(value: dict[str, Any] | None, upload: Upload | None, checkpoint: str | None, invert: bool = False,
            feather: float = 0.0, hints: str | None = None, progress: Any = tracker) -> str:
        # Errors reach the page as a message box; a traceback would mean nothing to a photographer.
        try:
            if not checkpoint:
                raise ColorganError("choose a checkpoint, or type the path of one")
            if upload is not None and not upload.shows((value or {}).get("background")):
                gr.Warning(f"the editor no longer shows {Path(upload.path).name}: colorizing its photo as the browser "
                           "sent it (8 bits)")
                upload = None
            progress(0.1, desc="loading the checkpoint")
            generator, size = generators(checkpoint)
            progress(0.4, desc="colorizing")
            image = colorize_editor(value or {}, generator, size, invert=invert, feather=float(feather or 0.0),
                                    hints=hints, upload=upload)
        except ColorganError as error:
            raise gr.Error(str(error)) from None
        target = save_result(image, Path(upload.path).name if upload is not None else "photo", results.name)
        # Gradio copies a returned file into its own cache, so only the newest few are kept here.
        written.append(target.parent)
        while len(written) > 4:
            shutil.rmtree(written.pop(0), ignore_errors=True)
        return str(target)

    def start_from(value: dict[str, Any] | None, name: str | None) -> Any:
        """The editor with its paint replaced by the library mask ``name`` (the user can paint and erase on)."""
        background = (value or {}).get("background")
        if not name:
            return gr.skip()
        if background is None:
            raise gr.Error("upload a photo first")
        height, width = _array(background).shape[:2]
        return {"background": background, "layers": [library_layer(name, height, width)], "composite": None}

    paint = gr.Brush(colors=[("#{:02x}{:02x}{:02x}".format(*BRUSH[:3]), BRUSH[3] / 255)], color_mode="fixed")
    with gr.Blocks(title="colorgan") as page:
        gr.Markdown("## colorgan: paint where to color\nUpload a photo, paint over what should be in color, "
                    "then click **Colorize**. Outside the paint the photo stays exactly gray. The file itself is "
                    "colorized, at full size.")
        with gr.Row():
            checkpoint = gr.Dropdown(choices, value=selected, label="Checkpoint (under runs/, or type a path)",
                                     allow_custom_value=True)
        upload = gr.State(None)  # the uploaded file of this browser session (an Upload)
        with gr.Row():
            photo = gr.File(label="Photo", file_types=sorted(IMAGE_SUFFIXES), type="filepath", height=130,
                            elem_id="photo")
        with gr.Row():
            # The editor shows a copy of the uploaded photo (see Upload); a photo pasted into it is used as is.
            # PNG, not Gradio's default WebP: WebP is lossy, and its rounding would shift the painted alpha and
            # the gray pixels. The layer's alpha is the mask; the brush color is only what the user sees.
            editor = gr.ImageEditor(type="pil", image_mode="RGBA", format="png", label="Photo: paint where to color",
                                    sources=("clipboard",), transforms=(), layers=False, placeholder=PLACEHOLDER,
                                    brush=paint, elem_id="editor")
            # A file path, not an image: the download then has the file's name, <stem>_colorized.png.
            result = gr.Image(type="filepath", label="Colorized (full resolution)", interactive=False,
                              buttons=["download", "fullscreen"], elem_id="result")
        with gr.Row():
            library = gr.Dropdown([None, *LIBRARY], value=None, label="Start from a library mask (then paint or erase)",
                                  elem_id="library")
            invert = gr.Checkbox(label="Invert: color where it is not painted", elem_id="invert")
            feather = gr.Slider(0, 64, value=0, step=1, label="Feather (pixels of soft edge)", elem_id="feather")
        with gr.Row():
            # Hints are placed on the result, not the editor: a click in the editor paints.
            color = gr.ColorPicker("#2060ff", label="Hint color", elem_id="hint_color")
            hints = gr.Textbox(label="Color hints, for a model trained with them: click the result to add one "
                               "(X,Y,COLOR per line)", lines=2, elem_id="hints")
        button = gr.Button("Colorize", variant="primary", elem_id="colorize")
        photo.upload(load, inputs=photo, outputs=[editor, upload, result], api_name="open_photo")
        photo.clear(lambda: (None, None, None), outputs=[editor, upload, result], api_name=False)
        library.input(start_from, inputs=[editor, library], outputs=editor, api_name="library_mask")
        button.click(run, inputs=[editor, upload, checkpoint, invert, feather, hints], outputs=result,
                     api_name="colorize")

        def place(text: str | None, picked: str, event: Any) -> str:
            x, y = event.index  # pixels of the full-resolution result, the photo's own
            return add_hint(text, int(x), int(y), picked)

        # Gradio passes the click by the parameter's type; postponed annotations would hide it (gr is local).
        place.__annotations__["event"] = gr.SelectData
        result.select(place, inputs=[hints, color], outputs=hints, api_name=False)
    return page


def launch(ckpt: str | Path | None = None, host: str = "127.0.0.1", port: int | None = None, device: str = "auto",
           prevent_thread_lock: bool = False, **options: Any) -> Any:
    """Build the page and serve it at ``http://host:port`` (localhost by default: the page is for this machine).

    Returns the launched ``gradio.Blocks``; with ``prevent_thread_lock`` it returns at once (call ``.close()``).
    """
    page = build_app(ckpt, device=device)
    page.queue(default_concurrency_limit=1)  # one colorization at a time: a second big photo would double memory
    page.launch(server_name=host, server_port=port, prevent_thread_lock=prevent_thread_lock, show_error=True,
                **options)
    return page

