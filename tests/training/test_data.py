import io
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_image_folder, make_messy_folder
from PIL import Image

from colorgan.errors import ColorganError
from colorgan.evaluation.protocol import PROTOCOL_FAMILIES
from colorgan.images import ImageFolderDataset, find_images
from colorgan.training.data import ColorizationDataModule, resolve_data_dir, zoomed_crops


def test_setup_skips_bad_files_with_a_warning_naming_each(tmp_path):
    folder = make_messy_folder(tmp_path / "messy")
    dm = ColorizationDataModule(str(folder), image_size=32, batch_size=4, num_workers=0, val_fraction=0.2)
    with pytest.warns(UserWarning) as record:
        dm.setup("fit")
    messages = "\n".join(str(w.message) for w in record)
    for name in ["gray.jpg", "gray16.png", "tiny.png", "fake.png"]:
        assert name in messages, name
    kept = {p.name for p in dm.train_files + dm.val_files}
    assert {"cmyk.jpg", "rgba.png", "palette.png", "upper.JPEG", "rotated.jpg", "truncated.jpg"} <= kept
    assert not kept & {"gray.jpg", "gray16.png", "tiny.png", "fake.png", "notes.txt", "skip.png"}
    assert not set(dm.train_files) & set(dm.val_files)


def test_a_full_epoch_over_messy_data_never_crashes(tmp_path):
    folder = make_messy_folder(tmp_path / "messy")
    dm = ColorizationDataModule(str(folder), image_size=32, batch_size=3, num_workers=0, val_fraction=0.2)
    with pytest.warns(UserWarning):
        dm.setup("fit")
    with pytest.warns(UserWarning, match="truncated.jpg"):  # fails only when decoded: replaced, not fatal
        batches = [dm.on_after_batch_transfer(b, 0) for b in dm.train_dataloader()]
    assert len(batches) == len(dm.train_files) // 3  # drop_last: every full batch arrives
    for batch in batches:
        assert batch["rgb"].shape[1:] == (3, 32, 32) and batch["rgb"].dtype == torch.float32
        assert batch["L"].shape[1] == 1 and batch["ab"].shape[1] == 2 and batch["mask"].shape[1] == 1
        assert 0 <= batch["rgb"].min() and batch["rgb"].max() <= 1
        assert -1 <= batch["L"].min() and batch["L"].max() <= 1
        assert set(batch["mask"].unique().tolist()) <= {0.0, 1.0}


