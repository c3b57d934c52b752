import errno
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_image_folder, make_messy_folder
from PIL import Image

from colorgan.errors import ColorganError
from colorgan.images import ImageFolderDataset, PackedImages, find_images, open_rgb, screen_images


def test_open_rgb_converts_every_mode(tmp_path):
    folder = make_messy_folder(tmp_path)
    for name in ["cmyk.jpg", "rgba.png", "palette.png", "gray.jpg", "gray16.png", "rotated.jpg"]:
        image = open_rgb(folder / name)
        assert image.mode == "RGB", name
    assert open_rgb(folder / "rotated.jpg").size == (48, 64)  # EXIF orientation applied: portrait
    g16 = np.asarray(open_rgb(folder / "gray16.png"))
    assert g16.max() > 200 and np.all(g16[..., 0] == g16[..., 1])  # scaled from 16 bit, not clipped to white


def test_open_rgb_composites_transparency_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    assert np.all(np.asarray(open_rgb(tmp_path / "clear.png")) == 255)


def test_predict_and_evaluate_paths_do_not_import_lightning():
    """``colorgan predict`` should start in the time torch takes to import, without Lightning's seconds on top."""
    code = ("import sys, colorgan, colorgan.cli, colorgan.commands, colorgan.inference, colorgan.evaluation.run; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytorch_lightning', 'lightning')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def _windows(image: torch.Tensor, size: int) -> set[bytes]:
    """Every size x size crop of a (3, H, W) image, as bytes."""
    _, h, w = image.shape
    return {image[:, t:t + size, left:left + size].numpy().tobytes()
            for t in range(h - size + 1) for left in range(w - size + 1)}


def test_packed_random_crops_are_crops_of_the_right_image_at_every_position():
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=generator)
              for h, w in [(8, 11), (13, 8), (9, 9)]]  # portrait, landscape, square; all different sizes
    packed = PackedImages(images)
    index = torch.tensor([0, 1, 2, 1, 0] * 60)
    crops = packed.random_crops(index, 8)
    assert crops.shape == (300, 3, 8, 8) and crops.dtype == torch.uint8
    seen: dict[int, set[bytes]] = {0: set(), 1: set(), 2: set()}
    for i, crop in zip(index.tolist(), crops, strict=True):
        key = crop.numpy().tobytes()
        assert key in _windows(images[i], 8), "a crop is a window of the image it was drawn from"
        seen[i].add(key)
    # random placement reaches every window: 4 along the 11-px side, 6 along the 13-px side, 2x2 on the 9x9 image
    assert [len(s) for s in seen.values()] == [len(_windows(im, 8)) for im in images] == [4, 6, 4]


def test_packed_images_to_their_own_device_is_free_and_empty_is_an_error():
    packed = PackedImages([torch.zeros(3, 10, 12, dtype=torch.uint8)])
    assert packed.to("cpu") is packed  # already there: no copy
    with pytest.raises(ColorganError):
        PackedImages([])


def test_screening_skips_a_decompression_bomb_with_a_warning_naming_it(tmp_path, monkeypatch):
    """Pillow refuses images over twice MAX_IMAGE_PIXELS at open; a small limit makes a 40x48 PNG such a bomb."""
    folder = make_image_folder(tmp_path / "images", count=2)
    bomb = folder / "photo_00.png"
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 40 * 48 = 1920 pixels > 2 * 100
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert screen_images([bomb], 8) == []
    assert [str(w.message) for w in caught if str(bomb) in str(w.message)], [str(w.message) for w in caught]


def test_skip_bad_indexes_only_the_files_that_decode(tmp_path):
    folder = make_image_folder(tmp_path / "images", count=3)
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, "JPEG")  # noisy: long scan data, so half of it is a truncated image
    broken = folder / "photo_01b.jpg"
    broken.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    files = sorted(folder.iterdir())
    good = [f for f in files if f != broken]
    for cache in (False, True):
        with pytest.warns(UserWarning, match=f"skipping {broken}"):
            dataset = ImageFolderDataset(files, 16, train=False, cache=cache, skip_bad=True)
        assert dataset.files == good and len(dataset) == 3
        expected = ImageFolderDataset(good, 16, train=False)
        for i in range(3):  # each good image exactly once, in order: none stands in for the broken one
            assert torch.equal(dataset[i]["image"], expected[i]["image"]), (cache, i)
    broken_only = [broken]
    with pytest.warns(UserWarning, match="cannot decode"), pytest.raises(ColorganError, match="could be decoded"):
        ImageFolderDataset(broken_only, 16, train=False, skip_bad=True)


def test_find_images_follows_linked_folders_and_reaches_each_file_once(tmp_path):
    root = tmp_path / "root"
    deep = make_image_folder(root / "real" / "deep", count=2)
    Image.new("RGB", (40, 48), "red").save(deep / "SHOUT.JPEG")  # suffixes match whatever their case
    (deep / "notes.txt").write_text("not an image")
    outside = make_image_folder(tmp_path / "outside", count=1)
    (root / "linked").symlink_to(outside, target_is_directory=True)  # a folder kept elsewhere: followed
    (root / "alias").symlink_to(root / "real", target_is_directory=True)  # a folder reached twice
    (deep / "up").symlink_to(root, target_is_directory=True)  # an ancestor: must not loop
    (root / "again.png").symlink_to(deep / "photo_00.png")  # a file reached twice
    (root / ".hidden").symlink_to(outside, target_is_directory=True)  # hidden, like any dot-name
    (root / "gone.png").symlink_to(tmp_path / "missing.png")  # a dangling link is no image
    # each file once, by the path through the fewest links
    assert find_images(root) == [root / "linked" / "photo_00.png", deep / "SHOUT.JPEG", deep / "photo_00.png",
                                 deep / "photo_01.png"]
    # from inside, "up" leads to the rest of the tree once: its "real" is where the walk started
    assert find_images(root / "alias") == [root / "alias" / "deep" / p for p in
                                           ["SHOUT.JPEG", "photo_00.png", "photo_01.png", "up/linked/photo_00.png"]]


def test_find_images_warns_naming_a_folder_it_cannot_read(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "root", count=1)
    locked = make_image_folder(root / "locked", count=1)
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads any folder: refuse this one as the kernel refuses everyone else
        scandir = os.scandir

        def refusing(path="."):
            if Path(path) == locked:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return scandir(path)

        monkeypatch.setattr(os, "scandir", refusing)
    try:
        with pytest.warns(UserWarning, match=f"skipping folder {locked}: cannot read it"):
            assert find_images(root) == [root / "photo_00.png"]
    finally:
        locked.chmod(0o755)


def test_skip_warnings_show_names_that_are_not_utf8_by_their_bytes(tmp_path):
    bad = tmp_path / os.fsdecode(b"caf\xe9.jpg")
    bad.write_bytes(b"not an image")
    with pytest.warns(UserWarning, match=r"skipping .*caf\\xe9\.jpg: not a readable image") as caught:
        assert screen_images([bad], 8) == []
    str(caught[0].message).encode("utf-8")  # printable under a strict UTF-8 stream
