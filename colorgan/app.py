"""``colorgan app``: a local web page to paint where a photo gets color, built on Gradio (the ``app`` extra).

The page is a thin front end over :func:`colorgan.inference.colorize`, the function ``colorgan predict`` calls:
the user uploads a photo into an image editor and paints over what should be in color; the painted layers'
alpha is the mask (:func:`mask_from_editor`), and everything outside it comes out exactly gray. Gradio is imported
only when the page is built, so this module (and ``colorgan --help``) works without the extra.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from colorgan.checkpoint import DEFAULT_SIZE, load_generator
from colorgan.errors import ColorganError
from colorgan.hints import UserHint, parse_hint
from colorgan.inference import colorize, prepare_mask, resolve_device
from colorgan.masks import LIBRARY, library_mask

__all__ = ["BRUSH", "INSTALL_HINT", "add_hint", "build_app", "checkpoint_choices", "colorize_editor", "launch",
           "library_layer", "mask_from_editor", "parse_hint_lines"]

INSTALL_HINT = "the app needs Gradio: pip install 'colorgan[app]'"
"""The one line ``colorgan app`` prints when the extra is missing."""
BRUSH = (255, 51, 102, 128)
"""The paint's RGBA: half transparent, so the photo shows through (any alpha > 0 is painted)."""


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


def colorize_editor(value: dict[str, Any], generator: torch.nn.Module, size: int | None = DEFAULT_SIZE,
                    invert: bool = False, feather: float = 0.0, hints: str | None = None) -> Image.Image:
    """Colorize the editor's photo where it is painted (or, with ``invert``, where it is not), ``feather`` pixels
    soft at the edges, with the color ``hints`` (lines of :func:`parse_hint_lines`, for a model trained with
    them); exactly gray elsewhere, at the photo's full size."""
    user_hints = parse_hint_lines(hints)
    mask = mask_from_editor(value)
    if not mask.any() and not invert:
        raise ColorganError("nothing is painted: paint over what should be in color, then colorize")
    background = value["background"]
    photo = background if isinstance(background, Image.Image) else Image.fromarray(_array(background))
    # the same invert and feather as `colorgan predict --invert --feather`
    mask = prepare_mask(mask, *mask.shape, invert=invert, feather=feather)
    return colorize(photo, mask=mask, generator=generator, size=size, hints=user_hints)


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
    """The page as a ``gradio.Blocks`` (not launched). ``ckpt`` is preselected, else the newest under ``runs``.

    Its API endpoints are what the page calls: ``/colorize(editor, checkpoint, invert, feather, hints) -> image`` and
    ``/library_mask(editor, name) -> editor`` (the paint replaced by a library mask).
    """
    gr = _import_gradio()
    choices = checkpoint_choices(runs)
    selected = str(ckpt) if ckpt is not None else (choices[0] if choices else None)
    if selected is not None and selected not in choices:
        choices.insert(0, selected)
    generators = _Generators(device)
    tracker = gr.Progress()  # Gradio finds the progress bar by a default argument of this type

    def run(value: dict[str, Any] | None, checkpoint: str | None, invert: bool = False, feather: float = 0.0,
            hints: str | None = None, progress: Any = tracker) -> Image.Image:
        # Errors reach the page as a message box; a traceback would mean nothing to a photographer.
        try:
            if not checkpoint:
                raise ColorganError("choose a checkpoint, or type the path of one")
            progress(0.1, desc="loading the checkpoint")
            generator, size = generators(checkpoint)
            progress(0.4, desc="colorizing")
            return colorize_editor(value or {}, generator, size, invert=invert, feather=float(feather or 0.0),
                                   hints=hints)
        except ColorganError as error:
            raise gr.Error(str(error)) from None

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
                    "then click **Colorize**. Outside the paint the photo stays exactly gray.")
        with gr.Row():
            checkpoint = gr.Dropdown(choices, value=selected, label="Checkpoint (under runs/, or type a path)",
                                     allow_custom_value=True)
        with gr.Row():
            # PNG, not Gradio's default WebP: WebP is lossy, and its rounding would shift the painted alpha and
            # the gray pixels. The layer's alpha is the mask; the brush color is only what the user sees.
            editor = gr.ImageEditor(type="pil", image_mode="RGBA", format="png", label="Photo: paint where to color",
                                    sources=("upload", "clipboard"), transforms=(), layers=False,
                                    brush=paint, elem_id="editor")
            result = gr.Image(type="pil", format="png", label="Colorized (full resolution)", interactive=False,
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
        library.input(start_from, inputs=[editor, library], outputs=editor, api_name="library_mask")
        button.click(run, inputs=[editor, checkpoint, invert, feather, hints], outputs=result, api_name="colorize")

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

