"""``colorgan prepare`` and ``--data.dataset streaming``: LitData shards written, trained on across processes, resumed
mid-epoch, and refused in one line when damaged."""

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, make_image_folder, make_messy_folder

from colorgan.cli import main
from colorgan.evaluation.protocol import PROTOCOL_FAMILIES
from colorgan.masks import MaskSampler
from colorgan.shards import ShardImages, check_shards, prepare
from colorgan.training.data import ColorizationDataModule

pytest.importorskip("litdata", reason="the streaming extra: pip install -e '.[dev]'")

TINY = str(CONFIGS / "tiny.yaml")
HERE = Path(__file__).resolve().parent  # shard_ids.py: the callbacks the fits below add by class path


def _shards(root: Path, count: int, val_fraction: float = 0.1) -> Path:
    """``count`` 40x40 photos prepared for 32 px crops, in chunks of a few photos (so shuffling has chunks to
    shuffle and ranks and workers have chunks to share)."""
    photos = make_image_folder(root / "photos", count=count, size=(40, 40), seed=5)
    prepare(photos, root / "shards", image_size=32, val_fraction=val_fraction, chunk_bytes="8kb", progress=False)
    return root / "shards"


def _fit(shards: Path, *extra: str) -> list[str]:
    return ["fit", "--config", TINY, "--data.dataset", "streaming", "--data.data_dir", str(shards),
            "--trainer.limit_train_batches", "null", *extra]


def _ids(path: Path) -> list[tuple[int, int, int]]:
    """(epoch, rank, id) of every photo trained on, in the order trained."""
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines()]


def _record(path: Path) -> list[str]:
    return ["--trainer.callbacks+=shard_ids.RecordIds", "--trainer.callbacks.path", str(path)]


@pytest.fixture
def callbacks_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def test_prepare_writes_a_fixed_split_and_skips_bad_files_naming_each(tmp_path, capsys):
    messy = make_messy_folder(tmp_path / "messy")
    assert main(["prepare", str(messy), str(tmp_path / "shards"), "--image-size", "32", "--val-fraction", "0.2",
                 "--no-progress"]) == 0
    captured = capsys.readouterr()
    for name in ["gray.jpg", "gray16.png", "tiny.png", "fake.png", "truncated.jpg"]:
        assert f"colorgan: warning: skipping {messy / name}" in captured.err, name
    counts = re.search(r"train: (\d+) photos, .* val: (\d+) photos, .*; skipped 5 \(listed above\)", captured.out)
    assert counts and int(counts[1]) + int(counts[2]) == 11, captured.out  # bad files are skipped in either split
    train = ShardImages(str(tmp_path / "shards" / "train"), 32)
    val = ShardImages(str(tmp_path / "shards" / "val"), 32, MaskSampler())
    names = set(train.names()) | set(val.names())
    assert names == {"cmyk.jpg", "rgba.png", "palette.png", "upper.JPEG", "rotated.jpg"} | {
        f"good/photo_{i:02d}.png" for i in range(6)}
    assert [int(train.raw(i)["id"]) for i in range(len(train))] == list(range(len(train)))
    stored = train.raw(0)
    assert min(stored["height"], stored["width"]) == 36  # 1.125 x 32: random crops are cut from it
    item = val[0]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.uint8 and item["mask"].shape[0] == 1
    # the same split again, and no overwriting without --overwrite
    assert main(["prepare", str(messy), str(tmp_path / "shards"), "--no-progress"]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert main(["prepare", str(messy), str(tmp_path / "again"), "--image-size", "32", "--val-fraction", "0.2",
                 "--no-progress", "--format", "raw"]) == 0
    assert set(ShardImages(str(tmp_path / "again" / "val"), 32).names()) == set(val.names())


def test_batches_from_shards_are_what_the_module_expects(tmp_path):
    shards = _shards(tmp_path, count=10, val_fraction=0.2)
    dm = ColorizationDataModule(str(shards), dataset="streaming", image_size=32, batch_size=3, num_workers=0)
    dm.setup("fit")
    batches = [dm.on_after_batch_transfer(batch, 0) for batch in dm.train_dataloader()]
    assert sorted(torch.cat([b["id"] for b in batches]).tolist()) == list(range(8))  # each photo once
    for batch in batches:
        assert batch["rgb"].shape[1:] == (3, 32, 32) and batch["mask"].shape[1] == 1 and batch["ab"].shape[1] == 2
    val = [dm.on_after_batch_transfer(batch, 0) for batch in dm.val_dataloader()]
    again = [dm.on_after_batch_transfer(batch, 0) for batch in dm.val_dataloader()]
    assert torch.equal(val[0]["mask"], again[0]["mask"]) and torch.equal(val[0]["rgb"], again[0]["rgb"])
    assert len(dm.test_dataloader().dataset) == 2 * len(PROTOCOL_FAMILIES)


@pytest.mark.parametrize("kill", [False, True], ids=["ctrl-c", "kill"])
def test_a_fit_stopped_mid_epoch_resumes_without_repeating_or_losing_a_photo(kill, tmp_path, workdir,
                                                                             callbacks_on_path):
    """Stopped before its 4th batch of 7: by Ctrl-C, which saves last.ckpt there, or by a kill, after last.ckpt was
    saved at the end of the 3rd batch (``last_every_minutes``, here after every batch)."""
    shards = _shards(tmp_path, count=14)  # 13 training photos: 7 batches of 2, the last one short
    common = ["--trainer.max_epochs", "2", "--data.num_workers", "2" if kill else "0"]  # both ways of reading
    stop = ["--trainer.callbacks+=shard_ids.InterruptAt", "--trainer.callbacks.epoch", "0",
            "--trainer.callbacks.batch", "3", "--trainer.callbacks.kill", str(kill).lower()]
    often = ["--checkpoint.last_every_minutes", "1e-9"] if kill else []
    handler = signal.getsignal(signal.SIGINT)  # Lightning ignores SIGINT from a Ctrl-C on: not in this test process
    try:
        with pytest.raises(SystemExit):
            main(_fit(shards, *common, *stop, *often, *_record(tmp_path / "before.txt")))
    finally:
        signal.signal(signal.SIGINT, handler)
    assert main(_fit(shards, *common, *_record(tmp_path / "after.txt"), "--ckpt_path", "last")) == 0
    before, after = _ids(tmp_path / "before.txt"), _ids(tmp_path / "after.txt")
    assert len(before) == 6  # three batches trained on, all in last.ckpt
    epoch0 = [i for e, _, i in before + after if e == 0]
    epoch1 = [i for e, _, i in after if e == 1]
    assert sorted(epoch0) == sorted(epoch1) == list(range(13))  # each photo once in each epoch
    checkpoint = torch.load(workdir / "runs/tiny/version_0/checkpoints/last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 2 * 14  # 7 batches per epoch, a D and a G step each
    # ... in the order of a fit that was never stopped, the next epoch shuffled anew (not a replay of the first)
    assert main(_fit(shards, *common, *_record(tmp_path / "whole.txt"), "--trainer.logger.init_args.name", "x")) == 0
    assert epoch0 + epoch1 == [i for _, _, i in _ids(tmp_path / "whole.txt")] and epoch0 != epoch1


@pytest.mark.slow
def test_two_processes_see_each_photo_exactly_once_per_epoch(tmp_path, workdir):
    shards = _shards(tmp_path, count=18)  # 16 training photos: 4 batches of 2 on each of 2 processes
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])}
    fit = _fit(shards, "--trainer.devices", "2", "--trainer.max_epochs", "2", "--data.num_workers", "1",
               *_record(tmp_path / "ids.txt"))
    command = [sys.executable, "-m", "colorgan.cli", *fit]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MEMBER: 2/2" in result.stderr + result.stdout
    seen = _ids(tmp_path / "ids.txt")
    for epoch in (0, 1):
        ids = [i for e, _, i in seen if e == epoch]
        assert sorted(ids) == list(range(16)), (epoch, Counter(ids))
        assert Counter(r for e, r, _ in seen if e == epoch) == {0: 8, 1: 8}


