import numpy as np
import pytest
import torch
from PIL import Image

from colorgan.masks import (
    LIBRARY,
    PROCEDURAL,
    MaskSampler,
    library_dir,
    library_mask,
    load_mask,
    resolve_mask,
    write_library,
)


def test_library_patterns_mean_what_their_names_say():
    left = library_mask("half_vertical", 4, 6)
    assert left.shape == (1, 4, 6) and left[0, :, :3].min() == 1 and left[0, :, 3:].max() == 0
    top = library_mask("half_horizontal", 4, 6)
    assert top[0, :2].min() == 1 and top[0, 2:].max() == 0
    stripes = library_mask("stripes", 2, 16)[0, 0]
    assert stripes.tolist() == [1, 1, 0, 0] * 4  # 8 vertical bands alternating color / gray
    assert library_mask("center_square", 8, 8)[0].sum() == 16
    board = library_mask("checkerboard", 8, 8)[0]
    assert board[0, 0] == 1 and board[0, 2] == 0 and board[2, 0] == 0 and board[2, 2] == 1


def test_every_library_mask_is_binary_and_nontrivial():
    for name in LIBRARY:
        m = library_mask(name, 64, 48)
        assert set(m.unique().tolist()) == {0.0, 1.0}, name


def test_shipped_pngs_match_the_definitions():
    folder = library_dir()
    pngs = sorted(p.stem for p in folder.glob("*.png"))
    assert pngs == sorted(LIBRARY)
    for name in LIBRARY:
        expected = library_mask(name, 256, 256)
        assert torch.equal(load_mask(folder / f"{name}.png"), expected), name


def test_write_and_load_round_trip(tmp_path):
    (path,) = write_library(tmp_path, 40, 30, ["circle"])
    assert Image.open(path).size == (30, 40)
    assert torch.equal(load_mask(path), library_mask("circle", 40, 30))


def test_load_mask_resizes_thresholds_and_reads_alpha(tmp_path):
    array = np.zeros((10, 20), np.uint8)
    array[:, :10] = 255
    Image.fromarray(array).save(tmp_path / "m.png")
    soft = load_mask(tmp_path / "m.png", size=(5, 40))
    assert soft.shape == (1, 5, 40) and soft.min() == 0 and soft.max() == 1
    assert set(load_mask(tmp_path / "m.png", size=(5, 40), threshold=0.5).unique().tolist()) == {0.0, 1.0}
    rgba = np.full((4, 4, 4), 255, np.uint8)
    rgba[:, :2, 3] = 0  # transparent left half means gray
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert load_mask(tmp_path / "a.png")[0, 0].tolist() == [0, 0, 1, 1]


def test_resolve_mask_by_name_and_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    by_name = resolve_mask("stripes", (24, 32))
    assert torch.equal(by_name, resolve_mask("stripes.png", (24, 32)))
    (path,) = write_library(tmp_path / "m", 24, 32, ["stripes"])
    assert torch.equal(resolve_mask(str(path), (24, 32)), by_name)
    with pytest.raises(FileNotFoundError, match="neither a file nor a library mask"):
        resolve_mask("no_such_mask", (8, 8))
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot read mask"):
        resolve_mask(str(tmp_path / "junk.png"), (8, 8))


@pytest.mark.parametrize("family", sorted(PROCEDURAL) + ["library"])
def test_each_family_draws_binary_varied_masks(family):
    sampler = MaskSampler({family: 1.0})
    masks = sampler(16, 40, 56, "cpu", torch.Generator().manual_seed(0))
    assert masks.shape == (16, 1, 40, 56)
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    coverage = masks.mean(dim=(1, 2, 3))
    if family == "full":
        assert torch.all(coverage == 1)
    elif family == "empty":
        assert torch.all(coverage == 0)
    else:
        assert 0.05 < coverage.mean() < 0.95, coverage
        assert len({tuple(m.flatten().tolist()) for m in masks}) > 4  # random, not one pattern repeated


def test_sampler_is_reproducible_and_follows_probabilities():
    sampler = MaskSampler({"full": 3.0, "empty": 1.0})
    a = sampler(400, 4, 4, "cpu", torch.Generator().manual_seed(1))
    b = sampler(400, 4, 4, "cpu", torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert 0.65 < a.mean().item() < 0.85  # 3:1 full vs empty


def test_sampler_rejects_bad_configuration():
    with pytest.raises(ValueError, match="unknown mask families"):
        MaskSampler({"stripez": 1.0})
    with pytest.raises(ValueError, match="positive sum"):
        MaskSampler({"full": 0.0})


def test_extra_masks_join_the_library_family():
    custom = torch.zeros(1, 8, 8)
    custom[:, 2:6, 2:6] = 1
    sampler = MaskSampler({"library": 1.0}, extra_masks=[custom], library_names=["half_vertical"])
    masks = sampler(64, 8, 8, "cpu", torch.Generator().manual_seed(0))
    assert any(torch.equal(m, custom) for m in masks)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="host syncs exist only with an accelerator")
def test_training_masks_are_drawn_without_host_sync() -> None:
    sampler = MaskSampler()  # every family, as in training
    torch.cuda.set_sync_debug_mode("error")
    try:
        masks = sampler(64, 32, 32, "cuda")
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert masks.shape == (64, 1, 32, 32) and masks.device.type == "cuda"
