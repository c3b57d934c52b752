"""Hint sampling and explicit hints (colorgan/hints.py): counts, placement inside the mask, values, layout."""

import inspect
import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from colorgan import hints
from colorgan.errors import ColorganError
from colorgan.hints import (
    USER_HINT_SIZE,
    Hint,
    UserHint,
    color_ab,
    hint_counts,
    hints_from_points,
    load_hints,
    paint_hints,
    parse_hint,
    place_hints,
    sample_hints,
)


def _truth(batch: int = 2, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth random ab and a mask with its left half (minus a notch) on, (B, 2, H, W) and (B, 1, H, W)."""
    g = torch.Generator().manual_seed(seed)
    ab = F.interpolate(torch.rand(batch, 2, 4, 4, generator=g) - 0.5, size=(size, size), mode="bilinear")
    mask = torch.zeros(batch, 1, size, size)
    mask[..., : size // 2] = 1.0
    mask[..., :4, :4] = 0.0
    return ab, mask


class TestHintCounts:
    def test_geometric_mean_and_share_without_hints(self) -> None:
        counts = hint_counts(20_000, p=1 / 8, max_count=1000, generator=torch.Generator().manual_seed(0)).float()
        assert abs(counts.mean().item() - 7.0) < 0.25  # (1 - p) / p
        assert abs((counts == 0).float().mean().item() - 1 / 8) < 0.01

    def test_capped(self) -> None:
        counts = hint_counts(1000, p=0.01, max_count=5, generator=torch.Generator().manual_seed(0))
        assert counts.max().item() == 5 and counts.min().item() >= 0

    def test_bad_p(self) -> None:
        with pytest.raises(ValueError, match="in \\(0, 1\\]"):
            hint_counts(2, p=0.0)


class TestSampleHints:
    def test_layout_and_inside_mask(self) -> None:
        ab, mask = _truth()
        condition = sample_hints(ab, mask, count=20, generator=torch.Generator().manual_seed(1))
        assert condition.shape == (2, 3, 32, 32)
        hinted = condition[:, 2:] > 0
        assert hinted.any(dim=(1, 2, 3)).all()
        assert not (hinted & (mask == 0)).any()  # every hinted pixel inside the mask
        assert (condition[:, :2][~hinted.expand(-1, 2, -1, -1)] == 0).all()
        assert set(condition[:, 2].unique().tolist()) == {0.0, 1.0}

    def test_values_are_the_truths_patch_means(self) -> None:
        ab, mask = _truth(batch=1)
        condition = sample_hints(ab, mask, count=1, sizes=(3,), generator=torch.Generator().manual_seed(2))
        hinted = condition[0, 2] > 0
        rows, cols = hinted.nonzero(as_tuple=True)
        assert 1 <= len(rows) <= 9 and rows.max() - rows.min() <= 2 and cols.max() - cols.min() <= 2
        expected = ab[0][:, hinted].mean(dim=1)  # the patch lies inside the mask: its mean over the hinted pixels
        assert torch.allclose(condition[0, :2][:, hinted], expected[:, None].expand(-1, len(rows)), atol=1e-6)

    def test_zero_hints_is_all_zero(self) -> None:
        ab, mask = _truth()
        assert (sample_hints(ab, mask, count=0) == 0).all()
        assert (sample_hints(ab, mask, p=1.0) == 0).all()

    def test_all_gray_mask_gets_no_hints(self) -> None:
        ab, mask = _truth()
        assert (sample_hints(ab, torch.zeros_like(mask), count=10) == 0).all()

    def test_per_image_counts_and_seed(self) -> None:
        ab, mask = _truth()
        condition = sample_hints(ab, mask, count=torch.tensor([0, 3]), sizes=(1,),
                                 generator=torch.Generator().manual_seed(3))
        pixels = condition[:, 2].flatten(1).sum(dim=1)
        assert pixels[0] == 0 and 1 <= pixels[1] <= 3
        again = sample_hints(ab, mask, count=torch.tensor([0, 3]), sizes=(1,),
                             generator=torch.Generator().manual_seed(3))
        assert torch.equal(condition, again)

    def test_no_host_sync_in_the_source(self) -> None:
        source = inspect.getsource(hints)
        assert ".item()" not in source and ".tolist()" not in source.replace("hint_counts(3, p=1.0).tolist()", "")


class TestHintsFromPoints:
    def test_patch_color_and_clipping(self) -> None:
        _, mask = _truth(batch=2)
        condition = hints_from_points([Hint(row=12, col=15, ab=(0.3, -0.2), size=5)], mask)
        hinted = condition[:, 2] > 0
        assert torch.equal(hinted[0], hinted[1])
        # rows 10-14, columns 13-15: the patch is clipped where the mask (columns < 16) ends
        assert hinted[0].sum() == 5 * 3 and hinted[0, 10:15, 13:16].all()
        corner = hints_from_points([Hint(row=0, col=31, ab=(0.3, -0.2), size=4)], torch.ones(1, 1, 32, 32))
        assert corner[0, 2].sum() == 3 * 2 and corner[0, 2, :3, 30:].all()  # rows -1..2, columns 30..33, clipped
        assert torch.allclose(condition[0, 0][hinted[0]], torch.tensor(0.3))
        assert torch.allclose(condition[0, 1][hinted[0]], torch.tensor(-0.2))

    def test_outside_mask_or_image_dropped(self) -> None:
        _, mask = _truth(batch=1)
        outside = [Hint(row=10, col=20, ab=(0.3, 0.3)), Hint(row=1, col=1, ab=(0.3, 0.3)),
                   Hint(row=40, col=3, ab=(0.3, 0.3))]
        assert (hints_from_points(outside, mask) == 0).all()
        assert (hints_from_points([], mask) == 0).all()

    def test_overlapping_patches_average(self) -> None:
        mask = torch.ones(1, 1, 16, 16)
        condition = hints_from_points([Hint(5, 5, (0.4, 0.0), 2), Hint(6, 6, (0.0, 0.2), 2)], mask)  # 5-6, 6-7
        assert condition[0, 2].sum() == 7
        assert torch.allclose(condition[0, :2, 6, 6], torch.tensor([0.2, 0.1]))

    def test_paint_needs_one_source(self) -> None:
        mask = torch.ones(1, 1, 8, 8)
        index = torch.zeros(1, 1, dtype=torch.long)
        with pytest.raises(ValueError, match="exactly one"):
            paint_hints(mask, index, index, index + 1, index == 0)


class TestParseHint:
    def test_pixels_fractions_and_size(self) -> None:
        assert parse_hint("120,80,red") == UserHint(120, 80, "red", USER_HINT_SIZE)
        assert parse_hint(" 0.25 , 1.0 ,#00ff00, 3") == UserHint(0.25, 1.0, "#00ff00", 3)
        assert isinstance(parse_hint("0,1,red").y, int)  # no point: pixels

    def test_colors_become_their_ab(self) -> None:
        red, blue = color_ab("red"), color_ab("#0000ff")
        assert red[0] > 0.5 and red[1] > 0.4  # red: a* and b* both positive
        assert blue[1] < -0.8  # blue: b* strongly negative
        assert color_ab((255, 0, 0)) == red
        assert max(map(abs, color_ab("gray"))) < 1e-3

    @pytest.mark.parametrize(("text", "message"), [
        ("1,2", "a hint is X,Y,COLOR[,SIZE]"),
        ("1,2,red,3,4", "a hint is X,Y,COLOR[,SIZE]"),
        ("a,2,red", "X must be a pixel"),
        ("1,-2,red", "Y must be a pixel >= 0"),
        ("1.5,2,red", "X 1.5 has a point, so it is a fraction"),
        ("1,2,reddish", "unknown color 'reddish'"),
        ("1,2,red,0", "SIZE must be a whole number of pixels >= 1"),
        ("1,2,red,big", "SIZE must be a whole number"),
    ])
    def test_bad_input_is_one_line(self, text: str, message: str) -> None:
        with pytest.raises(ValueError, match=re.escape(message)) as caught:
            parse_hint(text)
        assert "\n" not in str(caught.value)

    def test_json_file(self, tmp_path: Path) -> None:
        path = tmp_path / "hints.json"
        path.write_text(json.dumps([{"x": 3, "y": 0.5, "color": "blue"}, "1,2,#ff0000,7",
                                    {"x": 1, "y": 1, "color": [0, 255, 0], "size": 2}]))
        assert load_hints(path) == [UserHint(3, 0.5, "blue"), UserHint(1, 2, "#ff0000", 7),
                                    UserHint(1, 1, (0, 255, 0), 2)]
        path.write_text('[{"x": 3, "color": "blue"}]')
        with pytest.raises(ColorganError, match="hints file .*hints.json: a hint object has x, y, color"):
            load_hints(path)
        path.write_text("{")
        with pytest.raises(ColorganError, match="cannot read hints file"):
            load_hints(path)


def test_place_hints_scales_to_the_working_size_and_reports_the_others() -> None:
    mask = torch.zeros(1, 1, 40, 80)
    mask[..., :, :40] = 1.0
    hints = [UserHint(20, 10, "red"), UserHint(0.25, 0.5, "blue", 3), UserHint(60, 10, "red"),
             UserHint(100, 10, "red"), UserHint(1.0, 1.0, "red")]
    placed, ignored = place_hints(hints, mask, (20, 40))
    assert placed == [Hint(5, 10, color_ab("red"), USER_HINT_SIZE), Hint(10, 10, color_ab("blue"), 3)]
    assert [(str(h), reason) for h, reason in ignored] == [
        ("60,10,red,5", "outside the mask"), ("100,10,red,5", "outside the 80x40 image"),
        ("1.0,1.0,red,5", "outside the mask")]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="host syncs exist only with an accelerator")
def test_sampling_runs_without_host_sync() -> None:
    ab, mask = (t.cuda() for t in _truth())
    generator = torch.Generator(device="cuda").manual_seed(0)
    torch.cuda.set_sync_debug_mode("error")
    try:
        condition = sample_hints(ab, mask, generator=generator)
        fixed = sample_hints(ab, mask, count=5, generator=generator)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert condition.device.type == "cuda" and fixed[:, 2].sum() > 0