# --- bad input: one line, never a traceback -----------------------------------------------------------------------


def _damage_chunk(shards: Path) -> str:
    chunk = sorted((shards / "train").glob("chunk-*.bin"))[0]
    chunk.write_bytes(chunk.read_bytes()[:-100])
    return "is damaged ("


def _damage_index(shards: Path) -> str:
    (shards / "val" / "index.json").write_text('{"chunks": [')
    return "index.json is damaged"


def _empty_folder(shards: Path) -> str:
    for path in (shards / "train").iterdir():
        path.unlink()
    return "has no index.json: it is not a shard folder"


def _missing_folder(shards: Path) -> str:
    (shards / "train").rename(shards / "elsewhere")
    return "train does not exist; write it with colorgan prepare"


def _missing_chunk(shards: Path) -> str:
    sorted((shards / "train").glob("chunk-*.bin"))[-1].unlink()
    return "is missing; run colorgan prepare again"


def _photo_that_does_not_decode(shards: Path) -> str:
    for chunk in (shards / "train").glob("chunk-*.bin"):  # same sizes, but no JPEG starts where one should
        chunk.write_bytes(chunk.read_bytes().replace(b"\xff\xd8\xff", b"\x00\x00\x00"))
    return "does not decode"


@pytest.mark.parametrize("damage", [_damage_chunk, _damage_index, _empty_folder, _missing_folder, _missing_chunk,
                                    _photo_that_does_not_decode])
def test_damaged_or_missing_shards_are_one_line(damage, tmp_path, workdir, capsys):
    shards = _shards(tmp_path, count=6, val_fraction=0.2)
    expected = damage(shards)
    assert main(_fit(shards)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("colorgan: error:")]
    assert len(errors) == 1 and expected in errors[0], err[-2000:]


def test_missing_data_dir_and_missing_litdata_are_one_line(tmp_path, workdir, capsys, monkeypatch):
    assert main(_fit(tmp_path / "nowhere")) == 2
    assert "nowhere/train does not exist" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "litdata", None)  # import litdata now raises ImportError
    assert main(_fit(tmp_path / "nowhere")) == 2
    assert main(["prepare", str(tmp_path), str(tmp_path / "shards")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["colorgan: error: streaming shards need LitData: pip install 'colorgan[streaming]' (or pip "
                   "install litdata)"] * 2


def test_check_shards_counts_the_photos(tmp_path):
    shards = _shards(tmp_path, count=10, val_fraction=0.2)
    assert check_shards(shards / "train") == 8 and check_shards(shards / "val") == 2
    index = json.loads((shards / "train" / "index.json").read_text())
    assert len(index["chunks"]) > 1  # several chunks, as the tests above assume
