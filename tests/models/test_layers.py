"""colorgan.models.layers: the constructor-argument record and the shared building blocks."""

import torch
from torch import nn

from colorgan.models.layers import RebuildableModule, apply_mask, network_spec, stack_inputs, width_ladder


class Base(RebuildableModule):
    def __init__(self, width: int = 4, norm: str = "batch") -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, width, 1)


class Child(Base):
    spec_overrides = {"pretrained": False}

    def __init__(self, pretrained: bool = True, depth: int = 2) -> None:
        super().__init__(width=8)
        self.depth = depth


class Inherits(Base):  # no __init__ of its own: records Base's arguments
    pass


def test_the_outermost_constructor_is_recorded_with_defaults_and_overrides() -> None:
    assert Base(6).config == {"width": 6, "norm": "batch"}
    assert Child(depth=3).config == {"pretrained": False, "depth": 3}  # Base's own record is replaced
    assert Inherits(width=2).config == {"width": 2, "norm": "batch"}


def test_network_spec_rebuilds_the_same_class() -> None:
    net = Child(True, 5)
    spec = network_spec(net)
    assert spec == {"class_path": f"{__name__}.Child", "init_args": {"pretrained": False, "depth": 5}}
    rebuilt = Child(**spec["init_args"])
    rebuilt.load_state_dict(net.state_dict())
    assert network_spec(nn.Conv2d(1, 1, 1)) is None  # a module that records nothing


def test_the_recorded_signature_is_the_constructor_s() -> None:
    import inspect

    assert list(inspect.signature(Child).parameters) == ["pretrained", "depth"]  # what jsonargparse reads


def test_blocks() -> None:
    assert width_ladder(16, 64, 5) == [16, 32, 64, 64, 64]
    L, mask = torch.rand(2, 1, 4, 4), (torch.rand(2, 1, 4, 4) > 0.5).float()  # noqa: N806
    assert stack_inputs(L, mask, torch.rand(2, 3, 4, 4)).shape == (2, 5, 4, 4)
    ab = apply_mask(torch.rand(2, 2, 4, 4) + 0.1, mask)
    assert torch.all((ab == 0) == (mask == 0).expand_as(ab))

