import pytest
import torch

from colorgan.models import PatchDiscriminator, UNetGenerator


def _inputs(batch=2, h=32, w=32):
    L = torch.rand(batch, 1, h, w) * 2 - 1
    mask = (torch.rand(batch, 1, h, w) > 0.5).float()
    return L, mask


@pytest.mark.parametrize("norm", ["batch", "instance", "group", "none"])
def test_generator_shape_range_and_exact_gray_outside_mask(norm):
    G = UNetGenerator(base_channels=4, depth=3, max_channels=16, norm=norm)
    L, mask = _inputs(h=37, w=45)  # not a multiple of 2**depth: padded and cropped back
    ab = G(L, mask)
    assert ab.shape == (2, 2, 37, 45)
    assert ab.abs().max() <= 1
    assert torch.all(ab[mask.expand_as(ab) == 0] == 0)  # exactly gray, not approximately
    assert ab[mask.expand_as(ab) == 1].abs().sum() > 0


def test_generator_soft_mask_scales_chroma():
    G = UNetGenerator(base_channels=4, depth=2, norm="none").eval()
    L = torch.rand(1, 1, 16, 16)
    full, half = G(L, torch.ones_like(L)), G(L, torch.full_like(L, 0.5))
    assert torch.all(G(L, torch.zeros_like(L)) == 0)
    assert half.abs().sum() > 0 and not torch.allclose(half, full)


def test_mask_changes_the_output_inside_the_mask():
    G = UNetGenerator(base_channels=4, depth=3, max_channels=16).eval()
    L = torch.rand(1, 1, 32, 32)
    left = torch.zeros_like(L)
    left[..., :16] = 1
    with torch.no_grad():
        a, b = G(L, left), G(L, torch.ones_like(L))
    # same pixels colored in both, but the network sees the mask: colors differ, not just the masking
    assert not torch.allclose(a[..., :16], b[..., :16])


def _assert_every_parameter_has_gradient(module):
    missing = [name for name, p in module.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, f"parameters without gradient: {missing}"


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_every_generator_parameter_gets_a_gradient(norm):
    G = UNetGenerator(base_channels=4, depth=3, max_channels=16, norm=norm, dropout=0.5)
    L, mask = _inputs()
    ab = G(L, mask)
    assert torch.isfinite(ab).all()
    (ab * torch.randn_like(ab)).sum().backward()
    _assert_every_parameter_has_gradient(G)


@pytest.mark.parametrize(("norm", "spectral"), [("instance", False), ("layer", False), ("batch", False),
                                                ("none", True)])
def test_discriminator_patch_output_and_gradients(norm, spectral):
    D = PatchDiscriminator(base_channels=4, num_layers=3, max_channels=16, norm=norm, spectral_norm=spectral)
    L, mask = _inputs(h=64, w=64)
    logits = D(L, torch.rand(2, 2, 64, 64) - 0.5, mask)
    assert logits.shape == (2, 1, 6, 6)  # 64 -> 32 -> 16 -> 8 -> 7 -> 6: a patch of logits
    (logits * torch.randn_like(logits)).sum().backward()
    _assert_every_parameter_has_gradient(D)


def test_discriminator_sees_the_mask():
    D = PatchDiscriminator(base_channels=4, num_layers=2, norm="none").eval()
    L, ab = torch.rand(1, 1, 32, 32), torch.rand(1, 2, 32, 32)
    assert not torch.allclose(D(L, ab, torch.ones_like(L)), D(L, ab, torch.zeros_like(L)))


def test_condition_channels_and_clear_shape_errors():
    G = UNetGenerator(base_channels=4, depth=2, condition_channels=3)
    L, mask = _inputs(h=16, w=16)
    assert G(L, mask, torch.rand(2, 3, 16, 16)).shape == (2, 2, 16, 16)
    with pytest.raises(ValueError, match="condition channels"):
        G(L, mask)
    with pytest.raises(ValueError, match="mask must have the shape of L"):
        UNetGenerator(base_channels=4, depth=2)(L, mask[..., :8])


def test_config_rebuilds_the_same_architecture():
    G = UNetGenerator(base_channels=4, depth=3, max_channels=16, norm="instance")
    clone = UNetGenerator(**G.config)
    clone.load_state_dict(G.state_dict())  # strict: same parameter names and shapes
    D = PatchDiscriminator(base_channels=4, spectral_norm=True)
    PatchDiscriminator(**D.config).load_state_dict(D.state_dict())