def _truncated_jpeg(path: Path) -> Path:
    """A JPEG whose header is whole (so screening passes it) but whose scan data stops half way."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])  # noisy: long scan data, cut in the middle
    return path


@pytest.mark.parametrize("cache", [False, True, "device"])
def test_a_validation_photo_that_does_not_decode_is_skipped_and_the_next_one_takes_its_place(tmp_path, cache):
    folder = make_image_folder(tmp_path / "images", count=5)
    broken = _truncated_jpeg(folder / "broken.jpg")
    fell_on_validation = 0
    for split_seed in range(6):
        for val_fraction in (0.2, 0.5):  # one validation photo (alone, it stopped the run), then three

            def build(seed=split_seed, fraction=val_fraction):
                dm = ColorizationDataModule(str(folder), image_size=32, batch_size=2, num_workers=0, cache_images=cache,
                                            val_fraction=fraction, split_seed=seed)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    dm.setup("fit")
                    batches = list(dm.val_dataloader())  # raised "none of the 1 images could be decoded"
                return dm, batches, [str(w.message) for w in caught]

            (dm, batches, messages), (again, batches_again, _) = build(), build()
            n_val = round(val_fraction * 6)
            assert len(dm.val_files) == n_val and broken not in dm.val_files
            images = torch.cat([b["image"] for b in batches])
            assert len({image.numpy().tobytes() for image in images}) == len(images) == n_val  # each photo once
            assert torch.equal(torch.cat([b["mask"] for b in batches]), torch.cat([b["mask"] for b in batches_again]))
            assert again.val_files == dm.val_files
            assert len(dm.test_dataloader().dataset) == n_val * len(PROTOCOL_FAMILIES)
            if broken not in dm.train_files:  # it fell on the validation side of the split: skipped, with a warning
                fell_on_validation += 1
                assert any(f"skipping {broken}" in m for m in messages), messages
                assert sorted(dm.train_files + dm.val_files) == sorted(set(folder.iterdir()) - {broken})
    assert fell_on_validation >= 2


def test_split_is_deterministic_and_validation_masks_are_fixed(image_dir):
    def build():
        dm = ColorizationDataModule(str(image_dir), image_size=32, batch_size=2, num_workers=0, val_fraction=0.25)
        dm.setup("fit")
        return dm

    a, b = build(), build()
    torch.manual_seed(123)  # the global seed does not move the split or the validation masks
    assert a.val_files == b.val_files and len(a.val_files) == 2 and len(a.train_files) == 6
    masks_a = torch.cat([batch["mask"] for batch in a.val_dataloader()])
    masks_b = torch.cat([batch["mask"] for batch in b.val_dataloader()])
    assert torch.equal(masks_a, masks_b)


def test_training_batches_get_random_masks_and_crops(image_dir):
    dm = ColorizationDataModule(str(image_dir), image_size=32, batch_size=4, num_workers=0,
                                mask_probabilities={"stripes": 1.0}, cache_images=True)
    dm.setup("fit")
    first, second = [dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0) for _ in range(2)]
    assert not torch.equal(first["mask"], second["mask"])
    assert first["mask"].mean() > 0.1


def test_device_cache_cuts_training_crops_from_the_decoded_images(image_dir):
    dm = ColorizationDataModule(str(image_dir), image_size=32, batch_size=4, num_workers=0, cache_images="device")
    dm.setup("fit")
    loader = dm.train_dataloader()
    raw = next(iter(loader))
    assert set(raw) == {"index"} and loader.num_workers == 0  # the loader ships indices, not pixels
    packed = dm._packed
    dm.train_dataloader()
    assert dm._packed is packed  # decoded once, not again for each loader Lightning asks for
    batch = dm.on_after_batch_transfer(raw, 0)
    assert batch["rgb"].shape == (4, 3, 32, 32) and batch["mask"].shape == (4, 1, 32, 32)
    assert batch["L"].shape == (4, 1, 32, 32) and batch["ab"].shape == (4, 2, 32, 32)
    # each crop (up to the random horizontal flip) is a window of its photo at the loading size
    host = ImageFolderDataset(dm.train_files, 32, train=True)
    for i, rgb in zip(raw["index"].tolist(), batch["rgb"], strict=True):
        crop = (rgb * 255).round().to(torch.uint8)
        image = host._decode(i)
        windows = image.unfold(1, 32, 1).unfold(2, 32, 1)  # (3, nh, nw, 32, 32)
        match = (windows == crop[:, None, None]).all(-1).all(-1).all(0)
        flipped = (windows == crop.flip(-1)[:, None, None]).all(-1).all(-1).all(0)
        assert bool(match.any() or flipped.any())
    with pytest.raises(ValueError, match="cache_images"):
        ColorizationDataModule(str(image_dir), cache_images="gpu")


def test_on_after_batch_transfer_converts_to_lab():
    dm = ColorizationDataModule("unused", image_size=8, batch_size=2)
    image = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    image[:, 0] = 255  # pure red
    out = dm.on_after_batch_transfer({"image": image, "mask": torch.ones(2, 1, 8, 8, dtype=torch.uint8)}, 0)
    assert torch.allclose(out["ab"][:, :, 0, 0] * 110, torch.tensor([80.09, 67.20]).expand(2, 2), atol=0.1)
    assert torch.equal(out["mask"], torch.ones(2, 1, 8, 8))


def test_empty_and_missing_folders_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ColorganError, match="no images found"):
        ColorizationDataModule(str(tmp_path / "empty"), image_size=32).setup("fit")
    with pytest.raises(ColorganError, match="does not exist"):
        ColorizationDataModule(str(tmp_path / "nope"), image_size=32).setup("fit")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(ColorganError, match="usable color photo"), pytest.warns(UserWarning):
        ColorizationDataModule(str(tmp_path / "bad"), image_size=32).setup("fit")


def test_flowers_offline_gives_one_clear_sentence(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(ColorganError) as error:
        resolve_data_dir("flowers102", str(tmp_path), download=True)
    message = str(error.value)
    assert "Oxford Flowers 102 not found" in message and "unreachable" in message
    assert str(tmp_path / "flowers-102" / "jpg") in message and "\n" not in message
    with pytest.raises(ColorganError, match="Oxford Flowers 17 not found"):
        resolve_data_dir("flowers17", str(tmp_path), download=False)


def test_flowers_files_in_place_are_used_without_download(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("must not touch the network"))
    make_image_folder(tmp_path / "flowers-102" / "jpg", count=3)
    assert resolve_data_dir("flowers102", str(tmp_path)) == tmp_path / "flowers-102"
    dm = ColorizationDataModule(str(tmp_path), dataset="flowers102", image_size=32)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_files) + len(dm.val_files) == 3


def test_bundled_sample_photos_have_credits():
    dm = ColorizationDataModule(dataset="samples", image_size=64)
    dm.setup("fit")
    photos = find_images(resolve_data_dir("samples", None))
    assert len(photos) >= 20 and len(dm.train_files) + len(dm.val_files) == len(photos)
    import csv

    with open(photos[0].parent / "credits.csv", newline="") as f:
        credits = {row["file"]: row for row in csv.DictReader(f)}
    for photo in photos:
        row = credits.get(photo.name)
        assert row and row["author"] and row["license"] and row["source"], photo.name


def test_desaturate_scales_the_chroma_of_training_crops_only(image_dir):
    def transfer(desaturate: float, items: dict) -> dict:
        dm = ColorizationDataModule(str(image_dir), image_size=32, batch_size=4, num_workers=0,
                                    desaturate=desaturate)
        torch.manual_seed(0)  # the same flips and masks for both modules
        return dm.on_after_batch_transfer(dict(items), 0)

    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    plain, desaturated = transfer(0.0, {"image": images}), transfer(0.5, {"image": images})
    assert torch.equal(plain["L"], desaturated["L"])
    chroma = plain["ab"].abs().mean((1, 2, 3)), desaturated["ab"].abs().mean((1, 2, 3))
    scaled = chroma[1] < chroma[0] - 1e-6
    assert 16 < scaled.sum() < 48 and torch.equal(chroma[0][~scaled], chroma[1][~scaled])  # about half of them
    assert torch.all(chroma[1] <= chroma[0] + 1e-6)
    mask = torch.ones(64, 1, 32, 32, dtype=torch.uint8)  # validation and test items carry their masks: untouched
    held_out = {"image": images, "mask": mask}
    assert torch.equal(transfer(1.0, held_out)["ab"], transfer(0.0, held_out)["ab"])
    with pytest.raises(ValueError, match="desaturate"):
        ColorizationDataModule(str(image_dir), desaturate=1.5)


def test_zoomed_crops_take_squares_from_the_full_view_down_to_a_detail():
    ramp = torch.arange(64.0).repeat(256, 1, 64, 1)  # value = column: the slope of a crop is its side / output side
    crops = zoomed_crops(ramp, 32)
    steps = (crops[..., 1:] - crops[..., :-1])[..., 1:-1]  # the outermost samples may clamp at the window's edge
    slopes = steps.mean((1, 2, 3))
    assert crops.shape == (256, 1, 32, 32) and torch.allclose(steps, slopes[:, None, None, None], atol=0.01)
    assert 1 - 1e-4 <= slopes.min() and slopes.max() <= 2 + 1e-4 and slopes.max() - slopes.min() > 0.8  # 32 to 64 px
    assert crops.min() >= 0 and crops.max() <= 63  # inside the window


def test_zoom_loads_larger_windows_and_crops_them_to_the_image_size(image_dir):
    for cache in (True, "device"):
        dm = ColorizationDataModule(str(image_dir), image_size=16, batch_size=4, num_workers=0, zoom=2.0,
                                    cache_images=cache)
        dm.setup("fit")
        raw = next(iter(dm.train_dataloader()))
        if cache is True:
            assert raw["image"].shape[-2:] == (32, 32)  # windows of zoom * image_size
        batch = dm.on_after_batch_transfer(raw, 0)
        assert batch["L"].shape == (4, 1, 16, 16) and batch["ab"].shape == (4, 2, 16, 16)
        assert batch["mask"].shape == (4, 1, 16, 16)
    val = next(iter(dm.val_dataloader()))
    assert val["image"].shape[-2:] == (16, 16)  # validation keeps the full view at image_size
    with pytest.raises(ValueError, match="zoom"):
        ColorizationDataModule(str(image_dir), zoom=0.5)
